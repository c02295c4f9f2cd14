"""Ingest in Python: an embedded server that records every published stream and hands its
frames to decoders, as an application receiving OBS or ffmpeg would.

    python examples/ingest.py [--listen 0.0.0.0:1935] [--out DIR]

Each publish is recorded to DIR/APP-STREAM.flv (metadata included), and its frames go
through a Depacketizer: what a decoder takes is written per track to DIR/APP-STREAM.h264 /
.hevc (Annex-B), .obu (AV1), .aac (ADTS), .mp3; track N > 0 of an E-RTMP v2 multitrack
stream to DIR/APP-STREAM-tN.EXT. Characters other than letters, digits and "_" in APP and
STREAM become "_". When a publish ends the line is "unpublish APP/STREAM video=N audio=M
skipped=K" (decoder frames written, frames skipped). Ctrl-C stops it.
"""

import argparse
import re
import sys
from pathlib import Path

import rtmp_core

EXTENSIONS = {"h264": "h264", "hevc": "hevc", "av1": "obu", "aac": "aac", "mp3": "mp3"}


class Ingest:
    """One publish: its recording, its depacketizer and one file per decoded track."""

    def __init__(self, out_dir: Path, app: str, stream: str):
        self.name = f"{re.sub(r'[^A-Za-z0-9_]', '_', app)}-{re.sub(r'[^A-Za-z0-9_]', '_', stream)}"
        self.out_dir = out_dir
        self.recording = rtmp_core.FlvWriter(out_dir / f"{self.name}.flv")
        self.depacketizer = rtmp_core.Depacketizer()
        self.tracks = {}  # (kind, track_id) -> open file, or None when not written
        self.counts = {"video": 0, "audio": 0, "skipped": 0}

    def frame(self, frame: rtmp_core.Frame) -> None:
        self.recording.write(frame)
        try:
            decoded = self.depacketizer.push(frame)
        except rtmp_core.MediaError:  # a codec it cannot unpack, or media before its config
            self.counts["skipped"] += 1
            return
        for d in decoded:
            out = self.track(d)
            if out is None:
                self.counts["skipped"] += 1
            else:
                out.write(d.data)
                self.counts[d.kind] += 1

    def track(self, d: rtmp_core.DecodedFrame):
        key = (d.kind, d.track_id)
        if key not in self.tracks:
            ext = EXTENSIONS.get(d.codec)  # VP8/VP9 and Opus need a container
            suffix = f"-t{d.track_id}" if d.track_id else ""
            self.tracks[key] = open(self.out_dir / f"{self.name}{suffix}.{ext}", "wb") if ext else None
        return self.tracks[key]

    def close(self) -> None:
        self.recording.close()
        for out in self.tracks.values():
            if out is not None:
                out.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="0.0.0.0:1935", help="HOST:PORT (default %(default)s)")
    parser.add_argument("--out", default=".", type=Path, help="directory for the files (default .)")
    args = parser.parse_args()

    ingests = {}  # "app/stream" -> Ingest; touched by the dispatcher thread only
    server = rtmp_core.Server(args.listen)

    @server.on_publish
    def on_publish(event):
        ingests[f"{event.app}/{event.stream}"] = Ingest(args.out, event.app, event.stream)
        print(f"publish {event.app}/{event.stream}", flush=True)

    @server.on_metadata
    def on_metadata(event):
        ingest = ingests.get(f"{event.app}/{event.stream}")
        if ingest is not None and event.metadata:
            ingest.recording.write_metadata(event.metadata)

    @server.on_frame
    def on_frame(event):
        ingest = ingests.get(f"{event.app}/{event.stream}")
        if ingest is not None:
            ingest.frame(event.frame)

    @server.on_unpublish
    def on_unpublish(event):
        key = f"{event.app}/{event.stream}"
        ingest = ingests.pop(key, None)
        if ingest is not None:
            ingest.close()
            c = ingest.counts
            print(f"unpublish {key} video={c['video']} audio={c['audio']} skipped={c['skipped']}", flush=True)

    server.start()
    print(f"listening on rtmp://{server.local_addrs[0]}", flush=True)
    server.serve_forever()
    for ingest in ingests.values():
        ingest.close()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
