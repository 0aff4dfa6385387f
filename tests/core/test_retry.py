"""Retries: the pure RetryPolicy and the wire sequences both clients produce (MockTransport)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from dashscope_core import RetryPolicy
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.errors import (
    APIConnectionError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
    error_from_response,
    parse_retry_after,
)

GEN = "/services/aigc/text-generation/generation"
OK_BODY = {"output": {"text": "hi", "finish_reason": "stop"}, "request_id": "req-ok"}
Handler = Callable[[httpx.Request], httpx.Response]


def error_body(code: str, message: str = "nope") -> dict[str, str]:
    return {"code": code, "message": message, "request_id": "req-err"}


def scripted(*replies: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering ``replies`` in order (the last one repeats) and the requests seen."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reply = replies[min(len(seen), len(replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler, seen


def status(code: int, body: Any = None, **headers: str) -> httpx.Response:
    payload = body if body is not None else error_body("InternalError")
    return httpx.Response(code, json=payload, headers={**headers, "x-request-id": "req-err"})


def ok() -> httpx.Response:
    return httpx.Response(200, json=OK_BODY)


def post(replay_safe: bool = True) -> RequestSpec:
    return RequestSpec("POST", GEN, json={"model": "m"}, replay_safe=replay_safe)


# --- the pure policy -------------------------------------------------------------------------


def test_parse_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("2", now) == 2.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after("Wed, 01 Jan 2026 11:59:00 GMT", now) == -60
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504])
def test_retried_statuses(code: int) -> None:
    exc = error_from_response(code, {}, b"{}")
    assert RetryPolicy().should_retry(exc)
    assert RetryPolicy().should_retry(exc, replay_safe=False) is (code == 429)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 413, 422])
def test_client_errors_not_retried(code: int) -> None:
    assert not RetryPolicy().should_retry(error_from_response(code, {}, b"{}"))


def test_connection_errors_retried_unless_sent_and_not_replay_safe() -> None:
    policy = RetryPolicy()
    assert policy.should_retry(APIConnectionError("x", request_sent=True))
    assert policy.should_retry(APIConnectionError("x", request_sent=False), replay_safe=False)
    assert not policy.should_retry(APIConnectionError("x", request_sent=True), replay_safe=False)
    assert not policy.should_retry(ValueError("not ours"))


def test_throttling_code_under_200_is_retried_like_429() -> None:
    exc = error_from_response(200, {}, error_body("Throttling.RateQuota"))
    assert isinstance(exc, RateLimitError)
    assert RetryPolicy().should_retry(exc, replay_safe=False)


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=3.0, jitter=0.25, rng=random.Random(1))
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        delay = policy.backoff(attempt)
        assert base <= delay <= base * 1.25
    assert len({policy.backoff(1) for _ in range(20)}) > 1, "jitter varies the delay"


def test_retry_after_wait_and_cap() -> None:
    policy = RetryPolicy(retry_after_max=60)
    assert policy.wait(1, error_from_response(429, {"Retry-After": "2"}, b"{}")) == 2.0
    zero = error_from_response(429, {"Retry-After": "0"}, b"{}")
    assert 0 < policy.wait(1, zero) <= 0.5 * 1.25, "Retry-After: 0 falls back to backoff"
    too_long = error_from_response(429, {"Retry-After": "600"}, b"{}")
    assert not policy.should_retry(too_long), "above the cap: raise at once"


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(ValueError, match="backoff_base"):
        RetryPolicy(backoff_base=-1)


# --- wire sequences, both clients -------------------------------------------------------------


def test_retry_after_seconds_is_slept(hub_make: Any) -> None:
    handler, seen = scripted(status(429, error_body("Throttling"), **{"Retry-After": "2"}), ok())
    hub = hub_make(handler)
    assert hub.run(hub.client._send(post())).json() == OK_BODY
    assert hub.sleeps == [2.0]
    assert len(seen) == 2


def test_retry_after_http_date_is_slept(hub_make: Any) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    handler, seen = scripted(status(503, **{"Retry-After": when}), ok())
    hub = hub_make(handler)
    hub.run(hub.client._send(post()))
    (slept,) = hub.sleeps
    assert 25 <= slept <= 30
    assert len(seen) == 2


def test_retry_after_above_cap_raises_at_once(hub_make: Any) -> None:
    handler, seen = scripted(status(429, error_body("Throttling"), **{"Retry-After": "600"}))
    hub = hub_make(handler)
    with pytest.raises(RateLimitError) as info:
        hub.run(hub.client._send(post()))
    assert info.value.retry_after == 600
    assert (len(seen), hub.sleeps) == (1, [])


def test_bad_request_not_retried(hub_make: Any) -> None:
    handler, seen = scripted(status(400, error_body("InvalidParameter")), ok())
    hub = hub_make(handler)
    with pytest.raises(BadRequestError):
        hub.run(hub.client._send(post()))
    assert (len(seen), hub.sleeps) == (1, [])


def test_max_retries_two_means_three_attempts_with_backoff(hub_make: Any) -> None:
    handler, seen = scripted(status(500))
    hub = hub_make(handler, retry_policy=RetryPolicy(max_retries=2, backoff_base=0.01, jitter=0))
    with pytest.raises(InternalServerError) as info:
        hub.run(hub.client._send(post()))
    assert len(seen) == 3
    assert hub.sleeps == [0.01, 0.02]
    assert info.value.request_id == "req-err"


def test_max_retries_argument(hub_make: Any) -> None:
    handler, seen = scripted(status(502))
    hub = hub_make(handler, retry_policy=None, max_retries=0)
    with pytest.raises(InternalServerError):
        hub.run(hub.client._send(post()))
    assert len(seen) == 1


@pytest.mark.parametrize("code", [408, 409, 502, 503, 504])
def test_retryable_statuses_then_success(hub_make: Any, code: int) -> None:
    handler, seen = scripted(status(code), ok())
    hub = hub_make(handler)
    assert hub.run(hub.client._send(post())).status_code == 200
    assert len(seen) == 2


def test_not_replay_safe_500_is_not_retried(hub_make: Any) -> None:
    handler, seen = scripted(status(500), ok())
    hub = hub_make(handler)
    with pytest.raises(InternalServerError):
        hub.run(hub.client._send(post(replay_safe=False)))
    assert len(seen) == 1


def test_not_replay_safe_429_and_connect_error_are_retried(hub_make: Any) -> None:
    handler, seen = scripted(
        status(429, error_body("Throttling")), httpx.ConnectError("refused"), ok()
    )
    hub = hub_make(handler)
    assert hub.run(hub.client._send(post(replay_safe=False))).status_code == 200
    assert len(seen) == 3


def test_error_after_sending_not_replayed_when_not_replay_safe(hub_make: Any) -> None:
    handler, seen = scripted(httpx.ReadError("reset by peer"), ok())
    hub = hub_make(handler)
    with pytest.raises(APIConnectionError) as info:
        hub.run(hub.client._send(post(replay_safe=False)))
    assert info.value.request_sent is True
    assert len(seen) == 1


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadError("reset")])
def test_connection_errors_retried_when_replay_safe(hub_make: Any, exc: Exception) -> None:
    handler, seen = scripted(exc, ok())
    hub = hub_make(handler)
    assert hub.run(hub.client._send(post())).status_code == 200
    assert len(seen) == 2


def test_throttling_code_in_200_body_is_retried(hub_make: Any) -> None:
    handler, seen = scripted(status(200, error_body("Throttling.AllocationQuota")), ok())
    hub = hub_make(handler)
    assert hub.run(hub.client._send(post())).json() == OK_BODY
    assert len(seen) == 2


def test_low_level_request_post_not_replayed_on_500(hub_make: Any) -> None:
    handler, seen = scripted(status(500), ok())
    hub = hub_make(handler)
    with pytest.raises(InternalServerError):
        hub.run(hub.client.request("POST", "/predictions", json={"input": {}}))
    assert len(seen) == 1
    assert hub.run(hub.client.request("GET", "/predictions")) == OK_BODY


# --- streams: retried only before the first event reached the caller -------------------------


def frame(i: int, text: str, finish: str = "null") -> bytes:
    data = json.dumps({"output": {"text": text, "finish_reason": finish}, "request_id": "r"})
    return f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode()


ERROR_FRAME = (
    b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota",'
    b'"message":"Requests rate limit exceeded","request_id":"req-frame"}\n\n'
)


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``chunks`` then fails the way a dropped connection does."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        raise httpx.ReadError("connection reset mid-stream")

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk
        raise httpx.ReadError("connection reset mid-stream")


def sse(*chunks: bytes, broken: bool = False) -> httpx.Response:
    headers = {"content-type": "text/event-stream"}
    if broken:
        return httpx.Response(200, headers=headers, stream=BrokenStream(*chunks))
    return httpx.Response(200, headers=headers, content=b"".join(chunks))


def stream_spec() -> RequestSpec:
    return RequestSpec("POST", GEN, json={"model": "m"}, stream=True)


def test_stream_connect_error_and_429_before_first_byte_retried(hub_make: Any) -> None:
    handler, seen = scripted(
        httpx.ConnectError("refused"), status(429, error_body("Throttling")), sse(frame(1, "a"))
    )
    hub = hub_make(handler)
    events = hub.collect(hub.client._stream(stream_spec()))
    assert [e.id for e in events] == ["1"]
    assert len(seen) == 3
    assert seen[0].headers["x-dashscope-sse"] == "enable"
    assert seen[0].headers["accept"] == "text/event-stream"


def test_stream_dropped_before_first_event_is_retried(hub_make: Any) -> None:
    handler, seen = scripted(sse(b"id:1\nevent:res", broken=True), sse(frame(1, "a")))
    hub = hub_make(handler)
    assert len(hub.collect(hub.client._stream(stream_spec()))) == 1
    assert len(seen) == 2


def test_stream_error_frame_first_is_retried(hub_make: Any) -> None:
    handler, seen = scripted(sse(ERROR_FRAME), sse(frame(1, "a"), frame(2, "ab", "stop")))
    hub = hub_make(handler)
    events = hub.collect(hub.client._stream(stream_spec()))
    assert [e.id for e in events] == ["1", "2"]
    assert len(seen) == 2


def test_stream_dropped_after_first_event_is_not_replayed(hub_make: Any) -> None:
    handler, seen = scripted(sse(frame(1, "a"), broken=True), sse(frame(1, "a")))
    hub = hub_make(handler)
    received: list[Any] = []

    async def drain_async() -> None:
        async for event in hub.client._stream(stream_spec()):
            received.append(event)

    with pytest.raises(APIConnectionError) as info:
        if hub.mode == "async":
            hub.run(drain_async())
        else:
            received.extend(hub.client._stream(stream_spec()))
    assert [e.id for e in received] == ["1"]
    assert info.value.request_sent is True
    assert len(seen) == 1


def test_stream_error_frame_after_first_event_raises_typed_error(hub_make: Any) -> None:
    late_error = ERROR_FRAME.replace(b"id:1", b"id:2")
    handler, seen = scripted(sse(frame(1, "a"), late_error))
    hub = hub_make(handler)
    received: list[Any] = []

    async def drain_async() -> None:
        async for event in hub.client._stream(stream_spec()):
            received.append(event)

    with pytest.raises(RateLimitError) as info:
        if hub.mode == "async":
            hub.run(drain_async())
        else:
            received.extend(hub.client._stream(stream_spec()))
    assert info.value.status_code == 429
    assert info.value.code == "Throttling.RateQuota"
    assert info.value.request_id == "req-frame"
    assert [e.id for e in received] == ["1"]
    assert len(seen) == 1


def test_stream_is_lazy(hub_make: Any) -> None:
    handler, seen = scripted(sse(frame(1, "a")))
    hub = hub_make(handler)
    events = hub.client._stream(stream_spec())
    assert seen == []
    hub.collect(events)
    assert len(seen) == 1
