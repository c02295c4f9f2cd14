"""Shared fixtures: real peers (Debian's ffmpeg), generated media, free ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (scripts/install-test-deps.sh installs it)")
    return path


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return need("ffmpeg")


@pytest.fixture(scope="session")
def ffmpeg9() -> str:
    """A modern static ffmpeg (imageio-ffmpeg) that reads Enhanced RTMP v2 multitrack."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


def packet_counts(path: Path) -> Dict[str, int]:
    """Video and audio packets in a media file, by ffprobe."""
    out = subprocess.run(
        [need("ffprobe"), "-v", "error", "-show_entries", "packet=codec_type", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts = {"video": 0, "audio": 0}
    for packet in json.loads(out).get("packets", []):
        counts[packet["codec_type"]] = counts.get(packet["codec_type"], 0) + 1
    return counts


def decode_errors(path: Path) -> str:
    """What ffmpeg prints while decoding the whole file at error level ("" when clean)."""
    result = subprocess.run(
        [need("ffmpeg"), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stderr.strip() + ("" if result.returncode == 0 else f" (exit {result.returncode})")


@pytest.fixture(scope="session")
def source_flv(ffmpeg: str, media_dir: Path) -> Tuple[Path, Dict[str, int]]:
    """6 s of 320x240 30 fps H.264 (keyframe every second) and 44.1 kHz AAC, as FLV."""
    path = media_dir / "source.flv"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
         "-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-bf", "0",
         "-b:v", "500k", "-c:a", "aac", "-b:a", "64k", "-f", "flv", str(path)],
        check=True,
    )
    return path, packet_counts(path)


@pytest.fixture(scope="session")
def elementary(ffmpeg: str, media_dir: Path) -> Tuple[Path, Path]:
    """4 s of raw H.264 Annex-B (no B-frames, 25 fps) and AAC in ADTS (48 kHz), as an
    encoder would hand them over."""
    video, audio = media_dir / "video.h264", media_dir / "audio.aac"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
         "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0",
         "-f", "h264", str(video)],
        check=True,
    )
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", "4", "-c:a", "aac", "-b:a", "64k", "-f", "adts", str(audio)],
        check=True,
    )
    return video, audio


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args: List[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_example(name: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return spawn([sys.executable, str(EXAMPLES / name), *args], env=env)
