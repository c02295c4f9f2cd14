"""The examples run as a user would run them."""

from __future__ import annotations

import re
import signal
import subprocess
import time

from conftest import free_port, run_example


def wait_for_line(proc, pattern, timeout=15.0):
    """Reads the process's stdout until a line matches; returns the lines read."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} in {lines}; stderr: {proc.stderr.read()}")


def test_server_example_counts_what_ffmpeg_published_and_stops_on_ctrl_c(ffmpeg, source_flv):
    source, expected = source_flv
    port = free_port()
    server = run_example("server.py", "--listen", f"127.0.0.1:{port}")
    try:
        wait_for_line(server, r"^listening on rtmp://127\.0\.0\.1:\d+$")
        url = f"rtmp://127.0.0.1:{port}/live/example"
        subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-c", "copy", "-f", "flv", url],
                       check=True, timeout=60)
        # + 1 video: the end-of-sequence tag ffmpeg's FLV muxer sends after H.264.
        lines = wait_for_line(server, r"^unpublish ")
        assert lines[-1] == f"unpublish live/example video={expected['video'] + 1} audio={expected['audio']}"
        assert any(line.startswith("connect ") for line in lines)
        assert any(line.startswith("publish ") and "live/example (live)" in line for line in lines)
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=15)
        assert server.returncode == 0, err
        assert out.rstrip().endswith("stopped")
        assert "Traceback" not in err
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_publish_and_play_examples(elementary):
    video, audio = elementary
    port = free_port()
    server = run_example("server.py", "--listen", f"127.0.0.1:{port}")
    try:
        wait_for_line(server, r"^listening on ")
        url = f"rtmp://127.0.0.1:{port}/live/ex"
        player = run_example("play.py", url, "--quiet")
        wait_for_line(server, r"^play ")
        publisher = run_example("publish.py", str(video), str(audio), url, "--fps", "25")
        out, err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, err
        published = re.search(r"published video=(\d+) audio=(\d+) sent=\d+ dropped=0", out)
        assert published, out
        video_n, audio_n = published.groups()
        lines = wait_for_line(server, r"^unpublish ")
        assert lines[-1] == f"unpublish live/ex video={video_n} audio={audio_n}"
        out, err = player.communicate(timeout=30)
        assert player.returncode == 0, err
        assert out.strip().splitlines()[-1] == f"played video={video_n} audio={audio_n}"
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=15)
