"""The embedded RTMP server: callbacks, iteration and asyncio over the native server."""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _native
from ._stream import EventStream
from .errors import InvalidStateError, Rejected

log = logging.getLogger("rtmp_core")

Callback = Callable[[_native.Event], Any]

_DECISIONS = ("connect", "publish", "play")
_EVENTS = ("connect", "publish", "play", "frame", "unpublish", "play_stop", "metadata", "disconnect")

_live: "weakref.WeakSet[Server]" = weakref.WeakSet()


def close_all() -> None:
    """Closes every server still open (run at interpreter exit)."""
    for server in list(_live):
        server.close()


class Server:
    """An RTMP relay server running in this process on the library's own threads.

    OBS, ffmpeg or any RTMP client publishes to ``rtmp://HOST:PORT/APP/STREAM`` and players
    play the same URL; the relay needs no Python code. Python sees what happens either
    through callbacks (``on_connect``, ``on_publish``, ``on_play``, ``on_frame``,
    ``on_unpublish``, ``on_play_stop``, ``on_metadata``, ``on_disconnect``; as arguments or
    decorators), run on one dispatcher thread, or by iterating ``events()`` (also with
    ``async for``). Not both.

    Decision callbacks (connect, publish, play) accept by returning None or True and
    refuse by returning False or raising :class:`rtmp_core.Rejected`; an exception in any
    callback is logged (a decision then refuses) and the server keeps serving.
    Registering ``on_frame`` taps every stream.

    ``rtmps`` adds TLS listeners: ``[("0.0.0.0:443", cert_pem, key_pem)]`` (PEM bytes;
    the certificate chain and its private key). ``listen`` may be ``[]`` for TLS only.

    The server starts on ``start()``, ``with``, ``serve_forever()`` or ``events()``;
    register callbacks before that. Other keyword arguments are the server's settings:
    ``workers``, ``chunk_size``, ``handshake_timeout``, ``idle_timeout``,
    ``decision_timeout`` (seconds), ``max_connections``, ``max_message_size``,
    ``max_reassembly_bytes``, ``max_chunk_streams``, ``max_amf_depth``,
    ``player_queue_bytes``, ``gop_cache_bytes``, ``tap_backlog``, and
    ``write_coalescing`` (seconds each player's media may wait to share one write: less
    CPU per player for that much more latency; default 0).

    Example::

        with rtmp_core.Server("127.0.0.1:1935") as server:
            @server.on_publish
            def publish(event):
                return event.stream == "secret-key"
            server.serve_forever()
    """

    def __init__(
        self,
        listen: Union[str, Sequence[str]] = "0.0.0.0:1935",
        *,
        rtmps: Sequence[Tuple[str, bytes, bytes]] = (),
        manual_decisions: Optional[bool] = None,
        tap_all: Optional[bool] = None,
        on_connect: Optional[Callback] = None,
        on_publish: Optional[Callback] = None,
        on_play: Optional[Callback] = None,
        on_frame: Optional[Callback] = None,
        on_unpublish: Optional[Callback] = None,
        on_play_stop: Optional[Callback] = None,
        on_metadata: Optional[Callback] = None,
        on_disconnect: Optional[Callback] = None,
        **settings: Any,
    ) -> None:
        self._listen = [listen] if isinstance(listen, str) else list(listen)
        self._rtmps = [(addr, bytes(cert), bytes(key)) for addr, cert, key in rtmps]
        self._manual = manual_decisions
        self._tap_all = tap_all
        self._settings = settings
        self._callbacks: Dict[str, Callback] = {}
        for name, fn in (
            ("connect", on_connect),
            ("publish", on_publish),
            ("play", on_play),
            ("frame", on_frame),
            ("unpublish", on_unpublish),
            ("play_stop", on_play_stop),
            ("metadata", on_metadata),
            ("disconnect", on_disconnect),
        ):
            if fn is not None:
                self._callbacks[name] = fn
        self._native: Optional[_native.NativeServer] = None
        self._dispatcher: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ callbacks
    def _register(self, name: str, fn: Callback) -> Callback:
        if not callable(fn):
            raise TypeError(f"on_{name} needs a callable")
        with self._lock:
            if self._native is not None:
                raise InvalidStateError("register callbacks before the server starts")
            self._callbacks[name] = fn
        return fn

    def on_connect(self, fn: Callback) -> Callback:
        """Decorator: called for each connect; return False or raise Rejected to refuse."""
        return self._register("connect", fn)

    def on_publish(self, fn: Callback) -> Callback:
        """Decorator: called for each publish; return False or raise Rejected to refuse."""
        return self._register("publish", fn)

    def on_play(self, fn: Callback) -> Callback:
        """Decorator: called for each play; return False or raise Rejected to refuse."""
        return self._register("play", fn)

    def on_frame(self, fn: Callback) -> Callback:
        """Decorator: called with every frame of every stream (event.frame)."""
        return self._register("frame", fn)

    def on_unpublish(self, fn: Callback) -> Callback:
        """Decorator: called when a publish ends."""
        return self._register("unpublish", fn)

    def on_play_stop(self, fn: Callback) -> Callback:
        """Decorator: called when a player stops."""
        return self._register("play_stop", fn)

    def on_metadata(self, fn: Callback) -> Callback:
        """Decorator: called when a publisher sends onMetaData (event.metadata)."""
        return self._register("metadata", fn)

    def on_disconnect(self, fn: Callback) -> Callback:
        """Decorator: called when a connection closes (event.reason)."""
        return self._register("disconnect", fn)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "Server":
        """Binds the listeners and starts serving (and dispatching, with callbacks)."""
        with self._lock:
            if self._native is not None:
                return self
            manual = self._manual
            if manual is None:
                manual = any(name in self._callbacks for name in _DECISIONS)
            tap_all = self._tap_all
            if tap_all is None:
                tap_all = "frame" in self._callbacks
            self._native = _native.NativeServer(
                self._listen,
                manual_decisions=manual,
                tap_all=tap_all,
                tls=self._rtmps,
                **self._settings,
            )
            _live.add(self)
            if self._callbacks:
                self._dispatcher = threading.Thread(
                    target=self._dispatch,
                    args=(self._native, dict(self._callbacks)),
                    name="rtmp_core-dispatcher",
                    daemon=True,
                )
                self._dispatcher.start()
        return self

    def serve_forever(self) -> None:
        """Starts if needed and blocks until ``close()`` (from another thread or a
        callback) or Ctrl-C, which closes the server and returns."""
        native = self.start()._native
        assert native is not None
        stopped = threading.Event()
        try:
            while not native.closed:
                stopped.wait(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.close()

    def close(self) -> None:
        """Stops accepting, tells publishers and players, closes every connection and
        joins the library's threads (bounded time). Idempotent."""
        native = self._native
        if native is None:
            return
        native.close()
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join()
        _live.discard(self)

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ events
    def events(self, timeout: Optional[float] = None) -> EventStream:
        """Iterates over events (``for`` or ``async for``) until the server is closed, or
        until no event came for ``timeout`` seconds. Only without callbacks."""
        if self._callbacks:
            raise InvalidStateError("events() and callbacks both want the events: use one")
        native = self.start()._native
        assert native is not None
        return EventStream(native.next_events, timeout)

    def _dispatch(self, native: _native.NativeServer, callbacks: Dict[str, Callback]) -> None:
        while True:
            batch = native.next_events(0.25)
            if batch is None:
                return
            for event in batch:
                try:
                    self._deliver(event, callbacks)
                except BaseException:
                    # SystemExit or KeyboardInterrupt from a callback: stop serving rather
                    # than leave later decisions to time out unseen.
                    log.exception("rtmp_core: a callback ended dispatching; closing the server")
                    native.close()
                    raise

    def _deliver(self, event: _native.Event, callbacks: Dict[str, Callback]) -> None:
        kind = event.type
        fn = callbacks.get(kind)
        if event.pending:
            self._decide(event, fn)
        elif fn is not None:
            try:
                fn(event)
            except Exception:
                log.exception("rtmp_core: the on_%s callback raised", kind)

    @staticmethod
    def _decide(event: _native.Event, fn: Optional[Callback]) -> None:
        if fn is None:
            event.accept()
            return
        try:
            verdict = fn(event)
        except Rejected as refusal:
            event.reject(refusal.description, refusal.code)
            return
        except Exception:
            log.exception("rtmp_core: the on_%s callback raised; refusing", event.type)
            event.reject("internal error")
            return
        if verdict is False:
            event.reject("rejected")
        else:
            event.accept()

    # ------------------------------------------------------------------ the rest
    def _running(self) -> _native.NativeServer:
        if self._native is None:
            raise InvalidStateError("the server is not started")
        return self._native

    @property
    def local_addrs(self) -> List[str]:
        """The bound addresses as "host:port"."""
        return self._running().local_addrs

    @property
    def port(self) -> int:
        """The first listener's port (the real one when 0 was asked)."""
        return int(self.local_addrs[0].rsplit(":", 1)[1])

    @property
    def connection_count(self) -> int:
        return self._running().connection_count

    def tap(self, app: str, stream: str, on: bool = True) -> None:
        """Starts or stops delivering a stream's frames as "frame" events."""
        self._running().tap(app, stream, on)

    def publisher(self, app: str, stream: str) -> _native.LocalPublisher:
        """A LocalPublisher that sends the application's own frames into app/stream."""
        return self._running().publisher(app, stream)

    def connection_stats(self) -> List[Dict[str, Any]]:
        """Bytes, frames, drops, queue depth and uptime of every open connection."""
        return self._running().connection_stats()

    def stream_stats(self) -> List[Dict[str, Any]]:
        """Publishing state, players, frames, bytes and bitrate of every stream."""
        return self._running().stream_stats()

    def __repr__(self) -> str:
        state = "closed" if self._native and self._native.closed else (
            "serving " + ", ".join(self._native.local_addrs) if self._native else "not started"
        )
        return f"<rtmp_core.Server {state}>"
