"""Both clients against hostile loopback servers written on plain sockets (``_hostile``).

Servers that close after every answer, trickle bytes, lie about lengths, redirect (same host,
other host, loops), compress bombs, cut their headers, send ``103 Early Hints``, or answer a
stream request with a JSON error. No timed asserts: a bound is proven by the call raising
(instead of finishing when the server would have) and by what the server managed to send.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _hostile import Conn, Hostile, Request, hostile

from dashscope_core import AsyncDashScope, DashScope, FileOutput, RetryPolicy
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    ResponseTooLargeError,
)

KEY = "sk-hostile-0123456789"
MESSAGES = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.02, jitter=0.0)
GEN = {
    "output": {"choices": [{"finish_reason": "stop",
                            "message": {"role": "assistant", "content": "hello"}}]},
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
    "request_id": "r-gen",
}  # fmt: skip
FRAME = b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + json.dumps(GEN).encode() + b"\n\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"


class Side:
    """A sync or an async client behind one interface; its retry sleeps are recorded."""

    def __init__(self, mode: str, base_url: str, **options: Any) -> None:
        self.mode = mode
        self.sleeps: list[float] = []
        retries = options.pop("max_retries", FAST.max_retries)
        policy = RetryPolicy(retries, FAST.backoff_base, FAST.backoff_max, jitter=0.0)
        options = {"api_key": KEY, "base_url": base_url, "retry_policy": policy, **options}
        if mode == "sync":
            self.client: Any = DashScope(sleep=self.sleeps.append, **options)
        else:

            async def record(seconds: float) -> None:
                self.sleeps.append(seconds)

            self.client = AsyncDashScope(sleep=record, **options)

    def run(self, call: Callable[[Any], Any]) -> Any:
        """``call(client)``'s result (awaited on a loop of its own for the async client)."""
        if self.mode == "sync":
            return call(self.client)

        async def go() -> Any:
            return await call(self.client)

        return asyncio.run(go())

    def run_each(self, calls: list[Callable[[Any], Any]]) -> list[Any]:
        """Each ``call(client)``'s result in turn, on one event loop for the async client (so
        its connections are kept alive from one call to the next)."""
        if self.mode == "sync":
            return [call(self.client) for call in calls]

        async def go() -> list[Any]:
            return [await call(self.client) for call in calls]

        return asyncio.run(go())

    def collect(self, stream: Callable[[Any], Any]) -> list[Any]:
        """All items of ``stream(client)``."""
        if self.mode == "sync":
            return list(stream(self.client))

        async def go() -> list[Any]:
            return [item async for item in stream(self.client)]

        return asyncio.run(go())

    def close(self) -> None:
        if self.mode == "sync":
            self.client.close()


@pytest.fixture(params=["sync", "async"])
def side(request: pytest.FixtureRequest) -> Iterator[Callable[..., Side]]:
    made: list[Side] = []

    def make(base_url: str, **options: Any) -> Side:
        made.append(Side(request.param, base_url, **options))
        return made[-1]

    yield make
    for item in made:
        item.close()


def _generate(client: Any) -> Any:
    return client.generation.call(model="qwen-plus", messages=MESSAGES)


def _stream(client: Any) -> Any:
    return client.generation.stream(model="qwen-plus", messages=MESSAGES)


# --- a server that closes every connection right after answering -----------------------------


def _closing_server() -> Callable[[Conn, Request], bool]:
    created = [0]

    def answer(conn: Conn, request: Request) -> bool:
        if request.path.endswith("/predictions") and request.method == "POST":
            created[0] += 1
            conn.reply(201, {"id": f"p-{created[0]}", "status": "starting", "input": {}})
        elif request.path.startswith("/api/v1/predictions/"):
            conn.reply(200, {"id": request.path.rsplit("/", 1)[1], "status": "processing"})
        else:
            conn.reply(200, GEN)
        time.sleep(0.002)  # the next request is usually on its way: it is never read
        return False  # keep-alive expiry: close without saying so (no Connection: close)

    return answer


