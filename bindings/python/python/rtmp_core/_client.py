"""Publishing and playing clients."""

from __future__ import annotations

import weakref
from typing import Any, Dict, Iterator, Optional, Union

from . import _native
from ._stream import EventStream
from ._native import Frame, Notice

_live: "weakref.WeakSet[Client]" = weakref.WeakSet()


def close_all() -> None:
    """Closes every client still open (run at interpreter exit)."""
    for client in list(_live):
        client.close()


class Client:
    """An RTMP client on a library-owned I/O thread: ``Client.publish(url)`` or
    ``Client.play(url)``. Writing never blocks; a congestion policy drops droppable video
    when the network falls behind (never audio, keyframes or headers).

    Publishing::

        with rtmp_core.Client.publish("rtmp://127.0.0.1/live/key") as client:
            client.wait_started()
            client.write_video(annexb_access_unit, pts=0, dts=0)   # H.264 from an encoder
            client.write_audio(adts_frames, pts=0)                  # AAC in ADTS

    Playing::

        with rtmp_core.Client.play("rtmp://127.0.0.1/live/key") as client:
            for frame in client.frames():
                print(frame.kind, frame.timestamp, frame.codec, len(frame))
    """

    def __init__(self, native: _native.Client) -> None:
        self._native = native
        _live.add(self)

    @classmethod
    def publish(cls, url: str, **options: Any) -> "Client":
        """Connects to ``url`` (rtmp:// or rtmps://host[:port]/app/stream) and
        publishes. Options: connect_timeout, flash_ver, publish_type ("live", "record",
        "append"), reconnect, reconnect_attempts, drop_disposable_after, drop_inter_after
        (seconds); for rtmps: ca_pem (PEM bytes to trust instead of the system's roots),
        server_name (when not the URL's host), insecure_skip_verify (test servers only)."""
        return cls(_native.Client.publish(url, **options))

    @classmethod
    def play(cls, url: str, **options: Any) -> "Client":
        """Connects to ``url`` and plays. Options: connect_timeout, flash_ver, reconnect,
        reconnect_attempts, start, duration, and the rtmps options of ``publish``."""
        return cls(_native.Client.play(url, **options))

    def wait_started(self, timeout: float = 10.0) -> None:
        """Blocks until the publish or play started; raises if refused or timed out."""
        self._native.wait_started(timeout)

    def send(self, frame: Frame) -> None:
        """Queues a Frame (an FLV tag body)."""
        self._native.send(frame)

    def write_video(
        self, data: bytes, pts: int, dts: Optional[int] = None, codec: str = "h264", track: int = 0
    ) -> int:
        """Queues one encoded access unit ("h264"/"hevc" Annex-B, "av1" temporal unit,
        "vp9"/"vp8" frame) at pts/dts milliseconds; returns the frames queued. ``track``
        > 0 sends an E-RTMP v2 multitrack track (another rendition in the same stream)."""
        return self._native.write_video(data, pts, dts, codec, track)

    def write_audio(
        self,
        data: bytes,
        pts: int,
        codec: str = "aac",
        channels: int = 2,
        sample_rate: int = 48000,
        track: int = 0,
    ) -> int:
        """Queues encoded audio ("aac" ADTS frames, "opus" one packet, "mp3" one frame) at
        pts ms;
        ``track`` as for write_video."""
        return self._native.write_audio(data, pts, codec, channels, sample_rate, track)

    def set_metadata(self, metadata: Dict[str, Any]) -> None:
        """Queues onMetaData (numbers, strings, booleans)."""
        self._native.set_metadata(metadata)

    def notices(self, timeout: Optional[float] = None) -> EventStream:
        """Iterates over Notice and Frame objects (``for`` or ``async for``) until the
        client stops, or until nothing came for ``timeout`` seconds."""
        return EventStream(self._native.next_notices, timeout)

    def frames(self, timeout: Optional[float] = None) -> Iterator[Frame]:
        """Iterates over the played frames until the stream ends (StreamEOF), the client
        stops, or nothing came for ``timeout`` seconds."""
        for item in self.notices(timeout):
            if isinstance(item, Frame):
                yield item
            elif item.type in ("stream_end", "disconnected"):
                return

    def stats(self) -> Dict[str, Union[int, float, None]]:
        """queued (s), queued_bytes, bytes_sent, frames_sent, frames_dropped, bitrate_bps,
        rtt (s or None), reconnects."""
        return self._native.stats()

    @property
    def closed(self) -> bool:
        return self._native.closed

    def close(self) -> None:
        """Sends what is queued (up to 5 s), unpublishes and disconnects. Idempotent."""
        self._native.close()
        _live.discard(self)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Client", "Notice"]
