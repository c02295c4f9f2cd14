"""The examples run as a user would run them."""

from __future__ import annotations

import re
import signal
import subprocess
import time

from conftest import decode_errors, free_port, packet_counts, run_example


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


def decoded_hashes(ffmpeg, path, stream):
    """ffmpeg's per-frame hashes of a stream's decoded pictures or sound, timestamps left out."""
    out = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-map", stream, "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if not line.startswith("#")]


def test_ingest_example_records_and_depacketizes_what_ffmpeg_publishes(ffmpeg, source_flv, tmp_path):
    source, expected = source_flv
    port = free_port()
    ingest = run_example("ingest.py", "--listen", f"127.0.0.1:{port}", "--out", str(tmp_path))
    try:
        wait_for_line(ingest, r"^listening on ")
        url = f"rtmp://127.0.0.1:{port}/live/cam/1"
        subprocess.run([ffmpeg, "-v", "error", "-i", str(source), "-c", "copy", "-f", "flv", url],
                       check=True, timeout=60)
        lines = wait_for_line(ingest, r"^unpublish ")
        # ffmpeg sends app "live/cam", stream "1"; its end-of-sequence tag is no picture.
        assert lines[-1] == f"unpublish live/cam/1 video={expected['video']} audio={expected['audio']} skipped=0"
        ingest.send_signal(signal.SIGINT)
        _, err = ingest.communicate(timeout=15)
        assert ingest.returncode == 0 and "Traceback" not in err, err
    finally:
        if ingest.poll() is None:
            ingest.kill()
            ingest.wait()
    recording = tmp_path / "live_cam-1.flv"
    assert packet_counts(recording) == expected and decode_errors(recording) == ""
    pictures = decoded_hashes(ffmpeg, source, "0:v")
    assert len(pictures) == expected["video"]
    assert decoded_hashes(ffmpeg, tmp_path / "live_cam-1.h264", "0:v") == pictures
    assert decoded_hashes(ffmpeg, tmp_path / "live_cam-1.aac", "0:a") == decoded_hashes(ffmpeg, source, "0:a")