def test_a_server_closing_after_each_answer_loses_and_duplicates_nothing(side: Any) -> None:
    with hostile(_closing_server()) as server:
        ds = side(server.base_url, max_retries=0)  # nothing may depend on a retry
        ids = [ds.run(lambda c: c.predictions.create(version="v1", input={})).id
               for _ in range(40)]  # fmt: skip
        answers = [ds.run(_generate) for _ in range(40)]
        polled = [ds.run(lambda c: c.predictions.get("p-1")) for _ in range(40)]
    assert ids == [f"p-{n}" for n in range(1, 41)]  # each create made exactly once, in order
    creates = [r for r in server.requests if r.method == "POST" and r.path.endswith("s")]
    assert len(creates) == 40
    assert all(a.output.choices[0].message.content == "hello" for a in answers)
    assert all(p.status == "processing" for p in polled)


def _dropping_second_requests(conn: Conn, request: Request) -> bool:
    # keep-alive expiry racing a request: the connection is closed only once the next request
    # on it was read, so the client cannot have seen it go (deterministic, unlike a FIN race)
    if getattr(conn, "served", False):
        return False
    conn.served = True  # type: ignore[attr-defined]
    return conn.reply(200, GEN)


def test_a_call_on_a_kept_alive_connection_the_server_dropped_goes_out_again(side: Any) -> None:
    with hostile(_dropping_second_requests) as server:
        ds = side(server.base_url, max_retries=0)  # the replay is not a retry
        answers = ds.run_each([_generate, _generate, _generate])
    assert [a.output.choices[0].message.content for a in answers] == ["hello"] * 3
    # the 2nd, on the 1st call's connection, was dropped and sent on a new one; the 3rd opened
    # a third connection (the 1st was gone)
    assert len(server.requests) == 4 and len(server.connections) == 3


# --- servers that trickle ---------------------------------------------------------------------


def _trickle(head_too: bool) -> Callable[[Conn, Request], bool]:
    body = json.dumps(GEN).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    whole = head % len(body) + body

    def answer(conn: Conn, request: Request) -> bool:
        start = 0 if head_too else len(whole) - len(body)
        conn.send(whole[:start])
        for i in range(start, len(whole)):  # a byte every 20 ms: whole answer in 6+ s
            if not conn.send(whole[i : i + 1]):
                return False
            time.sleep(0.02)
        return True

    return answer


@pytest.mark.parametrize("head_too", [False, True], ids=["body", "headers-and-body"])
def test_timeout_bounds_the_whole_attempt_against_a_trickle(side: Any, head_too: bool) -> None:
    with hostile(_trickle(head_too)) as server:
        ds = side(server.base_url, timeout=0.4, max_retries=0)
        with pytest.raises(APITimeoutError):
            ds.run(_generate)
        _settle(lambda: server.connections[0].closed_by_peer)
        (conn,) = server.connections
    assert conn.closed_by_peer and conn.sent < len(json.dumps(GEN)) + 40  # hung up early


def _keepalive_comments(conn: Conn, request: Request) -> bool:
    conn.send(SSE_HEAD + b"\r\n" + FRAME.replace(b'"stop"', b'"null"'))
    for _ in range(500):  # comments for 10 s and never a second event
        if not conn.send(b":keep-alive\n\n"):
            return False
        time.sleep(0.02)
    return False


def test_stream_idle_timeout_counts_events_not_keepalive_bytes(side: Any) -> None:
    with hostile(_keepalive_comments) as server:
        ds = side(server.base_url, stream_idle_timeout=0.3, max_retries=0)
        got: list[Any] = []

        def stream(client: Any) -> Any:
            return _recording(client, got)

        with pytest.raises(APITimeoutError):
            ds.collect(stream)
        _settle(lambda: server.connections[0].closed_by_peer)
    assert len(got) == 1 and server.connections[0].closed_by_peer


def _recording(client: Any, got: list[Any]) -> Any:
    if isinstance(client, DashScope):

        def items() -> Iterator[Any]:
            for chunk in _stream(client):
                got.append(chunk)
                yield chunk

        return items()

    async def aitems() -> Any:
        async for chunk in _stream(client):
            got.append(chunk)
            yield chunk

    return aitems()


