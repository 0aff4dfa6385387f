"""Emulator hardening: loopback only, 413 on oversized bodies, arbitrary bytes never crash it,
and it counts what it received (requests, faults, open connections)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from _reliability_keys import KEY
from hypothesis import given, settings
from hypothesis import strategies as st

from dashscope_core.emulator import Emulator, ServerHandle, serve

REQUEST = b"POST /api/v1/services/aigc/text-generation/generation HTTP/1.1\r\nHost: x\r\n"


@pytest.fixture(scope="module")
def small_server() -> Iterator[ServerHandle]:
    """An emulator with a 1 KiB body limit."""
    with serve(Emulator(seed=4), max_body_size=1024) as handle:
        yield handle


def _raw(handle: ServerHandle, data: bytes) -> bytes:
    with socket.create_connection((handle.host, handle.port), timeout=5) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _alive(handle: ServerHandle) -> None:
    url = f"{handle.base_url}/services/embeddings/text-embedding/text-embedding"
    body = {"model": "text-embedding-v3", "input": {"texts": ["a"]}}
    response = httpx.post(url, headers={"Authorization": f"Bearer {KEY}"}, json=body)
    assert response.status_code == 200


def test_binds_loopback_by_default(small_server: ServerHandle) -> None:
    assert small_server.host == "127.0.0.1"


def test_oversized_body_is_413(small_server: ServerHandle) -> None:
    body = b"x" * 5000
    head = REQUEST + f"Content-Length: {len(body)}\r\n\r\n".encode()
    answer = _raw(small_server, head + body)
    assert answer.startswith(b"HTTP/1.1 413") and b"RequestTooLarge" in answer
    _alive(small_server)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=400) | st.builds(lambda b: REQUEST + b, st.binary(max_size=200)))
def test_arbitrary_bytes_never_crash_the_server(small_server: ServerHandle, data: bytes) -> None:
    answer = _raw(small_server, data)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    _alive(small_server)
    assert small_server.server is not None


def test_counts_what_it_received(small_server: ServerHandle) -> None:
    emu = small_server.emulator
    emu.reset()
    emu.faults.queue("throttle", retry_after=0.01)
    with httpx.Client() as client:
        url = f"{small_server.base_url}/services/embeddings/text-embedding/text-embedding"
        body = {"model": "text-embedding-v3", "input": {"texts": ["a"]}}
        for _ in range(2):
            client.post(url, headers={"Authorization": f"Bearer {KEY}"}, json=body)
    assert emu.counters["embeddings"] == 2 and emu.faults.injected["throttle"] == 1
    assert len(emu.received("embeddings")) == 2
