"""``GenClient``: a sync or async client behind one interface (shared by tests/core).

A module of its own, not ``conftest``: ``from conftest import ...`` resolves to whichever
folder's conftest Python imported first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable
from typing import Any

from dashscope_core import AsyncDashScope, DashScope

GEN_API_KEY = "sk-generation-tests"


async def _no_sleep(_: float) -> None:
    return None


async def collect_async(items: AsyncIterable[Any]) -> list[Any]:
    return [item async for item in items]


class GenClient:
    """A sync or async client behind one interface: ``run`` awaits when needed."""

    def __init__(self, mode: str, base_url: str, api_key: str = GEN_API_KEY, **options: Any):
        self.mode = mode
        self._runner = asyncio.Runner() if mode == "async" else None
        self.client: Any
        if mode == "async":
            self.client = AsyncDashScope(api_key=api_key, base_url=base_url, sleep=_no_sleep,
                                         **options)  # fmt: skip
        else:
            self.client = DashScope(api_key=api_key, base_url=base_url, sleep=lambda _: None,
                                    **options)  # fmt: skip

    def run(self, value: Any) -> Any:
        """The result of a call (awaited for the async client)."""
        return self._runner.run(value) if self._runner is not None else value

    def collect(self, chunks: Iterable[Any] | AsyncIterable[Any]) -> list[Any]:
        """All chunks of a stream."""
        if self._runner is not None:
            return self._runner.run(collect_async(chunks))  # type: ignore[arg-type]
        return list(chunks)  # type: ignore[arg-type]

    def derive(self, api_key: str = GEN_API_KEY, **options: Any) -> GenClient:
        """Another wrapper of the same mode with another key or client options (close it)."""
        return GenClient(self.mode, self.client.base_url, api_key, **options)

    def close(self) -> None:
        """Close the client (and the event loop of the async one)."""
        if self._runner is not None:
            self._runner.run(self.client.close())
            self._runner.close()
        else:
            self.client.close()
