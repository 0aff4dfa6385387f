"""Fixtures of the core tests.

Generation / embeddings tests (``gen_*``): one loopback emulator per session, reset around every
test, and ``gen_ds``: the same test body runs with a ``DashScope`` and an ``AsyncDashScope``
(STYLE.md §5): ``gen_ds.run(gen_ds.client.generation.call(...))``,
``gen_ds.collect(gen_ds.client.generation.stream(...))``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import Any

import pytest

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle, serve

GEN_API_KEY = "sk-generation-tests"


@pytest.fixture(scope="session")
def gen_server() -> Iterator[ServerHandle]:
    """A loopback emulator shared by the generation and embeddings tests."""
    with serve(Emulator(seed=11)) as handle:
        yield handle


@pytest.fixture
def gen_emu(gen_server: ServerHandle) -> Iterator[Emulator]:
    """The emulator's state, reset before and after the test."""
    gen_server.emulator.reset()
    yield gen_server.emulator
    gen_server.emulator.reset()


async def _no_sleep(_: float) -> None:
    return None


async def _collect_async(items: AsyncIterable[Any]) -> list[Any]:
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
            return self._runner.run(_collect_async(chunks))  # type: ignore[arg-type]
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


@pytest.fixture(params=["sync", "async"])
def gen_ds(
    request: pytest.FixtureRequest, gen_server: ServerHandle, gen_emu: Emulator
) -> Iterator[GenClient]:
    """A sync or an async client pointed at the emulator."""
    wrapper = GenClient(request.param, gen_server.base_url)
    try:
        yield wrapper
    finally:
        wrapper.close()
