"""The exception hierarchy: every error the library raises is an RtmpError.

Classes also derive from the matching built-in where there is one, so
``except TimeoutError`` or ``except ValueError`` work as a Python programmer expects.
"""

from __future__ import annotations

from typing import Optional


class RtmpError(Exception):
    """Base class of every rtmp_core error."""


class ProtocolError(RtmpError):
    """The peer broke the protocol, refused a request, or sent something malformed."""


class TlsError(ProtocolError):
    """rtmps:// failed: a certificate was refused, or TLS itself broke."""


class ClosedError(RtmpError, ConnectionError):
    """The server, client or publisher is closed."""


class RtmpTimeoutError(RtmpError, TimeoutError):
    """A deadline passed (connect, handshake, publish or play start)."""


class InvalidStateError(RtmpError, RuntimeError):
    """The call is not valid now (e.g. sending from a playing client)."""


class InvalidUrlError(RtmpError, ValueError):
    """The URL is not rtmp://host[:port]/app/stream."""


class MediaError(RtmpError, ValueError):
    """Encoder output or an FLV tag that cannot be packaged or parsed."""


class QueueFullError(RtmpError):
    """The client's send queue is over its byte bound: the network does not keep up."""


class RtmpIOError(RtmpError, OSError):
    """A socket error."""


class Rejected(RtmpError):
    """Raise from an on_connect, on_publish or on_play callback to refuse the request.

    ``code`` is the status code sent to the client (None: the usual one for the request).
    """

    def __init__(self, description: str = "rejected", code: Optional[str] = None) -> None:
        super().__init__(description)
        self.description = description
        self.code = code


__all__ = [
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
]
