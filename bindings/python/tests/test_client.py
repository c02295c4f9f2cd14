"""Client to Server in one process, local publishing, FLV files, frames, errors, logs."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time

import pytest

import rtmp_core
from rtmp_core.media import adts_frames, adts_sample_rate, h264_access_units

from conftest import decode_errors, packet_counts, spawn


def publish_elementary(client, video_units, audio_frames, rate, fps=25.0, pace=0.0):
    """Writes encoder output interleaved by presentation time; `pace` seconds per
    second of media (0: as fast as possible)."""
    items = [(n * 1000.0 / fps, "v", u) for n, u in enumerate(video_units)]
    items += [(n * 1024 * 1000.0 / rate, "a", f) for n, f in enumerate(audio_frames)]
    items.sort(key=lambda i: i[0])
    start = time.monotonic()
    for at, kind, data in items:
        if pace:
            delay = start + at / 1000.0 * pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if kind == "v":
            client.write_video(data, pts=int(at))
        else:
            client.write_audio(data, pts=int(at))


def test_client_publishes_encoder_output_and_client_plays_it(elementary, tmp_path):
    video, audio = elementary
    units = list(h264_access_units(video.read_bytes()))
    adts = list(adts_frames(audio.read_bytes()))
    rate = adts_sample_rate(adts[0])
    assert len(units) == 100 and len(adts) > 180

    with rtmp_core.Server("127.0.0.1:0") as server:
        url = f"rtmp://127.0.0.1:{server.port}/live/one"
        with rtmp_core.Client.play(url) as player:
            player.wait_started(timeout=5)
            received = []

            def read():
                received.extend(player.frames(timeout=10))

            reader = threading.Thread(target=read)
            reader.start()
            with rtmp_core.Client.publish(url) as publisher:
                publisher.wait_started(timeout=5)
                publisher.set_metadata({"width": 320, "height": 240, "framerate": 25.0, "encoder": "test"})
                publish_elementary(publisher, units, adts, rate, pace=0.25)
                stats = publisher.stats()
            reader.join(timeout=30)
            assert not reader.is_alive()

    media = [f for f in received if not f.sequence_header]
    video_frames = [f for f in media if f.kind == "video"]
    audio_frames = [f for f in media if f.kind == "audio"]
    assert len(video_frames) == len(units)
    assert len(audio_frames) == len(adts)
    assert {f.codec for f in received} == {"h264", "aac"}
    assert video_frames[0].keyframe and sum(f.keyframe for f in video_frames) == 4
    assert [f.timestamp for f in video_frames] == [n * 40 for n in range(len(units))]
    assert stats["frames_dropped"] == 0 and stats["frames_sent"] >= len(units) + len(adts)

    out = tmp_path / "played.flv"
    with rtmp_core.FlvWriter(out) as writer:
        writer.write_metadata({"encoder": "rtmp_core test", "width": 320.0})
        for frame in received:
            writer.write(frame)
    assert packet_counts(out) == {"video": len(units), "audio": len(adts)}
    assert decode_errors(out) == ""
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags=encoder", "-of", "csv=p=0",
                           str(out)], capture_output=True, text=True, check=True).stdout.strip()
    assert tags == "rtmp_core test"
    # Decoder-ready output: Annex-B and ADTS files that ffmpeg decodes cleanly.
    depacketizer = rtmp_core.Depacketizer()
    decoded = [d for frame in received for d in depacketizer.push(frame)]
    h264 = tmp_path / "played.h264"
    h264.write_bytes(b"".join(d.data for d in decoded if d.codec == "h264"))
    aac = tmp_path / "played.aac"
    aac.write_bytes(b"".join(d.data for d in decoded if d.codec == "aac"))
    assert packet_counts(h264)["video"] == len(units) and decode_errors(h264) == ""
    assert packet_counts(aac)["audio"] == len(adts) and decode_errors(aac) == ""
    assert [d.pts for d in decoded if d.kind == "video"][:3] == [0, 40, 80]
    again = rtmp_core.read_flv(out)
    assert [(f.kind, f.timestamp, f.data) for f in again] == [(f.kind, f.timestamp, f.data) for f in received]


def test_local_publisher_reaches_ffmpeg(ffmpeg, elementary, tmp_path):
    video, audio = elementary
    units = list(h264_access_units(video.read_bytes()))
    adts = list(adts_frames(audio.read_bytes()))
    playing = threading.Event()
    server = rtmp_core.Server("127.0.0.1:0", on_play=lambda event: playing.set())
    with server:
        out = tmp_path / "local.flv"
        player = spawn([ffmpeg, "-v", "error", "-i", f"rtmp://127.0.0.1:{server.port}/game/screen",
                        "-c", "copy", "-f", "flv", str(out)])
        assert playing.wait(10)
        with server.publisher("game", "screen") as publisher:
            publisher.set_metadata({"width": 320, "height": 240})
            publish_elementary(publisher, units, adts, adts_sample_rate(adts[0]), pace=0.25)
            stats = {s["stream"]: s for s in server.stream_stats()}
            assert stats["screen"]["publishing"] and stats["screen"]["players"] == 1
        _, err = player.communicate(timeout=20)
        assert player.returncode == 0, err
    assert packet_counts(out) == {"video": len(units), "audio": len(adts)}
    assert decode_errors(out) == ""


def test_multitrack_audio_reaches_ffmpeg9_as_two_streams(ffmpeg, ffmpeg9, elementary, tmp_path):
    video, audio = elementary
    units = list(h264_access_units(video.read_bytes()))
    english = list(adts_frames(audio.read_bytes()))
    commentary = tmp_path / "commentary.aac"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=48000",
                    "-t", "4", "-c:a", "aac", "-f", "adts", str(commentary)], check=True)
    second = list(adts_frames(commentary.read_bytes()))
    playing = threading.Event()
    # ffmpeg plays through 20 ms of write coalescing (fewer, larger writes per player).
    with rtmp_core.Server("127.0.0.1:0", on_play=lambda event: playing.set(),
                          write_coalescing=0.02) as server:
        # NUT, not Matroska: ffmpeg 9's Matroska muxer now and then wrote a file (its
        # header rewritten at the end) that Debian's ffprobe 5.1 could not parse.
        out = tmp_path / "multitrack.nut"
        player = spawn([ffmpeg9, "-v", "error", "-i", f"rtmp://127.0.0.1:{server.port}/live/mt",
                        "-map", "0", "-c", "copy", "-f", "nut", str(out)])
        assert playing.wait(10)
        with server.publisher("live", "mt") as publisher:
            items = [(n * 40.0, 0, u) for n, u in enumerate(units)]
            items += [(n * 1024000 / 48000, 1, f) for n, f in enumerate(english)]
            items += [(n * 1024000 / 48000, 2, f) for n, f in enumerate(second)]
            items.sort(key=lambda i: i[0])
            start = time.monotonic()
            for at, what, data in items:
                delay = start + at / 1000 * 0.25 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                if what == 0:
                    publisher.write_video(data, pts=int(at))
                else:
                    publisher.write_audio(data, pts=int(at), track=what - 1)
        _, err = player.communicate(timeout=30)
        assert player.returncode == 0, err
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=stream_index", "-of", "csv=p=0",
                            str(out)], capture_output=True, text=True, check=True).stdout.split()
    assert [probe.count(str(i)) for i in range(3)] == [len(units), len(english), len(second)]
    assert decode_errors(out) == ""


def test_frames_and_errors():
    header = rtmp_core.Frame("video", 0, b"\x17\x00\x00\x00\x00\x01\x42")
    assert header.sequence_header and not header.keyframe and header.codec == "h264"
    key = rtmp_core.Frame("video", 40, b"\x17\x01\x00\x00\x00xyz")
    assert key.keyframe and len(key) == 8 and bytes(key) == key.data and key.data is key.data
    assert "key" in repr(key)
    with pytest.raises(ValueError):
        rtmp_core.Frame("subtitles", 0, b"")
    with pytest.raises(rtmp_core.InvalidUrlError):
        rtmp_core.Client.publish("http://example.invalid/live/key")
    with pytest.raises(ValueError):
        rtmp_core.Client.publish("rtmp://127.0.0.1/live/key", publish_type="sometimes")
    client = rtmp_core.Client.publish("rtmp://127.0.0.1:1/live/key", connect_timeout=2)
    with pytest.raises(rtmp_core.RtmpError):
        client.wait_started(timeout=5)
    with pytest.raises(rtmp_core.MediaError):
        client.write_video(b"\x00\x00\x00\x01\x65\x88", pts=0)  # a slice before any SPS/PPS
    client.close()
    with pytest.raises(rtmp_core.ClosedError):
        client.send(key)
    assert issubclass(rtmp_core.RtmpTimeoutError, TimeoutError)
    assert issubclass(rtmp_core.ClosedError, ConnectionError)


def test_depacketizer_keeps_multitrack_tracks_apart():
    # E-RTMP v2 audio, OneTrack multitrack bodies ("mp4a", track 3): the header byte
    # 0x95 (ex audio, packet type Multitrack), then OneTrack | the tracks' packet type.
    def track3(packet_type, data):
        return b"\x95" + bytes([packet_type]) + b"mp4a\x03" + data
    depacketizer = rtmp_core.Depacketizer()
    assert depacketizer.push(rtmp_core.Frame("audio", 0, track3(0, b"\x12\x10"))) == []
    (sound,) = depacketizer.push(rtmp_core.Frame("audio", 23, track3(1, b"\x21\x10\x04")))
    assert (sound.kind, sound.codec, sound.track_id, sound.pts) == ("audio", "aac", 3, 23)
    assert sound.data[:2] == b"\xff\xf1" and sound.data[7:] == b"\x21\x10\x04"  # ADTS
    assert "track=3" in repr(sound)
    # Track 0 has no configuration of its own: its frames wait for their sequence header.
    with pytest.raises(rtmp_core.MediaError):
        depacketizer.push(rtmp_core.Frame("audio", 46, b"\xaf\x01\x21\x10\x04"))


def test_library_logs_reach_python_logging(caplog):
    rtmp_core.set_log_level("debug")
    try:
        with caplog.at_level(logging.DEBUG, logger="rtmp_core"):
            with rtmp_core.Server("127.0.0.1:0") as server:
                import socket

                with socket.create_connection(("127.0.0.1", server.port)) as sock:
                    sock.sendall(b"\x06" + b"\x00" * 1536)  # RTMPE asked: refused and logged
                    sock.settimeout(5)
                    try:
                        while sock.recv(4096):
                            pass
                    except OSError:
                        pass
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not any(
                    r.name.startswith("rtmp_core.") for r in caplog.records
                ):
                    time.sleep(0.05)
    finally:
        rtmp_core.set_log_level(logging.WARNING)
    names = {r.name for r in caplog.records}
    assert any(n.startswith("rtmp_core.") for n in names), names


def test_interpreter_exit_with_live_server_and_client_is_clean():
    code = (
        "import rtmp_core\n"
        "s = rtmp_core.Server('127.0.0.1:0').start()\n"
        "c = rtmp_core.Client.play(f'rtmp://127.0.0.1:{s.port}/live/x')\n"
        "c.wait_started(timeout=5)\n"
        "print('ok', flush=True)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert "Traceback" not in result.stderr
