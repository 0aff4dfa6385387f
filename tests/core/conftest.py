"""Fixtures of the core tests.

Generation / embeddings tests (``gen_*``): one loopback emulator per session, reset around every
test, and ``gen_ds``: the same test body runs with a ``DashScope`` and an ``AsyncDashScope``
(STYLE.md §5): ``gen_ds.run(gen_ds.client.generation.call(...))``,
``gen_ds.collect(gen_ds.client.generation.stream(...))``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from _gen_client import GenClient, collect_async

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle


@pytest.fixture(scope="session")
def gen_server(server: ServerHandle) -> ServerHandle:
    """The shared session emulator (``tests/conftest.py``), as the generation tests name it."""
    return server


@pytest.fixture
def gen_emu(emu: Emulator) -> Emulator:
    """The shared emulator's state, reset before and after the test."""
    return emu


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


# --- hub tests (``hub_*``): the transport hub over httpx.MockTransport, sync and async --------

HUB_API_KEY = "sk-hub-secret-0123456789"
HUB_BASE_URL = "https://dashscope.test/api/v1"


class HubClient:
    """A sync or async hub client over a MockTransport handler, recording its sleeps."""

    def __init__(self, mode: str, handler: Any, **options: Any) -> None:
        import httpx

        from dashscope_core import RetryPolicy

        self.mode = mode
        self.sleeps: list[float] = []
        options.setdefault("retry_policy", RetryPolicy(backoff_base=0.001, jitter=0.0))
        options.setdefault("api_key", HUB_API_KEY)
        options.setdefault("base_url", HUB_BASE_URL)
        transport = httpx.MockTransport(handler)
        self._runner = asyncio.Runner() if mode == "async" else None
        self.client: Any
        if mode == "async":

            async def record(seconds: float) -> None:
                self.sleeps.append(seconds)

            http = httpx.AsyncClient(transport=transport)
            self.client = AsyncDashScope(http_client=http, sleep=record, **options)
        else:
            http_sync = httpx.Client(transport=transport)
            self.client = DashScope(http_client=http_sync, sleep=self.sleeps.append, **options)
        self._http = http if mode == "async" else http_sync

    def run(self, value: Any) -> Any:
        """The result of a call (awaited for the async client)."""
        return self._runner.run(value) if self._runner is not None else value

    def collect(self, events: Any) -> list[Any]:
        """All items of a (sync or async) iterator."""
        if self._runner is not None:
            return self._runner.run(collect_async(events))
        return list(events)

    def close(self) -> None:
        """Close the injected httpx client and the event loop."""
        if self._runner is not None:
            self._runner.run(self._http.aclose())  # type: ignore[union-attr]
            self._runner.close()
        else:
            self._http.close()  # type: ignore[union-attr]


@pytest.fixture(params=["sync", "async"])
def hub_mode(request: pytest.FixtureRequest) -> str:
    """``"sync"`` or ``"async"``: hub tests run once per client."""
    return str(request.param)


@pytest.fixture
def hub_make(hub_mode: str) -> Iterator[Any]:
    """``hub_make(handler, **client_options) -> HubClient`` (closed after the test)."""
    made: list[HubClient] = []

    def make(handler: Any, **options: Any) -> HubClient:
        made.append(HubClient(hub_mode, handler, **options))
        return made[-1]

    yield make
    for hub in made:
        hub.close()


@pytest.fixture(scope="session")
def hub_server(server: ServerHandle) -> ServerHandle:
    """The shared session emulator, for the hub's real-HTTP tests (faults, timeouts, wire)."""
    return server


@pytest.fixture
def hub_emu(emu: Emulator) -> Emulator:
    """The shared emulator's state, reset before and after the test."""
    return emu
