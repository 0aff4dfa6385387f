"""``DashScope``'s default transport (``httpx.Client`` over a deadline-aware httpcore pool,
``_transport.py``) over real loopback HTTP: compressed bodies, the stream idle timeout, error
classification, keep-alive reuse, closing, query params, proxies from the environment, TLS.

Servers: the stdlib replay server (``_replay_server``, independent of our emulator) for exact
bytes, the session emulator for faults, and a counting server here for connection reuse.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from _loopback import QuietHandler, serving
from _replay_server import Act, Replay, json_act, recorded_act, recorded_text, replay_server

from dashscope_core import AsyncDashScope, DashScope, accumulate
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
)

KEY = "sk-sync-transport"
MESSAGES = [{"role": "user", "content": "hi"}]
CALL = "single-generation-message-nosse"
STREAM = "single-generation-message-sse"


@pytest.fixture(scope="module")
def replay_module() -> Iterator[Replay]:
    with replay_server() as state:
        yield state


@pytest.fixture
def replay(replay_module: Replay) -> Replay:
    """The module's replay server with no queued answers and an empty log."""
    replay_module.acts.clear()
    replay_module.received.clear()
    return replay_module


def client(base_url: str, **options: Any) -> DashScope:
    options.setdefault("max_retries", 0)
    return DashScope(api_key=KEY, base_url=base_url, **options)


def compressed(name: str, coding: str, split: int) -> Act:
    """The recorded answer ``name``, its body compressed with ``coding``, sent in pieces."""
    act = recorded_act(name)
    body = b"".join(act.pieces)
    if coding == "gzip":
        data = gzip.compress(body)
    elif coding == "deflate":
        data = zlib.compress(body)
    else:  # "deflate" as some servers send it: a raw deflate stream without the zlib header
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        data, coding = squeeze.compress(body) + squeeze.flush(), "deflate"
    act.headers.append(("content-encoding", coding))
    act.pieces = [data[i : i + split] for i in range(0, len(data), split)]
    return act


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate"])
@pytest.mark.parametrize("split", [7, 4096])
def test_compressed_call_equals_plain(replay: Replay, coding: str, split: int) -> None:
    replay.queue(recorded_act(CALL), compressed(CALL, coding, split))
    with client(replay.base_url) as ds:
        plain = ds.generation.call(model="qwen-plus", messages=MESSAGES)
        packed = ds.generation.call(model="qwen-plus", messages=MESSAGES)
    expected = json.loads(recorded_text(CALL, "response.body.txt"))
    assert packed.model_dump() == plain.model_dump()
    text = expected["output"]["choices"][0]["message"]["content"]
    assert packed.output.choices[0].message.content == text
    assert "gzip" in replay.received[0]["headers"]["Accept-Encoding"]


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_stream_equals_plain(replay: Replay, coding: str) -> None:
    replay.queue(recorded_act(STREAM, split=13), compressed(STREAM, coding, 11))
    with client(replay.base_url) as ds:
        plain = list(ds.generation.stream(model="qwen-plus", messages=MESSAGES))
        packed = list(ds.generation.stream(model="qwen-plus", messages=MESSAGES))
    assert [c.model_dump() for c in packed] == [c.model_dump() for c in plain]
    assert accumulate(packed).output.choices[0].message.content


def test_bad_gzip_body_is_a_validation_error(replay: Replay) -> None:
    for kind in ("application/json", "text/event-stream"):
        headers = [("content-type", kind), ("content-encoding", "gzip")]
        replay.queue(Act(200, headers, [b"this is not gzip"]))
    with client(replay.base_url) as ds:
        with pytest.raises(APIResponseValidationError, match="decoded"):
            ds.generation.call(model="qwen-plus", messages=MESSAGES)
        with pytest.raises(APIResponseValidationError, match="decoded"):
            list(ds.generation.stream(model="qwen-plus", messages=MESSAGES))


def test_unknown_coding_passes_through(replay: Replay) -> None:
    act = recorded_act(CALL)
    act.headers.append(("content-encoding", "identity"))
    replay.queue(act)
    with client(replay.base_url) as ds:
        assert ds.generation.call(model="qwen-plus", messages=MESSAGES).output.choices


def test_stream_idle_timeout_between_events(replay: Replay) -> None:
    act = recorded_act(STREAM, split=40)
    act.stall_after, act.stall = 2, 2.0
    replay.queue(act)
    with client(replay.base_url, stream_idle_timeout=0.2) as ds:
        chunks = ds.generation.stream(model="qwen-plus", messages=MESSAGES)
        with pytest.raises(APITimeoutError, match="timed out") as caught:
            list(chunks)
    assert caught.value.request_sent is True


def test_idle_timeout_does_not_bound_the_wait_for_headers(
    server: ServerHandle, emu: Emulator
) -> None:
    emu.faults.queue("slow_first_byte", delay=0.5)
    emu.script.generation("late but fine")
    with client(server.base_url, stream_idle_timeout=0.2) as ds:
        chunks = list(ds.generation.stream(model="qwen-plus", messages=MESSAGES))
    assert accumulate(chunks).output.choices[0].message.content == "late but fine"