def _settle(done: Callable[[], bool]) -> None:
    """Wait (up to 5 s) for the server thread to notice what the client did."""
    for _ in range(250):
        if done():
            return
        time.sleep(0.02)


# --- servers that lie about lengths or cut their answers --------------------------------------


def _short_body(conn: Conn, request: Request) -> bool:
    body = json.dumps(GEN).encode()
    conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % (len(body) * 3) + body)
    return False  # closed with two thirds of the promised body missing


def test_a_body_shorter_than_its_length_is_an_error_not_a_short_answer(side: Any) -> None:
    with hostile(_short_body) as server:
        ds = side(server.base_url, max_retries=0)
        with pytest.raises(APIConnectionError) as caught:
            ds.run(_generate)
        download = RequestSpec("GET", f"{server.origin}/file", download=True)
        with pytest.raises(APIConnectionError):
            ds.run(lambda c: c._send(download))
    assert caught.value.request_sent is True


def _extra_bytes(conn: Conn, request: Request) -> bool:
    body = json.dumps(GEN).encode()
    conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body + b"GARBAGE")
    return True


def test_bytes_past_the_length_never_become_the_next_answer(side: Any) -> None:
    # h11 (sync) ends the answer at its length and drops the connection; aiohttp refuses the
    # answer that came with trailing bytes: either way a typed result, never garbage
    with hostile(_extra_bytes) as server:
        ds = side(server.base_url, max_retries=0)
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(ds.run(_generate).output.choices[0].message.content)
            except APIConnectionError as exc:
                outcomes.append(type(exc).__name__)
    assert (
        outcomes == ["hello"] * 3
        if ds.mode == "sync"
        else set(outcomes)
        <= {
            "hello",
            "APIConnectionError",
        }
    )


