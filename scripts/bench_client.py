#!/usr/bin/env python3
"""Client CPU per second of 6 Mbit/s media sent: rtmp_core's publish example against
ffmpeg (-re -c copy), same file, same receiving server, same run.

    python3 scripts/bench_client.py [--seconds 30] [--runs 3]

Builds the release examples, makes a 720p30 ~6 Mbit/s H.264 + AAC FLV with ffmpeg,
starts rtmp_core's relay server (pinned to CPU 1) and publishes the file in real time
with each client in turn (pinned to CPU 0). The client's CPU time comes from the kernel
(wait4 rusage: user + system, every thread).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_measured(args):
    """Runs a command pinned to CPU 0; returns (wall seconds, CPU seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", "0", *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed with {proc.returncode}")
    return time.monotonic() - start, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q", "--example", "server", "--example", "publish"],
                   cwd=ROOT, check=True)
    examples = ROOT / "target/release/examples"
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "media.flv"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(args.seconds),
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-b:v", "6M", "-minrate", "6M",
             "-maxrate", "6M", "-bufsize", "2M", "-c:a", "aac", "-b:a", "128k", "-f", "flv", str(media)],
            check=True,
        )
        mbits = media.stat().st_size * 8 / args.seconds / 1e6
        port = free_port()
        server = subprocess.Popen(
            ["taskset", "-c", "1", str(examples / "server"), "--listen", f"127.0.0.1:{port}", "--workers", "1"],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            results = {"rtmp_core": [], "ffmpeg": []}
            for run in range(args.runs):
                for name in results:
                    url = f"rtmp://127.0.0.1:{port}/bench/{name}{run}"
                    if name == "rtmp_core":
                        command = [str(examples / "publish"), str(media), url]
                    else:
                        command = ["ffmpeg", "-v", "error", "-re", "-i", str(media), "-c", "copy", "-f", "flv", url]
                    wall, cpu = run_measured(command)
                    results[name].append(cpu / args.seconds)
                    print(f"run {run + 1} {name:9}: {cpu:.3f} CPU s over {wall:.1f} s wall "
                          f"= {cpu / args.seconds * 1000:.2f} ms CPU per second of media", flush=True)
        finally:
            server.terminate()
            server.wait()
    ours = sorted(results["rtmp_core"])[len(results["rtmp_core"]) // 2]
    theirs = sorted(results["ffmpeg"])[len(results["ffmpeg"]) // 2]
    print(f"median at {mbits:.1f} Mbit/s: rtmp_core {ours * 1000:.2f} ms/s, ffmpeg {theirs * 1000:.2f} ms/s "
          f"({theirs / ours:.1f}x less CPU for rtmp_core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