def test_connect_error_is_not_sent() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ds = client(f"http://127.0.0.1:{port}/api/v1")
    with ds, pytest.raises(APIConnectionError, match="ConnectError") as caught:
        ds.generation.call(model="qwen-plus", messages=MESSAGES)
    assert caught.value.request_sent is False
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)


def test_reset_after_sending_counts_as_sent(replay: Replay) -> None:
    replay.queue(Act(reset=True))
    with client(replay.base_url) as ds, pytest.raises(APIConnectionError) as caught:
        ds.generation.call(model="qwen-plus", messages=MESSAGES)
    assert caught.value.request_sent is True and not isinstance(caught.value, APITimeoutError)
    assert len(replay.received) == 1  # a new connection that failed is not a stale one


def test_a_reset_create_is_never_sent_again(replay: Replay) -> None:
    replay.queue(Act(reset=True), json_act(201, {"id": "p-twice"}))
    with client(replay.base_url) as ds, pytest.raises(APIConnectionError) as caught:
        ds.predictions.create(model="owner/name", input={"x": 1})
    assert caught.value.request_sent is True
    assert len(replay.received) == 1


def test_read_timeout_is_sent(server: ServerHandle, emu: Emulator) -> None:
    emu.faults.queue("slow_first_byte", delay=1.0)
    ds = client(server.base_url, timeout=0.2)
    with ds, pytest.raises(APITimeoutError, match="timed out") as caught:
        ds.generation.call(model="qwen-plus", messages=MESSAGES)
    assert caught.value.request_sent is True


def test_wire_headers_params_and_bodyless_post(replay: Replay) -> None:
    replay.queue(json_act(200, {"ok": 1}), json_act(200, {"ok": 2}), json_act(200, {}))
    with client(replay.base_url) as ds:
        assert ds.request("GET", "/things?x=1", params={"flag": True, "n": 2}) == {"ok": 1}
        assert ds.request("POST", "/tasks/t-1/cancel") == {"ok": 2}
        ds.request("GET", replay.base_url.replace("127.0.0.1", "localhost") + "/other")
    first, cancel, other = replay.received
    assert first["path"] == "/api/v1/things?x=1&flag=true&n=2"
    assert first["headers"]["Host"] == replay.base_url.split("/")[2]
    assert first["headers"]["Authorization"] == f"Bearer {KEY}"
    assert cancel["headers"]["Content-Length"] == "0"
    assert "Content-Type" not in cancel["headers"]
    assert "Authorization" not in other["headers"]  # another host never gets the key


_S = TypeVar("_S", bound=ThreadingHTTPServer)


class Counting(ThreadingHTTPServer):
    """Answers every request with a small JSON body; counts connections opened and closed."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler] | None = None) -> None:
        self.opened = 0
        self.closed = threading.Semaphore(0)
        super().__init__(("127.0.0.1", 0), handler or _CountingHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        self.opened += 1
        return super().get_request()


class _Handler(QuietHandler):
    """HTTP/1.1 keep-alive, quiet; reads the request body first."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.answer()

    def do_GET(self) -> None:
        self.answer()

    def answer(self) -> None:
        raise NotImplementedError


class _CountingHandler(_Handler):
    server: Counting

    def answer(self) -> None:
        body = b'{"output":{"text":"ok"},"request_id":"r"}'
        sse = self.headers.get("x-dashscope-sse") == "enable"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if sse else "application/json")
        if sse:  # an endless stream: only closing the client ends it
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            frame = b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + body + b"\n\n"
            try:
                while True:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
                return
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def finish(self) -> None:
        super().finish()
        self.server.closed.release()


@pytest.fixture
def counting() -> Iterator[Counting]:
    with serving(Counting()) as srv:
        yield srv


def test_keep_alive_reuses_one_connection_and_close_releases_it(counting: Counting) -> None:
    ds = client(f"http://127.0.0.1:{counting.server_address[1]}/api/v1")
    for _ in range(5):
        assert ds.request("GET", "/x")["output"]["text"] == "ok"
    assert counting.opened == 1
    ds.close()
    assert counting.closed.acquire(timeout=10)  # the server saw the connection end
    assert ds.request("GET", "/x")["output"]["text"] == "ok"  # a new connection
    ds.close()
    assert counting.opened == 2


def test_requests_that_must_not_run_twice_get_a_connection_each(counting: Counting) -> None:
    # a create on a kept-alive connection could meet the server's keep-alive expiry and be
    # lost: creates (and low-level POSTs) go out on connections of their own
    with client(f"http://127.0.0.1:{counting.server_address[1]}/api/v1") as ds:
        for _ in range(3):
            assert ds.request("POST", "/x", json={"a": 1})["output"]["text"] == "ok"
        for _ in range(3):
            assert counting.closed.acquire(timeout=10)  # each closed after its answer
    assert counting.opened == 3


def test_a_half_read_stream_is_not_pooled(counting: Counting) -> None:
    with client(f"http://127.0.0.1:{counting.server_address[1]}/api/v1") as ds:
        from dashscope_core._protocol.request import RequestSpec

        events = ds._stream(RequestSpec("POST", "/s", json={}, stream=True))
        assert next(events).data.startswith("{")
        events.close()  # the generator's finally closes the response mid-body
        assert counting.closed.acquire(timeout=10)
        assert ds.request("GET", "/x")["output"]["text"] == "ok"
    assert counting.opened == 2


