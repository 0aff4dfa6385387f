"""Fixtures of the core tests.

Generation / embeddings tests (``gen_*``): one loopback emulator per session, reset around every
test, and ``gen_ds``: the same test body runs with a ``DashScope`` and an ``AsyncDashScope``
(STYLE.md §5): ``gen_ds.run(gen_ds.client.generation.call(...))``,
``gen_ds.collect(gen_ds.client.generation.stream(...))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _gen_client import GenClient
from _twin import Twin

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


class HubClient(Twin):
    """A sync or async hub client over a MockTransport handler, recording its sleeps."""

    def __init__(self, mode: str, handler: Any, **options: Any) -> None:
        from dashscope_core import RetryPolicy

        options.setdefault("retry_policy", RetryPolicy(backoff_base=0.001, jitter=0.0))
        options.setdefault("api_key", HUB_API_KEY)
        options.setdefault("base_url", HUB_BASE_URL)
        super().__init__(mode, transport=httpx.MockTransport(handler), **options)


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
