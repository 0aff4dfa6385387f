"""The hub over real loopback HTTP against the emulator, for every sender.

Senders: ``sync`` (httpx.Client), ``aiohttp`` (AsyncDashScope's default with the extra),
``httpx`` (an injected httpx.AsyncClient) and ``httpx-aiohttp`` (an injected
``httpx_aiohttp.HttpxAiohttpClient``, whose aiohttp errors arrive wrapped in httpx ones).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from _twin import Twin

from dashscope_core import AsyncDashScope, RetryPolicy
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    RateLimitError,
)

GEN = "/services/aigc/text-generation/generation"
KEY = "sk-hub-http-key"
BODY = {
    "model": "qwen-turbo",
    "input": {"messages": [{"role": "user", "content": "hello"}]},
    "parameters": {"result_format": "message", "incremental_output": True},
}
SENDERS = ["sync", "aiohttp", "httpx", "httpx-aiohttp"]


def _injected(sender: str) -> Any:
    """The httpx client a sender flavour injects (None: the client's own pools)."""
    if sender == "httpx":
        return httpx.AsyncClient()
    if sender == "httpx-aiohttp":
        from httpx_aiohttp import HttpxAiohttpClient

        return HttpxAiohttpClient()
    return None


class Http(Twin):
    """One client of one sender flavour; ``run``/``collect`` hide sync vs async."""

    def __init__(self, sender: str, base_url: str, **options: Any) -> None:
        self.sender = sender
        options = {"api_key": KEY, "base_url": base_url, **options}
        options.setdefault("retry_policy", RetryPolicy(backoff_base=0.001, jitter=0))
        super().__init__(sender, http_client=_injected(sender), **options)

    def collect_until_error(self, events: Any) -> tuple[list[Any], BaseException]:
        got: list[Any] = []

        async def drain() -> None:
            async for event in events:
                got.append(event)

        try:
            if self._runner is None:
                got.extend(events)
            else:
                self._runner.run(drain())
        except Exception as exc:
            return got, exc
        raise AssertionError("the stream did not fail")


@pytest.fixture(params=SENDERS)
def http(request: pytest.FixtureRequest, hub_server: ServerHandle, hub_emu: Emulator) -> Any:
    """``http(**options)`` builds a client of this test's sender flavour (closed afterwards)."""
    made: list[Http] = []

    def make(**options: Any) -> Http:
        base_url = options.pop("base_url", hub_server.base_url)
        made.append(Http(request.param, base_url, **options))
        return made[-1]

    yield make
    for item in made:
        item.close()


def spec(stream: bool = False) -> RequestSpec:
    return RequestSpec("POST", GEN, json=BODY, stream=stream)


def test_call_and_wire(http: Any, hub_emu: Emulator) -> None:
    hub_emu.script.generation("Hi there")
    ds = http()
    raw = ds.run(ds.client._send(spec()))
    body = raw.json()
    assert body["output"]["choices"][0]["message"]["content"] == "Hi there"
    assert raw.request_id == body["request_id"]
    (received,) = hub_emu.received("generation")
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.headers["user-agent"].startswith("dashscope-ext/")
    assert received.json == BODY


def test_stream_events(http: Any, hub_emu: Emulator) -> None:
    hub_emu.script.generation("one two three four")
    ds = http()
    events = ds.collect(ds.client._stream(spec(stream=True)))
    assert len(events) >= 2
    texts = [json.loads(e.data)["output"]["choices"][0]["message"]["content"] for e in events]
    assert "".join(texts) == "one two three four"
    assert hub_emu.received("generation")[0].headers["x-dashscope-sse"] == "enable"


def test_throttle_retry_after_is_honoured(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("throttle", retry_after=1)
    ds = http()
    assert ds.run(ds.client._send(spec())).status_code == 200
    assert ds.sleeps == [1.0]
    assert len(hub_emu.received("generation")) == 2


@pytest.mark.parametrize("kind", ["server_error", "unavailable", "drop"])
def test_faults_retried(http: Any, hub_emu: Emulator, kind: str) -> None:
    hub_emu.faults.queue(kind, times=2)
    ds = http()
    assert ds.run(ds.client._send(spec())).status_code == 200
    assert len(ds.sleeps) == 2
    assert len(hub_emu.received("generation")) == 3


def test_dropped_connection_is_a_connection_error(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("drop", times=5)
    ds = http(max_retries=0, retry_policy=None)
    with pytest.raises(APIConnectionError) as info:
        ds.run(ds.client._send(spec()))
    assert not isinstance(info.value, APITimeoutError)


def test_stream_error_event_first_is_retried(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("error_event", after=0)
    ds = http()
    assert ds.collect(ds.client._stream(spec(stream=True)))
    assert len(hub_emu.received("generation")) == 2


def test_stream_error_event_mid_stream_raises_typed(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("error_event", after=2)
    ds = http()
    got, exc = ds.collect_until_error(ds.client._stream(spec(stream=True)))
    assert len(got) == 2
    assert isinstance(exc, RateLimitError) and exc.status_code == 429
    assert exc.request_id
    assert len(hub_emu.received("generation")) == 1, "never replayed"


def test_stream_cut_mid_stream_raises_not_replayed(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("cut_stream", after=2)
    ds = http()
    got, exc = ds.collect_until_error(ds.client._stream(spec(stream=True)))
    assert len(got) == 2
    assert isinstance(exc, APIConnectionError) and exc.request_sent
    assert len(hub_emu.received("generation")) == 1


def test_first_byte_timeout(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("slow_first_byte", delay=1.5)
    ds = http(timeout=0.3, max_retries=0, retry_policy=None)
    with pytest.raises(APITimeoutError):
        ds.run(ds.client._send(spec()))


def test_first_byte_timeout_retried(http: Any, hub_emu: Emulator) -> None:
    hub_emu.faults.queue("slow_first_byte", delay=1.5)
    ds = http(timeout=0.3)
    assert ds.run(ds.client._send(spec())).status_code == 200
    assert len(ds.sleeps) == 1


def test_stream_idle_timeout_bounds_the_wait_between_events(http: Any, hub_emu: Emulator) -> None:
    # read timeout 30 s; only the idle timeout can end this stall early
    hub_emu.faults.queue("stall", after=1, delay=1.5)
    ds = http(timeout=30, stream_idle_timeout=0.3)
    got, exc = ds.collect_until_error(ds.client._stream(spec(stream=True)))
    assert len(got) == 1
    assert isinstance(exc, APITimeoutError)
    assert len(hub_emu.received("generation")) == 1


def test_bad_key_typed_error_without_retry(http: Any, hub_emu: Emulator) -> None:
    ds = http(api_key="sk-invalid-key")
    with pytest.raises(AuthenticationError) as info:
        ds.run(ds.client._send(spec()))
    assert info.value.request_id and "sk-invalid-key" not in str(info.value)
    assert len(hub_emu.received("generation")) == 1


def test_connection_refused_is_unsent_connection_error(http: Any) -> None:
    ds = http(base_url="http://127.0.0.1:9/api/v1", max_retries=0, retry_policy=None)
    with pytest.raises(APIConnectionError) as info:
        ds.run(ds.client._send(spec()))
    assert info.value.request_sent is False


async def test_cancelled_stream_leaves_no_open_connection(
    hub_server: ServerHandle, hub_emu: Emulator
) -> None:
    hub_emu.faults.queue("stall", after=1, delay=1.5)
    async with AsyncDashScope(api_key=KEY, base_url=hub_server.base_url) as client:
        got: list[Any] = []
        first = asyncio.Event()

        async def consume() -> None:
            async for event in client._stream(spec(stream=True)):
                got.append(event)
                first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        (session,) = client._transport._loops[asyncio.get_running_loop()].sessions
        assert session.connector is not None
        await asyncio.sleep(0)
        assert sum(len(v) for v in session.connector._conns.values()) == 0
        assert not session.connector._acquired
        # and the client still works
        assert (await client._send(spec())).status_code == 200


def test_query_params_of_any_simple_type(http: Any, hub_emu: Emulator) -> None:
    # yarl (aiohttp) rejects bools; every sender sends them the way httpx does
    ds = http()
    query = {"flag": True, "other": False, "n": 2, "skip": None}
    request = RequestSpec("POST", GEN, json=BODY, params=query)
    assert ds.run(ds.client._send(request)).status_code == 200
