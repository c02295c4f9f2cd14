"""Forwards the native library's log records to Python's ``logging``.

Records are queued by the library's threads and delivered here by one daemon thread, to
loggers named after the Rust module ("rtmp_core.runtime.worker", ...), so they obey the
application's logging configuration. ``set_log_level`` changes what is forwarded.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Optional, Union

from . import _native

_pump: Optional[threading.Thread] = None
_lock = threading.Lock()


def _run() -> None:
    while not sys.is_finalizing():
        try:
            records = _native.drain_logs(0.5)
            for level, target, message in records:
                logging.getLogger(target.replace("::", ".")).log(level, "%s", message)
        except Exception:
            if sys.is_finalizing():
                return
            # Forwarding must outlive a broken handler; say so on stderr, keep going.
            traceback.print_exc()


def set_log_level(level: Union[int, str]) -> None:
    """Forwards records at ``level`` ("debug", logging.INFO, ...) or above.

    The default is the "rtmp_core" logger's effective level when the module is imported.
    """
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            raise ValueError(f"unknown log level {level!r}")
    if not _native.set_log_level(level):
        logging.getLogger("rtmp_core").warning(
            "another Rust logger is installed in this process; rtmp_core's records go there"
        )
        return
    global _pump
    with _lock:
        if _pump is None:
            _pump = threading.Thread(target=_run, name="rtmp_core-logging", daemon=True)
            _pump.start()
