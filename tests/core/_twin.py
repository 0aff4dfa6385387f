"""``Twin``: a sync or async client behind one interface, the base of every such wrapper in
tests/core (STYLE.md §5: one test body for both clients).

A module of its own, not ``conftest``: ``from conftest import ...`` resolves to whichever
folder's conftest Python imported first.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any

import httpx

from dashscope_core import AsyncDashScope, DashScope


async def collect_async(items: AsyncIterable[Any]) -> list[Any]:
    """Every item of an async iterator."""
    return [item async for item in items]


class Twin:
    """A ``DashScope`` (``mode == "sync"``) or ``AsyncDashScope`` (any other mode).

    ``run`` gives a call's result (awaited for the async client), ``collect`` a whole stream;
    the client's sleeps are recorded in ``sleeps`` (and passed to ``on_sleep``), slept only
    with ``wait=True``.
    ``transport`` (e.g. an ``httpx.MockTransport``) puts an httpx client of the right kind
    under the client. ``close`` closes the client, the httpx client given or made, and the loop.
    """

    def __init__(
        self,
        mode: str,
        *,
        transport: Any = None,
        http_client: Any = None,
        on_sleep: Callable[[float], None] | None = None,
        wait: bool = False,
        **options: Any,
    ) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        self._on_sleep, self._wait = on_sleep, wait
        self._runner = None if mode == "sync" else asyncio.Runner()
        self.client: Any
        if mode == "sync":
            self._http = httpx.Client(transport=transport) if transport else http_client
            self.client = DashScope(sleep=self._slept, http_client=self._http, **options)
        else:
            self._http = httpx.AsyncClient(transport=transport) if transport else http_client
            self.client = AsyncDashScope(sleep=self._aslept, http_client=self._http, **options)

    def _record(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self._on_sleep is not None:
            self._on_sleep(seconds)

    def _slept(self, seconds: float) -> None:
        self._record(seconds)
        if self._wait:
            time.sleep(seconds)

    async def _aslept(self, seconds: float) -> None:
        self._record(seconds)
        if self._wait:
            await asyncio.sleep(seconds)

    def run(self, value: Any) -> Any:
        """The result of a call (awaited for the async client)."""
        return self._runner.run(value) if self._runner is not None else value

    def collect(self, items: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
        """Every item of a (sync or async) iterator."""
        if self._runner is not None:
            return self._runner.run(collect_async(items))  # type: ignore[arg-type]
        return list(items)  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the client, its httpx client and the event loop."""
        if self._runner is None:
            self.client.close()
            if self._http is not None:
                self._http.close()
            return
        self._runner.run(self.client.close())
        if self._http is not None:
            self._runner.run(self._http.aclose())
        self._runner.close()
