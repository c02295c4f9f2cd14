"""The embedded server from Python, against ffmpeg as publisher and player."""

from __future__ import annotations

import collections
import logging
import subprocess
import threading
import time
from pathlib import Path

import pytest

import rtmp_core

from conftest import decode_errors, free_port, packet_counts, spawn


def test_ffmpeg_publishes_and_plays_through_callbacks(ffmpeg, source_flv, tmp_path):
    source, expected = source_flv
    counts = collections.Counter()
    seen = []
    playing, unpublished = threading.Event(), threading.Event()
    server = rtmp_core.Server("127.0.0.1:0")

    @server.on_connect
    def on_connect(event):
        seen.append(("connect", event.app, event.tc_url is not None, "flashVer" in event.connect))

    @server.on_publish
    def on_publish(event):
        seen.append(("publish", event.stream, event.publish_type))

    @server.on_play
    def on_play(event):
        playing.set()

    @server.on_frame
    def on_frame(event):
        frame = event.frame
        if not frame.sequence_header:
            counts[frame.kind] += 1
        counts[frame.codec] += 1

    @server.on_unpublish
    def on_unpublish(event):
        unpublished.set()

    with server:
        url = f"rtmp://127.0.0.1:{server.port}/live/cb"
        played = tmp_path / "played.flv"
        player = spawn([ffmpeg, "-v", "error", "-i", url, "-c", "copy", "-f", "flv", str(played)])
        assert playing.wait(10), "ffmpeg did not start playing"
        publisher = subprocess.run(
            [ffmpeg, "-v", "error", "-re", "-i", str(source), "-c", "copy", "-f", "flv", url],
            capture_output=True, text=True, timeout=60,
        )
        assert publisher.returncode == 0, publisher.stderr
        assert unpublished.wait(10)
        _, player_err = player.communicate(timeout=20)
        assert player.returncode == 0, player_err

    # ffmpeg's FLV muxer ends an H.264 stream with an end-of-sequence tag: one video
    # message more than the file's packets.
    assert counts["video"] == expected["video"] + 1
    assert counts["audio"] == expected["audio"]
    assert counts["h264"] == expected["video"] + 2 and counts["aac"] == expected["audio"] + 1
    assert ("connect", "live", True, True) in seen and ("publish", "cb", "live") in seen
    assert packet_counts(played) == expected
    assert decode_errors(played) == ""


def test_decisions_refuse_and_accept(elementary):
    video, _ = elementary
    server = rtmp_core.Server("127.0.0.1:0")

    @server.on_connect
    def on_connect(event):
        if event.app == "blocked":
            raise rtmp_core.Rejected("this app is closed")

    @server.on_publish
    def on_publish(event):
        return event.stream != "nope"

    with server:
        base = f"rtmp://127.0.0.1:{server.port}"
        for path in ("blocked/key", "live/nope"):
            with rtmp_core.Client.publish(f"{base}/{path}") as client:
                with pytest.raises(rtmp_core.RtmpError):
                    client.wait_started(timeout=5)
        with rtmp_core.Client.publish(f"{base}/live/yes") as client:
            client.wait_started(timeout=5)


def test_manual_decisions_by_iteration_with_custom_code():
    with rtmp_core.Server("127.0.0.1:0", manual_decisions=True) as server:
        url = f"rtmp://127.0.0.1:{server.port}/live/key"
        client = rtmp_core.Client.publish(url)
        events = server.events(timeout=5)
        connect = next(events)
        assert connect.type == "connect" and connect.pending
        connect.accept()
        publish = next(e for e in events if e.type == "publish")
        publish.reject("key revoked", code="NetStream.Publish.Denied")
        with pytest.raises(rtmp_core.ProtocolError, match="key revoked|Denied"):
            client.wait_started(timeout=5)
        client.close()


