"""Fixtures every test folder shares: one loopback emulator per session, reset around each test.

A folder that needs a differently configured server (a body limit, fault rates, a quiet
connection count) starts its own with ``serve(...)`` under another fixture name.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashscope_core.emulator import Emulator, ServerHandle, serve

EMULATOR_SEED = 7
MAX_BODY_SIZE = 1024 * 1024
"""The shared server's body limit: ``tests/emulator`` checks the 413 just above it."""


@pytest.fixture(scope="session")
def server() -> Iterator[ServerHandle]:
    """The emulator on a loopback port for the whole session."""
    with serve(Emulator(seed=EMULATOR_SEED), max_body_size=MAX_BODY_SIZE) as handle:
        yield handle


@pytest.fixture
def emu(server: ServerHandle) -> Iterator[Emulator]:
    """The session emulator's state (scripts, faults, received requests), reset before and
    after the test."""
    server.emulator.reset()
    yield server.emulator
    server.emulator.reset()
