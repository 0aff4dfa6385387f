"""Base classes of the namespace twins (they only hold the client), and the bounded gather
that async twins of split calls (embeddings, rerank) send their requests with."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope

T = TypeVar("T")
R = TypeVar("R")


class SyncNamespace:
    """A group of calls on a ``DashScope`` client."""

    def __init__(self, client: DashScope) -> None:
        self._client = client


class AsyncNamespace:
    """A group of calls on an ``AsyncDashScope`` client."""

    def __init__(self, client: AsyncDashScope) -> None:
        self._client = client


async def bounded_gather(
    run: Callable[[T], Awaitable[R]], items: Sequence[T], limit: int
) -> list[R]:
    """``run`` over ``items`` with at most ``limit`` at once; results in order; fail fast."""
    gate = asyncio.Semaphore(limit)

    async def one(item: T) -> R:
        async with gate:
            return await run(item)

    tasks = [asyncio.ensure_future(one(item)) for item in items]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
