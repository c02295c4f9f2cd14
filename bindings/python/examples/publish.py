"""Publishes raw H.264 (Annex-B) and AAC (ADTS) elementary streams, as an encoder
would hand them over, to an RTMP server in real time.

    python examples/publish.py VIDEO.h264 AUDIO.aac rtmp://HOST/APP/STREAM [--fps 30]

Make test input with ffmpeg:
    ffmpeg -f lavfi -i testsrc2=rate=30 -t 10 -c:v libx264 -bf 0 -g 30 video.h264
    ffmpeg -f lavfi -i sine=sample_rate=48000 -t 10 -c:a aac audio.aac
"""

import argparse
import sys
import time

import rtmp_core
from rtmp_core.media import adts_frames, adts_sample_rate, h264_access_units


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video")
    parser.add_argument("audio")
    parser.add_argument("url")
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()

    with open(args.video, "rb") as f:
        video = list(h264_access_units(f.read()))
    with open(args.audio, "rb") as f:
        audio = list(adts_frames(f.read()))
    rate = adts_sample_rate(audio[0]) if audio else 48000
    # Interleave by presentation time, in milliseconds.
    items = [(n * 1000.0 / args.fps, "video", unit) for n, unit in enumerate(video)]
    items += [(n * 1024 * 1000.0 / rate, "audio", frame) for n, frame in enumerate(audio)]
    items.sort(key=lambda item: item[0])

    with rtmp_core.Client.publish(args.url) as client:
        client.wait_started(timeout=10)
        client.set_metadata({"framerate": args.fps, "audiosamplerate": rate})
        start = time.monotonic()
        for at, kind, data in items:
            delay = start + at / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if kind == "video":
                client.write_video(data, pts=int(at))
            else:
                client.write_audio(data, pts=int(at))
        stats = client.stats()
    print(
        f"published video={len(video)} audio={len(audio)} "
        f"sent={stats['frames_sent']} dropped={stats['frames_dropped']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
