"""Plays an RTMP stream and prints one line per frame, or writes the raw frames.

    python examples/play.py rtmp://HOST/APP/STREAM [--duration SECS]

Exits 0 when the stream ends or the duration passes.
"""

import argparse
import collections
import sys
import time

import rtmp_core


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=None)
    parser.add_argument("--quiet", action="store_true", help="print only the totals")
    args = parser.parse_args()

    counts = collections.Counter()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with rtmp_core.Client.play(args.url) as client:
        client.wait_started(timeout=10)
        for frame in client.frames(timeout=10):
            if not frame.sequence_header:
                counts[frame.kind] += 1
            if not args.quiet:
                flags = " key" if frame.keyframe else (" header" if frame.sequence_header else "")
                print(f"{frame.kind} {frame.codec} ts={frame.timestamp} len={len(frame)}{flags}")
            if deadline is not None and time.monotonic() >= deadline:
                break
    print(f"played video={counts['video']} audio={counts['audio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
