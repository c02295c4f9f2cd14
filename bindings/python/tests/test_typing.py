"""The hand-written stub matches the native module, and the package type-checks."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300)


def test_stub_matches_the_native_module():
    result = run("mypy.stubtest", "rtmp_core._native")
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_type_checks():
    result = run("mypy", "--no-incremental", "-p", "rtmp_core")
    assert result.returncode == 0, result.stdout + result.stderr
