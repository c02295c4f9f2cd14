"""A relay server embedded in Python: publish to and play from rtmp://HOST/APP/STREAM.

    python examples/server.py [--listen 0.0.0.0:1935]

Prints one line per event; when a publish ends, "unpublish APP/STREAM video=N audio=M"
counts the media frames the callbacks saw (sequence headers excluded). Ctrl-C stops it.
"""

import argparse
import collections
import sys

import rtmp_core


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="0.0.0.0:1935", help="HOST:PORT (default %(default)s)")
    args = parser.parse_args()

    counts = collections.defaultdict(lambda: [0, 0])  # "app/stream" -> [video, audio]
    server = rtmp_core.Server(args.listen)

    def say(line: str) -> None:
        print(line, flush=True)

    @server.on_connect
    def on_connect(event):
        say(f"connect {event.conn} {event.peer} app={event.app}")

    @server.on_publish
    def on_publish(event):
        counts[f"{event.app}/{event.stream}"] = [0, 0]
        say(f"publish {event.conn} {event.app}/{event.stream} ({event.publish_type})")

    @server.on_play
    def on_play(event):
        say(f"play {event.conn} {event.app}/{event.stream}")

    @server.on_frame
    def on_frame(event):
        frame = event.frame
        if not frame.sequence_header:
            counts[f"{event.app}/{event.stream}"][frame.kind == "audio"] += 1

    @server.on_metadata
    def on_metadata(event):
        say(f"metadata {event.app}/{event.stream} {sorted(event.metadata or {})}")

    @server.on_unpublish
    def on_unpublish(event):
        key = f"{event.app}/{event.stream}"
        video, audio = counts.pop(key, [0, 0])
        say(f"unpublish {key} video={video} audio={audio}")

    @server.on_play_stop
    def on_play_stop(event):
        say(f"play_stop {event.conn} {event.app}/{event.stream}")

    @server.on_disconnect
    def on_disconnect(event):
        say(f"disconnect {event.conn} ({event.reason})")

    server.start()
    say(f"listening on rtmp://{server.local_addrs[0]}")
    server.serve_forever()
    say("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
