"""Fixtures of the emulator tests: HTTP clients on the shared emulator (``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from dashscope_core.emulator import Emulator, ServerHandle, create_app

API_KEY = "sk-emulator-test"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


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