class _Raw(Counting):
    """Answers each request with ``reply`` (raw bytes), then closes the connection if ``hang_up``
    (without saying so: the client finds out when it reuses the connection)."""

    def __init__(self, reply: bytes, *, hang_up: bool) -> None:
        self.reply, self.hang_up = reply, hang_up
        super().__init__(_RawHandler)


class _RawHandler(_Handler):
    server: _Raw

    def answer(self) -> None:
        self.wfile.write(self.server.reply)
        self.wfile.flush()
        self.close_connection = self.server.hang_up


@pytest.fixture
def raw_server(request: pytest.FixtureRequest) -> Iterator[_Raw]:
    reply, hang_up = request.param
    with serving(_Raw(reply, hang_up=hang_up)) as srv:
        yield srv


_OK = b'{"output":{"text":"ok"},"request_id":"r"}'
_KEEP_ALIVE_OK = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(_OK), _OK)


@pytest.mark.parametrize("raw_server", [(_KEEP_ALIVE_OK, True)], indirect=True)
def test_a_connection_the_server_closed_while_idle_is_not_reused(raw_server: _Raw) -> None:
    # the server promised keep-alive, then hung up: a POST on that socket would fail after
    # sending, so the pool must see the hang-up and connect anew (as httpcore does)
    with client(f"http://127.0.0.1:{raw_server.server_address[1]}/api/v1") as ds:
        for _ in range(3):
            assert ds.request("POST", "/x", json={})["output"]["text"] == "ok"
            time.sleep(0.05)  # let the FIN arrive
    assert raw_server.opened == 3


_FRAME = b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + _OK + b"\n\n"
_SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n\r\n"
_SHORT_STREAM = _SSE_HEAD % (len(_FRAME) * 3) + _FRAME  # a third of the body it announces


@pytest.mark.parametrize("raw_server", [(_SHORT_STREAM, True)], indirect=True)
def test_a_stream_shorter_than_its_content_length_raises(raw_server: _Raw) -> None:
    from dashscope_core._protocol.request import RequestSpec

    with client(f"http://127.0.0.1:{raw_server.server_address[1]}/api/v1") as ds:
        events = ds._stream(RequestSpec("POST", "/s", json={}, stream=True))
        assert next(events).data.startswith("{")
        with pytest.raises(APIConnectionError, match="RemoteProtocolError") as caught:
            next(events)
    assert caught.value.request_sent is True


_WHOLE_STREAM = _SSE_HEAD % len(_FRAME) + _FRAME


@pytest.mark.parametrize("raw_server", [(_WHOLE_STREAM, False)], indirect=True)
def test_streams_read_to_the_end_reuse_one_connection(raw_server: _Raw) -> None:
    from dashscope_core._protocol.request import RequestSpec

    with client(f"http://127.0.0.1:{raw_server.server_address[1]}/api/v1") as ds:
        for _ in range(3):  # no retries: a connection left busy would fail the next request
            events = list(ds._stream(RequestSpec("POST", "/s", json={}, stream=True)))
            assert [e.id for e in events] == ["1"]
    assert raw_server.opened == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_proxy_env_sends_through_the_proxy(
    counting: Counting, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # proxies from the environment: httpx's client (sync) and aiohttp (async) send plain-HTTP
    # requests to the proxy in absolute form
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{counting.server_address[1]}")
    if mode == "sync":
        with client("http://api.invalid/api/v1") as ds:
            assert ds.request("POST", "/x", json={})["output"]["text"] == "ok"
    else:

        async def go() -> Any:
            async with AsyncDashScope(api_key=KEY, base_url="http://api.invalid/api/v1") as ads:
                return await ads.request("POST", "/x", json={})

        assert asyncio.run(go())["output"]["text"] == "ok"
    assert counting.opened == 1


TLS = Path(__file__).resolve().parents[1] / "fixtures" / "tls"  # self-signed, localhost, 100 y


@pytest.fixture
def tls_server() -> Iterator[Counting]:
    srv = Counting()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "localhost.crt", TLS / "localhost.key")
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    with serving(srv):
        yield srv


def test_tls_verifies_the_certificate_and_honours_ssl_cert_file(
    tls_server: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"https://localhost:{tls_server.server_address[1]}/api/v1"
    with client(url) as ds, pytest.raises(APIConnectionError, match="CERTIFICATE_VERIFY") as no:
        ds.request("GET", "/x")
    assert no.value.request_sent is False
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS / "localhost.crt"))
    errors: list[BaseException] = []

    def calls(ds: DashScope) -> None:
        try:
            for _ in range(10):
                assert ds.request("GET", "/x")["output"]["text"] == "ok"
        except BaseException as exc:  # reported below
            errors.append(exc)

    with client(url) as ds:
        threads = [threading.Thread(target=calls, args=(ds,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert tls_server.opened <= 1 + 4  # the failed attempt, then at most one per thread