@pytest.mark.parametrize(
    "cut",
    [b"", b"HTTP/1.1 200 OK\r\ncontent-le", b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n"],
    ids=["nothing", "mid-header", "before-blank-line"],
)
def test_a_download_cut_inside_its_headers_raises(side: Any, cut: bytes) -> None:
    def answer(conn: Conn, request: Request) -> bool:
        conn.send(cut)
        return False

    with hostile(answer) as server:
        ds = side(server.base_url, max_retries=0)
        output = FileOutput(f"{server.origin}/file.bin", ds.client)
        read = output.read if ds.mode == "sync" else output.aread
        with pytest.raises(APIConnectionError):
            ds.run(lambda _: read())


# --- redirects ---------------------------------------------------------------------------------


def _redirecting(storage: Hostile) -> Callable[[Conn, Request], bool]:
    def answer(conn: Conn, request: Request) -> bool:
        if request.path == "/files/a":
            conn.reply(302, b"<html>moved</html>", ("location", "/files/b"))
        elif request.path == "/files/b":
            conn.reply(307, b"", ("location", f"{storage.origin}/blob?sig=1"))
        elif request.path.startswith("/loop"):
            conn.reply(302, b"", ("location", "/loop"))
        elif request.path.startswith("/hop/"):
            n = int(request.path.rsplit("/", 1)[1])
            conn.reply(301, b"", ("location", f"/hop/{n + 1}"))
        else:
            conn.reply(302, b"", ("location", f"{storage.origin}/blob"))
        return True

    return answer


# a file whose content looks like an error body: it is content, not an error
FILE = b'{"code": "NotAnError", "message": "this is the file", "request_id": "x"}'


def _storage(conn: Conn, request: Request) -> bool:
    conn.reply(200, FILE, ("content-type", "application/json"))
    return True


def test_downloads_follow_redirects_and_never_carry_our_headers_off_the_api_host(
    side: Any,
) -> None:
    with hostile(_storage) as storage, hostile(_redirecting(storage)) as api:
        ds = side(api.base_url, workspace="ws-1", default_headers={"X-Gateway-Token": "gw-9"})
        output = FileOutput(f"{api.origin}/files/a", ds.client)
        data = ds.run(lambda _: output.read() if ds.mode == "sync" else output.aread())
        chunks = ds.collect(lambda _: iter(output) if ds.mode == "sync" else output.__aiter__())
    assert data == FILE and b"".join(chunks) == FILE
    on_api = [r for r in api.requests if r.path.startswith("/files")]
    assert on_api and all(r.headers["authorization"] == f"Bearer {KEY}" for r in on_api)
    assert all(r.headers["x-gateway-token"] == "gw-9" for r in on_api)
    assert len(storage.requests) == 2
    for request in storage.requests:
        assert request.path == "/blob?sig=1"
        sent = {
            name for name in request.headers if name.startswith("x-") or name == "authorization"
        }
        assert sent == set(), request.headers
        assert KEY not in json.dumps(request.headers)


@pytest.mark.parametrize("path", ["/loop", "/hop/0"])
def test_redirect_loops_and_chains_end_in_a_typed_error(side: Any, path: str) -> None:
    with hostile(_storage) as storage, hostile(_redirecting(storage)) as api:
        ds = side(api.base_url)
        spec = RequestSpec("GET", f"{api.origin}{path}", download=True)
        with pytest.raises(APIStatusError, match="redirect") as caught:
            ds.run(lambda c: c._send(spec))
    assert caught.value.status_code in (301, 302)
    assert len(api.requests) <= 11


def test_an_api_call_is_never_redirected(side: Any) -> None:
    with hostile(_storage) as storage, hostile(_redirecting(storage)) as api:
        ds = side(api.base_url, max_retries=0)
        with pytest.raises(APIStatusError, match="redirect") as caught:
            ds.run(_generate)
    assert caught.value.status_code == 302 and storage.requests == []


# --- compression -------------------------------------------------------------------------------


@functools.cache
def _bomb() -> bytes:
    """About 0.5 MB of gzip that decodes to 512 MB of zeros (built in pieces, once)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(1 << 20)
    return b"".join([*(squeeze.compress(zeros) for _ in range(512)), squeeze.flush()])


def _bombing(conn: Conn, request: Request) -> bool:
    kind = b"text/event-stream" if "x-dashscope-sse" in request.headers else b"application/json"
    head = b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-encoding: gzip\r\n" % kind
    conn.send(head + b"content-length: %d\r\n\r\n" % len(_bomb()) + _bomb())
    return True


@pytest.mark.parametrize("what", ["call", "stream"])
def test_a_gzip_bomb_is_a_typed_error_with_bounded_memory(side: Any, what: str) -> None:
    with hostile(_bombing) as server:
        ds = side(server.base_url, max_retries=0)
        tracemalloc.start()
        try:
            with pytest.raises(ResponseTooLargeError) as caught:
                ds.run(_generate) if what == "call" else ds.collect(_stream)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert caught.value.status_code == 200
    assert peak < 200 * 1024 * 1024  # the cap (64 MB) and one decoded read, not 512 MB


def test_the_decompression_cap_is_configurable(side: Any) -> None:
    body = json.dumps({**GEN, "pad": "x" * 20_000}).encode()

    def answer(conn: Conn, request: Request) -> bool:
        conn.reply(200, gzip.compress(body), ("content-type", "application/json"),
                   ("content-encoding", "gzip"))  # fmt: skip
        return True

    with hostile(answer) as server:
        small = side(server.base_url, max_decompressed_size=10_000, max_retries=0)
        with pytest.raises(ResponseTooLargeError):
            small.run(_generate)
        unbounded = side(server.base_url, max_decompressed_size=None)
        assert unbounded.run(_generate).output.choices[0].message.content == "hello"


# --- informational answers, JSON errors to streams, Retry-After -------------------------------


def test_103_early_hints_before_the_answer_are_tolerated(side: Any) -> None:
    def answer(conn: Conn, request: Request) -> bool:
        conn.send(b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n")
        if "x-dashscope-sse" in request.headers:
            return conn.send(SSE_HEAD + b"content-length: %d\r\n\r\n" % len(FRAME) + FRAME)
        return conn.reply(200, GEN)

    with hostile(answer) as server:
        ds = side(server.base_url, max_retries=0)
        assert ds.run(_generate).output.choices[0].message.content == "hello"
        (chunk,) = ds.collect(_stream)
    assert chunk.output.choices[0].message.content == "hello"


THROTTLED = {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded",
             "request_id": "r-429"}  # fmt: skip


@pytest.mark.parametrize("status", [429, 200])
def test_a_json_throttle_answering_a_stream_is_a_retried_rate_limit_error(
    side: Any, status: int
) -> None:
    answers = iter([status, status, "sse"])

    def answer(conn: Conn, request: Request) -> bool:
        if next(answers) == "sse":
            return conn.send(SSE_HEAD + b"content-length: %d\r\n\r\n" % len(FRAME) + FRAME)
        return conn.reply(status, THROTTLED)

    with hostile(answer) as server:
        ds = side(server.base_url)
        (chunk,) = ds.collect(_stream)
        assert chunk.output.choices[0].message.content == "hello"
        assert len(ds.sleeps) == 2  # retried twice, as a call would be
        once = side(server.base_url, max_retries=0)
        answers = iter([status])
        with pytest.raises(RateLimitError) as caught:
            once.collect(_stream)
    assert (caught.value.code, caught.value.request_id) == ("Throttling.RateQuota", "r-429")


@pytest.mark.parametrize("value", ["nan", "inf", "-3", "soon", ""])
def test_a_retry_after_that_says_nothing_gets_ordinary_backoff(side: Any, value: str) -> None:
    answers = iter([429, 200])

    def answer(conn: Conn, request: Request) -> bool:
        if next(answers) == 429:
            return conn.reply(429, THROTTLED, ("retry-after", value))
        return conn.reply(200, GEN)

    with hostile(answer) as server:
        ds = side(server.base_url)
        assert ds.run(_generate).output.choices[0].message.content == "hello"
    assert ds.sleeps == [FAST.backoff_base]


# --- time bounds across a call -----------------------------------------------------------------


def test_total_timeout_never_sleeps_past_the_deadline(side: Any) -> None:
    def answer(conn: Conn, request: Request) -> bool:
        return conn.reply(503, {"code": "ServiceUnavailable", "message": "busy"},
                          ("retry-after", "30"))  # fmt: skip

    with hostile(answer) as server:
        ds = side(server.base_url, total_timeout=5, retry_policy=RetryPolicy(max_retries=5))
        with pytest.raises(APIStatusError) as caught:
            ds.run(_generate)
    assert caught.value.status_code == 503
    assert ds.sleeps == [] and len(server.requests) == 1  # a 30 s wait would end past 5 s


def test_run_timeout_bounds_a_held_create_and_a_hanging_cancel(side: Any) -> None:
    release = threading.Event()
    from dashscope_core.errors import CancelledError

    def held(conn: Conn, request: Request) -> bool:
        if request.method == "POST" and request.path.endswith("/predictions"):
            release.wait(20)  # the create is held far longer than the run may take
        conn.reply(201, {"id": "p-1", "status": "starting", "input": {}})
        return True

    with hostile(held) as server:
        ds = side(server.base_url, max_retries=0)
        with pytest.raises(CancelledError, match="deadline"):
            ds.run(lambda c: c.run("owner/name:v1", input={}, timeout=0.5, interval=0.05))
        release.set()
    assert server.requests[0].headers["prefer"] == "wait=1"  # shortened to fit the deadline

    hang = threading.Event()

    def slow_cancel(conn: Conn, request: Request) -> bool:
        if request.path.endswith("/cancel"):
            hang.wait(20)  # a cancel that never answers in time
        conn.reply(200, {"id": "p-2", "status": "processing", "input": {}})
        return True

    with hostile(slow_cancel) as server:
        ds = side(server.base_url, max_retries=0)
        with pytest.raises(CancelledError, match="deadline") as caught:
            ds.run(lambda c: c.run("owner/name:v1", input={}, timeout=0.5, interval=0.05))
        hang.set()
    assert server.paths()[-1] == "/api/v1/predictions/p-2/cancel"
    assert "cancel failed" in str(caught.value)
