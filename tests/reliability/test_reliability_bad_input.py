"""Bad input, property-based: arbitrary or malformed responses and arguments.

Allowed outcomes only: a correct result, a ``ValueError``/``TypeError`` naming the argument (before
any request), or one of the library's typed errors — never another exception, a hang or a silently
wrong value. Parsers are driven through real clients over ``httpx.MockTransport``: the whole path.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _recorded import recording_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._protocol.app_stream import accumulate_app
from dashscope_core._protocol.generation_stream import accumulate
from dashscope_core._protocol.sse import SSEDecoder, encode_event
from dashscope_core.errors import DashScopeError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MSGS = [{"role": "user", "content": "hi"}]


def recorded(name: str) -> bytes:
    """A recorded response body, BOM stripped."""
    return recording_bytes(f"{name}.response.body.txt")


def _client(status: int, headers: dict[str, str], body: bytes) -> DashScope:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return DashScope(api_key="sk-x", base_url="https://mock.test/api/v1", http_client=http,
                     max_retries=0)  # fmt: skip


CALLS: dict[str, Callable[[DashScope], Any]] = {
    "generation.call": lambda c: c.generation.call(model="qwen-plus", messages=MSGS),
    "generation.stream": lambda c: accumulate(c.generation.stream(model="q", messages=MSGS)),
    "apps.call": lambda c: c.apps.call("app1", "hi"),
    "apps.stream": lambda c: accumulate_app(c.apps.stream("app1", "hi")),
    "embeddings.call": lambda c: c.embeddings.call(model="text-embedding-v3", texts=["a"]),
    "tasks.get": lambda c: c.tasks.get("t1"),
    "tasks.submit": lambda c: c.tasks.submit("/x", model="wanx-v1", input={"prompt": "p"}),
    "predictions.get": lambda c: c.predictions.get("p1"),
    "predictions.list": lambda c: c.predictions.list(),
    "models.get": lambda c: c.models.get("o", "n"),
    "hardware.list": lambda c: c.hardware.list(),
}


def _outcome(call: Callable[[], Any]) -> Any:
    """The result, or the typed error; anything else fails the test."""
    try:
        return call()
    except DashScopeError as exc:
        assert str(exc) and repr(exc)
        return exc


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
# shapes close to the real ones, with wrong types in the leaves
shaped = st.fixed_dictionaries(
    {"output": json_values | st.fixed_dictionaries({
        "choices": json_values | st.lists(st.fixed_dictionaries(
            {"message": json_values, "finish_reason": json_values}), max_size=2),
        "text": json_values, "embeddings": json_values, "task_id": json_values,
        "task_status": json_values, "results": json_values,
    }), "usage": json_values, "request_id": json_values},
)  # fmt: skip
bodies = (
    st.binary(max_size=64)
    | json_values.map(lambda v: json.dumps(v).encode())
    | shaped.map(lambda v: json.dumps(v).encode())
    | st.sampled_from(["single-generation-message-nosse", "text-embedding-nosse",
                       "application-single-generation-text-nosse", "get-task-running-nosse"])
      .flatmap(lambda n: st.integers(0, len(recorded(n))).map(lambda i: recorded(n)[:i]))
)  # fmt: skip


@FAST
@given(body=bodies, name=st.sampled_from(sorted(CALLS)))
def test_any_200_body_gives_a_result_or_a_typed_error(body: bytes, name: str) -> None:
    for ctype in ("application/json", "text/event-stream"):
        with _client(200, {"content-type": ctype}, body) as client:
            _outcome(lambda: CALLS[name](client))


@FAST
@given(body=bodies, status=st.sampled_from([400, 401, 403, 404, 413, 429, 500, 502, 503]))
def test_any_error_body_gives_a_typed_error_with_its_status(body: bytes, status: int) -> None:
    with _client(status, {"retry-after": "0"}, body) as client:
        result = _outcome(lambda: client.generation.call(model="q", messages=MSGS))
    assert isinstance(result, DashScopeError) and result.status_code == status


@FAST
@given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=6))
def test_sse_decoder_never_raises_on_arbitrary_bytes(data: bytes, cuts: list[int]) -> None:
    decoder, events, last = SSEDecoder(), [], 0
    for cut in sorted(cuts):
        events += decoder.feed(data[last:cut])
        last = max(last, cut)
    events += decoder.feed(data[last:]) + decoder.close()
    whole = SSEDecoder()
    assert [e.data for e in events] == [e.data for e in whole.feed(data) + whole.close()]


def _gen_frame(content: str, finish: str, usage: Any = None) -> bytes:
    message = {"role": "assistant", "content": content}
    choice = {"message": message, "finish_reason": finish}
    body: dict[str, Any] = {"output": {"choices": [choice]}, "request_id": "r"}
    if usage is not None:
        body["usage"] = usage
    return encode_event(json.dumps(body, ensure_ascii=False), event="result", id="1", status=200)


@FAST
@given(
    pieces=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=5),
    finish=st.sampled_from(["stop", "length", "tool_calls", "content_filter", "weird_new"]),
    usage=st.none() | st.just({}) | st.just({"input_tokens": "x"}),
    split=st.integers(1, 50),
)
def test_streams_are_whole_or_typed(pieces: list[str], finish: str, usage: Any, split: int) -> None:
    frames = [_gen_frame(p, "null", usage) for p in pieces[:-1]]
    frames.append(_gen_frame(pieces[-1], finish, usage))
    data = b"".join(frames)
    cut = data.rstrip(b"\n")[:-split]  # into the last data line (a missing "\n" alone is fine)
    for body, complete in ((data, True), (b"".join(frames[:-1]), False), (cut, False)):
        with _client(200, {"content-type": "text/event-stream"}, body) as client:
            result = _outcome(lambda: CALLS["generation.stream"](client))
        if isinstance(result, DashScopeError):
            assert not complete or usage == {"input_tokens": "x"}
            continue
        text = result.output.choices[0].message.content
        assert complete or text != "".join(pieces), "a cut stream came back whole-looking"
        if complete:
            assert text == "".join(pieces) and result.output.choices[0].finish_reason == finish


def test_truncated_utf8_in_a_stream_is_typed_or_whole() -> None:
    data = _gen_frame("héllo wörld ✓", "stop", {"input_tokens": 1, "output_tokens": 2})
    for cut in range(len(data) - 12, len(data)):
        with _client(200, {"content-type": "text/event-stream"}, data[:cut]) as client:
            result = _outcome(lambda: CALLS["generation.stream"](client))
        assert isinstance(result, DashScopeError) or (
            result.output.choices[0].message.content == "héllo wörld ✓"
        )


def test_huge_frame_is_not_truncated() -> None:
    text = "x" * (5 * 1024 * 1024)
    data = _gen_frame(text, "stop", {"input_tokens": 1, "output_tokens": 1})
    with _client(200, {"content-type": "text/event-stream"}, data) as client:
        result = _outcome(lambda: CALLS["generation.stream"](client))
    assert isinstance(result, DashScopeError) or result.output.choices[0].message.content == text


def test_tool_arguments_that_are_not_json_stay_verbatim() -> None:
    body = json.loads(recorded("single-generation-message-with-tools-nosse"))
    call = body["output"]["choices"][0]["message"]["tool_calls"][0]
    call["function"]["arguments"] = '{"city": "Hangzh'
    with _client(200, {"content-type": "application/json"}, json.dumps(body).encode()) as c:
        result = c.generation.call(model="qwen-plus", messages=MSGS)
    got = result.output.choices[0].message.tool_calls[0]
    assert got.function.arguments == '{"city": "Hangzh'  # not parsed, not emptied


def test_non_json_200_is_a_typed_error_sync_and_async() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>gateway</html>")

    async def go() -> Any:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        async with AsyncDashScope(api_key="k", base_url="https://m.test/api/v1",
                                  http_client=http) as client:  # fmt: skip
            return await client.embeddings.call(model="m", texts=["a"])

    with pytest.raises(DashScopeError):
        asyncio.run(go())
    with _client(200, {}, b"<html>gateway</html>") as client, pytest.raises(DashScopeError):
        client.generation.call(model="q", messages=MSGS)


def _answering_client(sent: list[httpx.Request]) -> DashScope:
    """A client whose server answers generation/apps/embeddings with recorded bodies, else 404."""
    replies = {"generation": "single-generation-message-nosse",
               "completion": "application-single-generation-text-nosse",
               "text-embedding": "text-embedding-nosse"}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        tail = request.url.path.rsplit("/", 1)[-1]
        if tail in replies:
            return httpx.Response(200, content=recorded(replies[tail]))
        return httpx.Response(404, json={"code": "NotFound", "message": "no such thing"})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    return DashScope(api_key="k", base_url="https://m.test/api/v1", http_client=http,
                     max_retries=0)  # fmt: skip


ARGUMENTS: dict[str, tuple[str, Callable[[DashScope, Any], Any]]] = {
    "generation.model": ("model", lambda c, v: c.generation.call(model=v, messages=MSGS)),
    "generation.messages": ("messages", lambda c, v: c.generation.call(model="q", messages=v)),
    "generation.tools": (
        "tools",
        lambda c, v: c.generation.call(model="q", messages=MSGS, tools=v),
    ),
    "generation.stream.messages": (
        "messages",
        lambda c, v: list(c.generation.stream(model="q", messages=v)),
    ),
    "apps.app_id": ("app_id", lambda c, v: c.apps.call(v, "hi")),
    "apps.prompt": ("prompt", lambda c, v: c.apps.call("app1", v)),
    "embeddings.texts": ("texts", lambda c, v: c.embeddings.call(model="m", texts=v)),
    "tasks.get": ("task_id", lambda c, v: c.tasks.get(v)),
    "predictions.get": ("id", lambda c, v: c.predictions.get(v)),
    "run.identifier": ("identifier", lambda c, v: c.run(v, input={})),
    "models.get": ("owner", lambda c, v: c.models.get(v, "n")),
}
any_value = (
    json_values
    | st.just(object())
    | st.binary(max_size=8)
    | st.sampled_from(["", " ", "a/b", "o/n:v", "../x", "\x00", "qwen-plus", "x" * 300])
)


@FAST
@given(value=any_value, name=st.sampled_from(sorted(ARGUMENTS)))
def test_public_arguments_are_checked_before_any_request(value: Any, name: str) -> None:
    argument, call = ARGUMENTS[name]
    sent: list[httpx.Request] = []
    with _answering_client(sent) as client:
        try:
            _outcome(lambda: call(client, value))
        except (ValueError, TypeError) as exc:
            assert argument in str(exc), f"{name}: {exc!r} does not name {argument!r}"
            assert not sent, "a bad argument must fail before any request"


@pytest.mark.parametrize("stream", [False, True])
def test_corrupt_gzip_body_is_a_typed_error(stream: bool) -> None:
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    with _client(200, headers, b"not gzip at all") as client, pytest.raises(DashScopeError):
        if stream:
            list(client.generation.stream(model="q", messages=MSGS))
        else:
            client.generation.call(model="q", messages=MSGS)
