"""Fixtures of the reliability suite: a loopback emulator, reset around every test.

The larger load variant runs with ``-m slow`` or ``RELIABILITY_CALLS=20000``; it is skipped
otherwise so the default test command stays fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from dashscope_core.emulator import Emulator, ServerHandle, serve

KEY = "sk-reliability-tests"


@pytest.fixture(scope="session")
def rel_server() -> Iterator[ServerHandle]:
    """A loopback emulator shared by the reliability tests."""
    with serve(Emulator(seed=3)) as handle:
        yield handle


@pytest.fixture
def rel_emu(rel_server: ServerHandle) -> Iterator[Emulator]:
    """The emulator's state, reset before and after the test."""
    rel_server.emulator.reset()
    yield rel_server.emulator
    rel_server.emulator.reset()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless selected with ``-m slow`` or RELIABILITY_CALLS is set."""
    if "slow" in (config.getoption("-m") or "") or os.environ.get("RELIABILITY_CALLS"):
        return
    skip = pytest.mark.skip(reason="larger variant: run with -m slow or RELIABILITY_CALLS=N")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
