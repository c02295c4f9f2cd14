#!/usr/bin/env bash
# Runs every test of rtmp_core, as CI does: installs the real peers the interop tests
# talk to, checks formatting, lints and the generated C header, then runs the unit,
# property, fixture, corpus-replay and interop tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test peers (ffmpeg, rtmpdump, nginx-rtmp, GStreamer, venv)"
bash scripts/install-test-deps.sh
export PATH="$PWD/target/test-venv/bin:$PATH"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

step "cargo test"
# The C tests link target/debug/librtmp_core.{so,a}, which only a build of the library
# itself (not of its tests) refreshes.
cargo build --lib
cargo test --all-targets
cargo test --doc

step "Python module: pip install ./bindings/python, then pytest against the installed wheel"
# A fresh build of this tree every run (pip would keep an installed 0.1.0 otherwise).
python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps ./bindings/python
(cd bindings/python && python -m pytest -q -p no:cacheprovider)

step "include/rtmp_core.h is current"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git diff --exit-code -- include/rtmp_core.h ||
        { echo "include/rtmp_core.h is stale: build, then commit the regenerated header" >&2; exit 1; }
fi

echo
echo "all tests passed"
