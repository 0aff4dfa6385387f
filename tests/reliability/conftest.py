"""Fixtures of the reliability suite: the shared emulator (``tests/conftest.py``) by its names here.

The larger load variant runs with ``-m slow`` or ``RELIABILITY_CALLS=20000``; it is skipped
otherwise so the default test command stays fast.
"""

from __future__ import annotations

import os

import pytest

from dashscope_core.emulator import Emulator, ServerHandle


@pytest.fixture(scope="session")
def rel_server(server: ServerHandle) -> ServerHandle:
    """The shared session emulator (``tests/conftest.py``) under this suite's name."""
    return server


@pytest.fixture
def rel_emu(emu: Emulator) -> Emulator:
    """The shared emulator's state, reset before and after the test."""
    return emu


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``slow`` tests unless selected with ``-m slow`` or RELIABILITY_CALLS is set."""
    if "slow" in (config.getoption("-m") or "") or os.environ.get("RELIABILITY_CALLS"):
        return
    skip = pytest.mark.skip(reason="larger variant: run with -m slow or RELIABILITY_CALLS=N")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
