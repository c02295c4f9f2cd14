"""Benchmarks of the Python module, with real connections.

    python bench/bench_python.py [--frames 300000] [--seconds 20] [--skip-pyrtmp]

1. Event delivery: a publisher process (rtmp_core.Client, pinned to CPU 1) sends tiny
   audio frames as fast as it can; the server process (pinned to CPU 0) counts them in
   an on_frame callback, then in a `for event in server.events()` loop, each also with
   `event.frame.data` read (the payload copied into bytes). Python starts consuming once
   everything is queued, so the rate is Python's: frames per second on one core.
2. Ingest CPU: ffmpeg (CPU 1) publishes a ~6 Mbit/s 720p30 H.264 + AAC file in real
   time to a Python server (CPU 0) whose frame handler does nothing: rtmp_core
   (on_frame) against pyrtmp (pure Python asyncio, on_video/on_audio_message), same run.
   Reports server CPU seconds per second of media per Mbit/s. Needs `pip install pyrtmp`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def cpu_seconds() -> float:
    """User + system CPU time of this whole process (every thread), from /proc."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > cpu:
        os.sched_setaffinity(0, {cpu})


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- child roles
def serve_rtmp_core(port: int, mode: str, expect: int) -> None:
    """Counts frames reaching Python until `expect` arrived or SIGINT; prints JSON.

    Python starts consuming only on SIGUSR1, which the parent sends once the publisher
    has sent everything: the frames wait in the library's queue meanwhile, so the rate
    measured is Python's, not the publisher's.
    """
    import rtmp_core

    pin(0)
    state = {"frames": 0, "bytes": 0, "first": 0.0, "last": 0.0}
    done, go = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: go.set())

    def count(event) -> None:
        if state["frames"] == 0:
            go.wait()
            state["first"] = time.perf_counter()
            state["cpu"] = cpu_seconds()
        state["frames"] += 1
        if touch_payload:
            frame = event.frame
            state["bytes"] += len(frame.data) + frame.timestamp * 0
        state["last"] = time.perf_counter()
        if state["frames"] >= expect:
            done.set()

    # A backlog large enough that no frame is dropped while Python catches up: the
    # benchmark measures what Python takes, not the tap's bound.
    settings = dict(tap_backlog=10_000_000, tap_all=True)
    touch_payload = mode.endswith("+payload")
    if mode.startswith("callback"):
        server = rtmp_core.Server(f"127.0.0.1:{port}", on_frame=count, **settings)
        server.start()
    else:
        server = rtmp_core.Server(f"127.0.0.1:{port}", **settings).start()

        def iterate() -> None:
            for event in server.events():
                if event.type == "frame":
                    count(event)

        threading.Thread(target=iterate, daemon=True).start()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    print("ready", flush=True)
    done.wait()
    cpu = cpu_seconds() - state.get("cpu", 0.0)
    server.close()
    elapsed = max(state["last"] - state["first"], 1e-9)
    print(json.dumps({"frames": state["frames"], "seconds": elapsed, "cpu": cpu}), flush=True)


def serve_pyrtmp(port: int) -> None:
    import asyncio

    from pyrtmp.rtmp import RTMPProtocol, SimpleRTMPController

    pin(0)
    state = {"frames": 0, "bytes": 0}

    class Counting(SimpleRTMPController):
        async def on_video_message(self, session, message) -> None:
            state["frames"] += 1

        async def on_audio_message(self, session, message) -> None:
            state["frames"] += 1

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: RTMPProtocol(controller=Counting()), "127.0.0.1", port)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        start_cpu = cpu_seconds()
        print("ready", flush=True)
        await stop.wait()
        cpu = cpu_seconds() - start_cpu
        server.close()
        print(json.dumps({"frames": state["frames"], "cpu": cpu}), flush=True)

    asyncio.run(main())


def serve_rtmp_core_ingest(port: int) -> None:
    import rtmp_core

    pin(0)
    state = {"frames": 0}

    def on_frame(event) -> None:
        state["frames"] += 1

    server = rtmp_core.Server(f"127.0.0.1:{port}", on_frame=on_frame, workers=1).start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    start_cpu = cpu_seconds()
    print("ready", flush=True)
    stop.wait()
    cpu = cpu_seconds() - start_cpu
    server.close()
    print(json.dumps({"frames": state["frames"], "cpu": cpu}), flush=True)


