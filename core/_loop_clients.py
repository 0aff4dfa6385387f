"""One ``AsyncDashScope`` per event loop, for framework classes that keep clients between calls.

Why: an async client's pooled connections (an aiohttp session, an httpx pool) belong to the loop
that opened them. A model used from several loops (``asyncio.run`` twice, pytest-asyncio's
per-test loops, a thread with its own loop) would otherwise reuse a client whose loop is gone:
"Unclosed client session" warnings, or errors from sockets bound to a closed loop.

Rules of this module:
- ``get()`` returns the running loop's client, creating it on first use.
- A client is closed (awaited) when its loop shuts down its async generators, which
  ``asyncio.run`` / ``asyncio.Runner`` / pytest-asyncio do before closing the loop.
- Clients of loops closed without that are discarded on the next ``get()`` (and when the
  cache is garbage-collected or the interpreter exits) without awaiting anything: their loop
  cannot run coroutines any more, so the sockets are closed synchronously.
- ``aclose_current()`` closes the running loop's client properly (awaited).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from dashscope_core._client import AsyncDashScope

__all__ = ["LoopClients"]


class _Entry:
    """A loop, its client, and a suspended async generator that closes the client when the
    loop shuts its async generators down (``asyncio.run`` and ``Runner`` do, before closing)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: AsyncDashScope) -> None:
        self.loop = loop
        self.client = client
        self.discarded = False
        self.sentinel = self._close_at_shutdown()
        _step(self.sentinel.asend(None))  # registers it with the running loop, runs to `yield`

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if not self.discarded:
                await self.client.close()

    def discard(self) -> None:
        """The loop is closed: close the client's sockets synchronously, retire the sentinel."""
        self.discarded = True
        if self.client._owns_http:
            self.client._sender.discard()
        # finishes at once (nothing awaited): no finaliser is scheduled on the dead loop
        with contextlib.suppress(RuntimeError):
            _step(self.sentinel.aclose())


def _step(awaitable: Awaitable[Any]) -> None:
    """Run a coroutine that completes without suspending (its first step is its last)."""
    coroutine = awaitable.__await__()
    try:
        next(coroutine)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("expected a step without suspension")


def _discard_all(entries: dict[int, _Entry], lock: threading.Lock) -> None:
    with lock:
        dropped = list(entries.values())
        entries.clear()
    for entry in dropped:
        entry.discard()


class LoopClients:
    """A per-event-loop cache of ``AsyncDashScope`` clients built by ``factory``."""

    def __init__(self, factory: Callable[[], AsyncDashScope]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._entries: dict[int, _Entry] = {}
        # at garbage collection or interpreter exit: no "Unclosed client session" warnings
        weakref.finalize(self, _discard_all, self._entries, self._lock)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loops={len(self._entries)})"

    def get(self) -> AsyncDashScope:
        """The running loop's client (created on first use); must be called inside a loop."""
        loop = asyncio.get_running_loop()
        entry = self._entries.get(id(loop))  # the hot path: this loop's client exists
        if entry is not None and entry.loop is loop:
            return entry.client
        self.discard_finished()
        with self._lock:
            entry = self._entries.get(id(loop))
            if entry is None or entry.loop is not loop:
                entry = self._entries[id(loop)] = _Entry(loop, self._factory())
            return entry.client

    def discard_finished(self) -> int:
        """Discard the clients of closed loops; returns how many were dropped."""
        with self._lock:
            done = [key for key, entry in self._entries.items() if entry.loop.is_closed()]
            dropped = [self._entries.pop(key) for key in done]
        for entry in dropped:
            entry.discard()
        return len(dropped)

    async def aclose_current(self) -> None:
        """Close and forget the running loop's client (if any)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.pop(id(loop), None)
        if entry is not None and entry.loop is loop:
            entry.discarded = True  # closed here, not again by the sentinel
            await entry.sentinel.aclose()
            await entry.client.close()

    def __len__(self) -> int:
        return len(self._entries)
