"""Shared fixtures for the LangChain tests: one emulator per session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashscope_core.emulator import serve
from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.state import Emulator

FAKE_KEY = "sk-test-langchain"


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    """The emulator on a loopback port for the whole session."""
    with serve() as handle:
        yield handle


@pytest.fixture
def emu(server: ServerHandle) -> Iterator[Emulator]:
    """The emulator's state, clean for each test."""
    server.emulator.reset()
    yield server.emulator
    server.emulator.reset()


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests pass their keys explicitly; a developer's real key or endpoint is never used."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
