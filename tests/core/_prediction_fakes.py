"""Test doubles for the prediction-API tests: a scripted ``httpx.MockTransport`` and one
``DS`` wrapper so each test body runs with ``DashScope`` and ``AsyncDashScope`` (STYLE.md §5).

The transport is the boundary (nothing of ours is mocked): every request is recorded as it
reached the wire, replies are served in order, and a request that was not expected fails.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from _twin import Twin

BASE = "https://api.example.com/api/v1"
KEY = "sk-secret-prediction-key"


@dataclass
class Reply:
    """One expected request (method, path) and the answer to give."""

    method: str
    path: str
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None
    """Raw body pieces (an SSE stream split anywhere)."""
    on_request: Callable[[], None] | None = None


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered in exactly the given pieces, for sync and async clients."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


class FakeAPI:
    """Scripted replies in order; ``requests`` is what reached the wire."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[httpx.Request] = []

    def expect(
        self, method: str, path: str, body: Any = None, status: int = 200, **options: Any
    ) -> FakeAPI:
        """Queue the reply to the next request, which must be ``method path``."""
        self.replies.append(Reply(method, path, status, body, **options))
        return self

    def handler(self, request: httpx.Request) -> httpx.Response:
        """The MockTransport handler."""
        self.requests.append(request)
        assert self.replies, f"unexpected request {request.method} {request.url}"
        reply = self.replies.pop(0)
        target = request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        if not reply.path.startswith("http"):
            assert (request.method, target) == (reply.method, "/api/v1" + reply.path), target
        else:
            assert (request.method, str(request.url)) == (reply.method, reply.path)
        if reply.on_request is not None:
            reply.on_request()
        if reply.chunks is not None:
            return httpx.Response(reply.status, headers=reply.headers, stream=Chunks(reply.chunks))
        content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        headers = {"content-type": "application/json", **reply.headers}
        return httpx.Response(reply.status, headers=headers, content=content)

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(method, path below the base URL)`` of every request so far."""
        return [(r.method, r.url.path.removeprefix("/api/v1")) for r in self.requests]

    def json(self, index: int) -> Any:
        """The JSON body of request ``index``."""
        return json.loads(self.requests[index].content)


class Clock:
    """A fake monotonic clock that the injected sleep advances."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class DS(Twin):
    """A sync or async client on a ``FakeAPI``; its sleeps advance ``clock``."""

    def __init__(self, mode: str, api: FakeAPI, **options: Any) -> None:
        self.api = api
        self.clock = Clock()
        super().__init__(mode, transport=httpx.MockTransport(api.handler), api_key=KEY,
                         base_url=BASE, on_sleep=self.clock.sleep, **options)  # fmt: skip
        self.client._clock = self.clock


def prediction(pid: str = "p1", status: str = "starting", **fields: Any) -> dict[str, Any]:
    """A prediction body as the API returns it."""
    urls = {"get": f"{BASE}/predictions/{pid}", "cancel": f"{BASE}/predictions/{pid}/cancel"}
    return {
        "id": pid,
        "status": status,
        "input": {},
        "output": None,
        "logs": "",
        "error": None,
        "urls": urls,
        **fields,
    }


@pytest.fixture(params=["sync", "async"])
def ds(request: pytest.FixtureRequest) -> Iterator[DS]:
    """A sync or an async client on a fresh ``FakeAPI``; every queued reply must be used."""
    wrapper = DS(request.param, FakeAPI())
    try:
        yield wrapper
    finally:
        wrapper.close()
    assert wrapper.api.replies == [], "expected requests that never came"
