"""Fixtures: one loopback emulator per session, state reset around every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from dashscope_core.emulator import Emulator, ServerHandle, create_app, serve

API_KEY = "sk-emulator-test"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    with serve(Emulator(seed=7), max_body_size=1024 * 1024) as handle:
        yield handle


@pytest.fixture
def emu(server: ServerHandle) -> Iterator[Emulator]:
    server.emulator.reset()
    yield server.emulator
    server.emulator.reset()


@pytest.fixture
def client(server: ServerHandle, emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=AUTH, timeout=5) as http:
        yield http


@pytest.fixture
async def aclient() -> AsyncIterator[httpx.AsyncClient]:
    """In-process client over ``httpx.ASGITransport`` with its own emulator."""
    transport = httpx.ASGITransport(app=create_app(Emulator(seed=7)))
    base = "http://emulator.test/api/v1"
    async with httpx.AsyncClient(transport=transport, base_url=base, headers=AUTH) as http:
        yield http


@pytest.fixture
def server_url(server: ServerHandle) -> str:
    return server.base_url
