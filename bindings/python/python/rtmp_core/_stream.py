"""Iteration over batches from the native layer, for ``for`` and ``async for``."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Callable, Deque, List, Optional

# How long one executor call waits under asyncio, so cancellation is prompt.
_ASYNC_SLICE = 0.2


class EventStream:
    """Yields items from ``fetch(timeout)`` (a list, [] on timeout, None at the end).

    Plain iteration blocks the calling thread (releasing the GIL); ``async for`` waits
    in the event loop's default executor.
    """

    def __init__(self, fetch: Callable[[Optional[float]], Optional[List[Any]]], timeout: Optional[float]) -> None:
        self._fetch = fetch
        self._timeout = timeout
        self._buffer: Deque[Any] = deque()
        self._done = False

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Any:
        if not self._buffer and not self._done:
            batch = self._fetch(self._timeout)
            if batch:
                self._buffer.extend(batch)
            else:
                self._done = batch is None or self._timeout is not None
                if not self._done:
                    return self.__next__()
        if self._buffer:
            return self._buffer.popleft()
        raise StopIteration

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Any:
        loop = asyncio.get_running_loop()
        waited = 0.0
        while not self._buffer and not self._done:
            wait = _ASYNC_SLICE if self._timeout is None else min(_ASYNC_SLICE, self._timeout - waited)
            batch = await loop.run_in_executor(None, self._fetch, max(wait, 0.0))
            if batch is None:
                self._done = True
            elif batch:
                self._buffer.extend(batch)
            else:
                waited += wait
                if self._timeout is not None and waited >= self._timeout:
                    self._done = True
        if self._buffer:
            return self._buffer.popleft()
        raise StopAsyncIteration
