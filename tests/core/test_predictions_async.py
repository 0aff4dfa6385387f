"""Async-only behaviour: asyncio task cancellation and asyncio.Event cancel requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from _prediction_fakes import BASE, KEY, FakeAPI, prediction

from dashscope_core import AsyncDashScope, JobCancelledError


def _client(handler: object) -> AsyncDashScope:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return AsyncDashScope(api_key=KEY, base_url=BASE, http_client=http)


async def test_task_cancellation_cancels_server_side_and_reraises() -> None:
    calls: list[str] = []
    polled = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path.removeprefix('/api/v1')}")
        if request.url.path.endswith("/cancel"):
            return httpx.Response(200, json=prediction(status="canceled"))
        if request.method == "GET":
            polled.set()
            return httpx.Response(200, json=prediction(status="processing"))
        return httpx.Response(201, json=prediction())

    client = _client(handler)
    task = asyncio.create_task(client.run("acme/hello", input={}, interval=3600.0))
    await asyncio.wait_for(polled.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == [
        "POST /models/acme/hello/predictions",
        "GET /predictions/p1",
        "POST /predictions/p1/cancel",
    ]


async def test_asyncio_event_cuts_the_sleep_short() -> None:
    api = FakeAPI()
    api.expect("POST", "/predictions", prediction(), status=201)
    api.expect("GET", "/predictions/p1", prediction(status="processing"))
    api.expect("POST", "/predictions/p1/cancel", prediction(status="canceled"))
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, cancel.set)
    with pytest.raises(JobCancelledError) as info:
        await _client(api.handler).run("acme/hello:abc", input={}, cancel=cancel, interval=3600)
    assert info.value.reason == "cancel"
    assert api.calls[-1] == ("POST", "/predictions/p1/cancel") and api.replies == []
