"""Fixtures every test folder shares: one loopback emulator per session, reset around each test.

A folder that needs a differently configured server (a body limit, fault rates, a quiet
connection count) starts its own with ``serve(...)`` under another fixture name.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _app_session_server import SessionServer, session_server

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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free loopback port, for the session (no persistence)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not installed (.ci/run installs it: apt-get install redis-server)"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir: Path = tmp_path_factory.mktemp("redis")
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "no", "--dir", str(workdir)]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on port {port} within {seconds} s")


@pytest.fixture(scope="session")
def sessions() -> Iterator[SessionServer]:
    """An independent Bailian app server that records only prompt turns (as the service)."""
    with session_server() as state:
        yield state