def publish_tiny_frames(port: int, count: int) -> None:
    import rtmp_core

    pin(1)
    client = rtmp_core.Client.publish(f"rtmp://127.0.0.1:{port}/bench/tiny")
    client.wait_started(timeout=10)
    # Sound format 3 (PCM little-endian): no sequence header, every tag is a frame.
    frames = [rtmp_core.Frame("audio", n // 50, b"\x3e" + bytes(16)) for n in range(1000)]
    for n in range(count):
        client.send(frames[n % 1000])
    client.close()


# ---------------------------------------------------------------------- orchestration
def child(*args: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(HERE), "--role", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"child {args} did not start: {line!r}")
    return proc


def result_of(proc: subprocess.Popen, interrupt: bool) -> dict:
    if interrupt:
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def event_rates(frames: int) -> None:
    for mode in ("callback", "callback+payload", "iterator", "iterator+payload"):
        port = free_port()
        server = child("serve-rtmp_core", str(port), mode, str(frames))
        subprocess.run(
            [sys.executable, str(HERE), "--role", "publish-tiny", str(port), str(frames)], check=True, timeout=300
        )
        server.send_signal(signal.SIGUSR1)
        r = result_of(server, interrupt=False)
        print(
            f"events to a Python {mode:16}: {r['frames']} queued frames consumed in {r['seconds']:.2f} s = "
            f"{r['frames'] / r['seconds']:,.0f} frames/s on one core (server CPU {r['cpu']:.2f} s)"
        )


def make_media(ffmpeg: str, seconds: int, directory: Path) -> Path:
    path = directory / "ingest.flv"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-b:v", "6M", "-minrate", "6M",
         "-maxrate", "6M", "-bufsize", "2M", "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(path)],
        check=True,
    )
    return path


def ingest(ffmpeg: str, seconds: int, skip_pyrtmp: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        media = make_media(ffmpeg, seconds, Path(tmp))
        mbits = media.stat().st_size * 8 / seconds / 1e6
        roles = ["serve-rtmp_core-ingest"] + ([] if skip_pyrtmp else ["serve-pyrtmp"])
        results = {}
        for role in roles:
            port = free_port()
            server = child(role, str(port))
            subprocess.run(
                ["taskset", "-c", "1", ffmpeg, "-v", "error", "-re", "-i", str(media), "-c", "copy",
                 "-f", "flv", f"rtmp://127.0.0.1:{port}/bench/ingest"],
                check=True, timeout=seconds * 3,
            )
            time.sleep(0.5)
            r = result_of(server, interrupt=True)
            per = r["cpu"] / seconds / mbits
            results[role] = per
            print(
                f"ingest {role[6:]:16}: {r['frames']} frames, {mbits:.1f} Mbit/s for {seconds} s, "
                f"server CPU {r['cpu']:.2f} s = {per * 1000:.2f} ms CPU per second per Mbit/s"
            )
        if len(results) == 2:
            ratio = results["serve-pyrtmp"] / results["serve-rtmp_core-ingest"]
            print(f"ingest CPU: pyrtmp uses {ratio:.1f}x the CPU of rtmp_core per Mbit/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", nargs="+")
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--skip-pyrtmp", action="store_true")
    parser.add_argument("--ffmpeg", default="ffmpeg")
    args = parser.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "serve-rtmp_core":
            serve_rtmp_core(int(rest[0]), rest[1], int(rest[2]))
        elif role == "serve-rtmp_core-ingest":
            serve_rtmp_core_ingest(int(rest[0]))
        elif role == "serve-pyrtmp":
            serve_pyrtmp(int(rest[0]))
        elif role == "publish-tiny":
            publish_tiny_frames(int(rest[0]), int(rest[1]))
        return 0
    event_rates(args.frames)
    ingest(args.ffmpeg, args.seconds, args.skip_pyrtmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
