"""rtmp_core: an embeddable RTMP server and client with a native Rust core.

- :class:`Server` hosts a relay in this process: OBS or ffmpeg publish to it, players
  play from it, and Python sees connects, publishes, plays and frames through callbacks
  or iteration (also ``async for``).
- :class:`Client` publishes encoder output (H.264/HEVC/AV1/VP9, AAC/Opus) or FLV tag
  bodies to any RTMP server, or plays a stream as :class:`Frame` objects.
- Errors derive from :class:`RtmpError`; the library's logs go to ``logging`` under
  "rtmp_core" (see :func:`set_log_level`).
"""

from __future__ import annotations

import atexit
import logging

from . import _client, _server, media
from ._client import Client
from ._logging import set_log_level
from ._native import DecodedFrame, Depacketizer, Event, FlvWriter, Frame, LocalPublisher, Notice, __version__, read_flv
from ._server import Server
from .errors import (
    ClosedError,
    InvalidStateError,
    InvalidUrlError,
    MediaError,
    ProtocolError,
    QueueFullError,
    Rejected,
    RtmpError,
    RtmpIOError,
    RtmpTimeoutError,
    TlsError,
)


def _close_everything() -> None:
    _client.close_all()
    _server.close_all()


atexit.register(_close_everything)
set_log_level(logging.getLogger("rtmp_core").getEffectiveLevel())

__all__ = [
    "Server",
    "Client",
    "Event",
    "Frame",
    "Notice",
    "LocalPublisher",
    "FlvWriter",
    "Depacketizer",
    "DecodedFrame",
    "read_flv",
    "media",
    "set_log_level",
    "RtmpError",
    "ProtocolError",
    "TlsError",
    "ClosedError",
    "RtmpTimeoutError",
    "InvalidStateError",
    "InvalidUrlError",
    "MediaError",
    "QueueFullError",
    "RtmpIOError",
    "Rejected",
    "__version__",
]