def test_events_of_an_automatic_server_have_no_decision():
    with rtmp_core.Server("127.0.0.1:0") as server:
        client = rtmp_core.Client.publish(f"rtmp://127.0.0.1:{server.port}/live/key")
        connect = next(server.events(timeout=5))
        assert connect.type == "connect" and not connect.pending
        with pytest.raises(rtmp_core.InvalidStateError, match="no pending decision"):
            connect.accept()
        client.wait_started(timeout=5)
        client.close()


def test_exceptions_in_callbacks_are_logged_and_serving_goes_on(elementary, caplog):
    video, audio = elementary
    frames = []
    server = rtmp_core.Server("127.0.0.1:0")

    @server.on_publish
    def on_publish(event):
        if event.stream == "boom":
            raise ValueError("bug in the application")

    @server.on_frame
    def on_frame(event):
        frames.append(event.frame)
        if len(frames) == 1:
            raise RuntimeError("bug on the first frame")

    with caplog.at_level(logging.ERROR, logger="rtmp_core"), server:
        base = f"rtmp://127.0.0.1:{server.port}/live"
        with rtmp_core.Client.publish(f"{base}/boom") as refused:
            with pytest.raises(rtmp_core.RtmpError):
                refused.wait_started(timeout=5)
        units = list(rtmp_core.media.h264_access_units(video.read_bytes()))[:10]
        with rtmp_core.Client.publish(f"{base}/ok") as client:
            client.wait_started(timeout=5)
            for n, unit in enumerate(units):
                client.write_video(unit, pts=n * 40)
        deadline = time.monotonic() + 10
        while len(frames) < len(units) + 1 and time.monotonic() < deadline:
            time.sleep(0.05)

    messages = [r.getMessage() for r in caplog.records]
    assert any("on_publish callback raised" in m for m in messages), messages
    assert any("on_frame callback raised" in m for m in messages), messages
    # Every frame reached the callback, the one after the failing call included.
    assert len(frames) == len(units) + 1  # + the sequence header
    assert frames[0].sequence_header and frames[1].keyframe


def test_asyncio_iteration(elementary):
    import asyncio

    _, audio = elementary
    adts = list(rtmp_core.media.adts_frames(audio.read_bytes()))[:20]

    async def main():
        with rtmp_core.Server("127.0.0.1:0") as server:
            server_url = f"rtmp://127.0.0.1:{server.port}/live/aio"
            server.tap("live", "aio")

            def publish():
                with rtmp_core.Client.publish(server_url) as client:
                    client.wait_started(timeout=5)
                    for n, frame in enumerate(adts):
                        client.write_audio(frame, pts=n * 21)

            loop = asyncio.get_running_loop()
            publishing = loop.run_in_executor(None, publish)
            types = []
            async for event in server.events(timeout=5):
                types.append(event.type)
                if event.type == "unpublish":
                    break
            await publishing
            return types

    types = asyncio.run(main())
    assert types[:2] == ["connect", "publish"]
    assert types.count("frame") == len(adts) + 1  # + the AudioSpecificConfig
    assert types[-1] == "unpublish"


def test_shutdown_with_streams_live(ffmpeg, source_flv):
    source, _ = source_flv
    server = rtmp_core.Server("127.0.0.1:0").start()
    url = f"rtmp://127.0.0.1:{server.port}/live/long"
    publisher = spawn([ffmpeg, "-v", "error", "-re", "-stream_loop", "-1", "-i", str(source),
                       "-c", "copy", "-f", "flv", url])
    try:
        player = rtmp_core.Client.play(url)
        player.wait_started(timeout=10)
        got = next(iter(player.frames(timeout=10)))
        assert got.kind in ("audio", "video")
        started = time.monotonic()
        server.close()
        closing = time.monotonic() - started
        kinds = [n.type for n in player.notices(timeout=10) if isinstance(n, rtmp_core.Notice)]
        assert "stream_end" in kinds or "disconnected" in kinds, kinds
        publisher.communicate(timeout=15)
        # The grace period is 2 s; a hung shutdown would take far longer.
        assert closing < 10, closing
        player.close()
    finally:
        if publisher.poll() is None:
            publisher.kill()
            publisher.communicate()
