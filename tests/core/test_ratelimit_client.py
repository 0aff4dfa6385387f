"""Clients with ``rate_limit=`` against servers that enforce limits: they wait, never fail.

Servers: the emulator (per-model RPM/TPM, per second, burst guard) and ``_throttling_server``,
written for these tests with fixed per-second windows. Every test runs with ``DashScope`` and
``AsyncDashScope``; bursts are concurrent (threads for the sync client, tasks for the async one).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from _gen_client import GenClient
from _throttling_server import throttling_server

from dashscope_core import (
    AsyncDashScope,
    DashScope,
    RateLimit,
    RateLimitWait,
    RetryPolicy,
    observe_rate_limits,
)
from dashscope_core._protocol.retry import THROTTLE_RETRIES
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import RateLimitError

MODEL = "qwen-plus"


def _key() -> str:
    return f"sk-{uuid.uuid4().hex}"  # each test its own account: its own budgets


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"question number {i} about pacing " * (1 + i % 5)}]


def _burst(ds: GenClient, n: int, model: str = MODEL) -> list[Any]:
    """``n`` calls at once (every other one streamed); results or exceptions, in order."""
    client = ds.client
    if ds.mode == "async":

        async def one(i: int) -> Any:
            if i % 2:
                stream = client.generation.stream(model=model, messages=_messages(i))
                return [c async for c in stream]
            return await client.generation.call(model=model, messages=_messages(i))

        async def all_of() -> list[Any]:
            return await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)

        return ds.run(all_of())  # type: ignore[no-any-return]

    def one_sync(i: int) -> Any:
        try:
            if i % 2:
                return list(client.generation.stream(model=model, messages=_messages(i)))
            return client.generation.call(model=model, messages=_messages(i))
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one_sync, range(n)))


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def limited(server: ServerHandle, emu: Emulator) -> Emulator:
    """The shared emulator enforcing 1,200 RPM (20 a second) for ``MODEL``."""
    emu.rate_limits.set(MODEL, rpm=1200)
    return emu


def _client(mode: str, server: ServerHandle, **options: Any) -> GenClient:
    return GenClient(mode, server.base_url, _key(), **options)


def test_a_burst_under_a_rate_limit_waits_and_is_never_refused(
    mode: str, server: ServerHandle, limited: Emulator
) -> None:
    ds = _client(mode, server, rate_limit=RateLimit(rpm=1200), max_retries=0)
    try:
        results = _burst(ds, 16)
    finally:
        ds.close()

    assert [r for r in results if isinstance(r, BaseException)] == []
    counts = limited.rate_limits.snapshot()
    assert counts["throttled_total"] == 0
    assert counts["admitted"] == {MODEL: 16}


def test_the_same_burst_without_a_rate_limit_is_refused(
    mode: str, server: ServerHandle, limited: Emulator
) -> None:
    ds = _client(mode, server, max_retries=0)
    try:
        results = _burst(ds, 16)
    finally:
        ds.close()

    refused = [r for r in results if isinstance(r, RateLimitError)]
    assert refused and limited.rate_limits.snapshot()["throttled_total"] == len(refused)


def test_a_model_without_a_budget_is_not_paced(
    mode: str, server: ServerHandle, emu: Emulator
) -> None:
    waits: list[RateLimitWait] = []
    ds = _client(mode, server, rate_limit={"qwen-max": RateLimit(rpm=1)},
                 on_rate_limit_wait=waits.append)  # fmt: skip
    try:
        assert not [r for r in _burst(ds, 6) if isinstance(r, BaseException)]
    finally:
        ds.close()
    assert waits == []


@pytest.mark.parametrize("value", [600, "rpm=600", {"qwen-plus": 600}, RateLimit, {"*": None}])
def test_a_bad_rate_limit_is_refused_before_any_request(
    mode: str, server: ServerHandle, emu: Emulator, value: object
) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        _client(mode, server, rate_limit=value)
    assert emu.received() == []


def test_throttling_is_waited_out_without_backoff_or_spending_retries(
    hub_make: Any,
) -> None:
    replies = iter([429, 429, 429, 200, 429] + [429] * 20)
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        status = next(replies)
        if status == 429:
            body = {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded."}
            return httpx.Response(429, json=body)
        answer = {"output": {"text": "ok", "finish_reason": "stop"},
                  "usage": {"input_tokens": 3, "output_tokens": 1}, "request_id": "r1"}  # fmt: skip
        return httpx.Response(200, json=answer)

    policy = RetryPolicy(max_retries=0, backoff_base=0.001, jitter=0.0)
    hub = hub_make(handler, rate_limit=RateLimit(rpm=60_000), retry_policy=policy, api_key=_key())
    assert hub.run(hub.client.generation.call(model=MODEL, prompt="hi")).text == "ok"
    assert hub.sleeps == [0.0, 0.0, 0.0]  # the limiter waited (after adapting), not a backoff
    assert len(seen) == 4

    with pytest.raises(RateLimitError):  # a throttling that never ends still surfaces
        hub.run(hub.client.generation.call(model=MODEL, prompt="hi"))
    assert len(seen) == 4 + 1 + THROTTLE_RETRIES


def test_a_stream_refused_with_an_error_frame_is_retried_under_the_limiter(
    mode: str, server: ServerHandle, emu: Emulator
) -> None:
    emu.faults.queue("error_event", after=0, route="generation")  # 200 + :HTTP_STATUS/429 first
    ds = _client(mode, server, rate_limit=RateLimit(rpm=600), max_retries=0)
    try:
        chunks = ds.collect(ds.client.generation.stream(model=MODEL, messages=_messages(1)))
    finally:
        ds.close()
    assert chunks and chunks[-1].output.choices[0].finish_reason == "stop"
    assert len(emu.received("generation")) == 2


def test_waits_are_logged_and_reported(
    mode: str, server: ServerHandle, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    client_level: list[RateLimitWait] = []
    in_block: list[RateLimitWait] = []

    async def observe_async(wait: RateLimitWait) -> None:  # an async client awaits it
        in_block.append(wait)

    limit = RateLimit(rpm=120)
    ds = _client(mode, server, rate_limit=limit, on_rate_limit_wait=client_level.append)
    call = ds.client.generation.call
    caplog.set_level(logging.DEBUG, logger="dashscope_core")
    try:
        if mode == "async":  # the block must be inside the task: a Runner keeps its own context

            async def calls() -> None:
                with observe_rate_limits(observe_async):
                    for i in range(3):  # 2 a second: the second and third calls wait
                        await call(model=MODEL, messages=_messages(i))
                await call(model=MODEL, messages=_messages(9))  # outside

            ds.run(calls())
        else:
            with observe_rate_limits(in_block.append):
                for i in range(3):
                    call(model=MODEL, messages=_messages(i))
            call(model=MODEL, messages=_messages(9))
    finally:
        ds.close()

    assert len(client_level) == 3 and in_block == client_level[:2]
    assert all(w.model == MODEL and w.reason == "requests" and w.seconds > 0.3 for w in in_block)
    assert sum("waited" in r.getMessage() for r in caplog.records) == 3


def test_clients_threads_and_event_loops_of_a_process_share_one_budget(
    server: ServerHandle, limited: Emulator
) -> None:
    key, limit = _key(), RateLimit(rpm=1200)
    errors: list[BaseException] = []

    def sync_client() -> None:
        with DashScope(api_key=key, base_url=server.base_url, rate_limit=limit, max_retries=0) as c:
            for i in range(6):
                try:
                    c.generation.call(model=MODEL, messages=_messages(i))
                except Exception as exc:
                    errors.append(exc)

    async def async_client() -> None:
        async with AsyncDashScope(api_key=key, base_url=server.base_url, rate_limit=limit,
                                  max_retries=0) as c:  # fmt: skip
            calls = [c.generation.call(model=MODEL, messages=_messages(i)) for i in range(6)]
            errors.extend(r for r in await asyncio.gather(*calls, return_exceptions=True)
                          if isinstance(r, BaseException))  # fmt: skip

    threads = [threading.Thread(target=sync_client) for _ in range(2)]
    threads += [threading.Thread(target=asyncio.run, args=(async_client(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert limited.rate_limits.snapshot()["throttled_total"] == 0


@pytest.mark.parametrize(("rpm", "tpm"), [(900, None), (6000, 24_000)])
def test_an_independent_rate_limited_server_is_never_provoked(
    mode: str, rpm: float, tpm: float | None
) -> None:
    with throttling_server(rpm, tpm) as other:
        spare = RateLimit(rpm=rpm * 0.9, tpm=None if tpm is None else tpm * 0.9)
        ds = GenClient(mode, other.base_url, _key(), rate_limit=spare, max_retries=0)
        try:
            results = _burst(ds, 12)
        finally:
            ds.close()
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert other.refused == {} and len(other.admitted) == 12
