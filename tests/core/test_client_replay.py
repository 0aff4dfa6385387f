"""The independent check of issue 2: the core client driven by a stdlib server (not our
emulator, see ``_replay_server``) replaying every recorded production answer verbatim (headers
and body, streams cut at hostile offsets) plus faults: 429 with Retry-After as seconds and as an
HTTP date, 500/503, a connection reset before the response, a stream cut mid-frame, an
``event:error`` mid-stream, a stalled stream, a 200 with a non-JSON body or with a ``code``.

Expected values are computed here from the recorded bytes, not by the client's own parsers.
Every body runs with the sync client (httpx), the async client's default sender (aiohttp) and
an injected ``httpx.AsyncClient``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from _replay_server import Act, Replay, json_act, recorded_act, recorded_text, replay_server
from _twin import Twin

from dashscope_core import accumulate, accumulate_app
from dashscope_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DashScopeError,
    InternalServerError,
    RateLimitError,
)

MODES = ["sync", "async-aiohttp", "async-httpx"]
GENERATION = [
    "single-generation-text-nosse",
    "single-generation-text-sse",
    "single-generation-message-nosse",
    "single-generation-message-sse",
    "single-generation-message-with-tools-nosse",
    "single-generation-message-with-tools-sse",
]
STREAM = "single-generation-message-with-tools-sse"


class Driver(Twin):
    """One client of a mode ("sync", "async", "async-httpx": over an injected httpx client)."""

    def __init__(self, mode: str, base_url: str, **options: Any) -> None:
        http = httpx.AsyncClient() if mode == "async-httpx" else None
        super().__init__(mode, http_client=http, api_key="sk-replay", base_url=base_url,
                         **options)  # fmt: skip


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    with replay_server() as state:
        yield state


@pytest.fixture(params=MODES)
def ds(request: pytest.FixtureRequest, replay: Replay) -> Iterator[Driver]:
    replay.acts.clear()
    replay.received.clear()
    driver = Driver(request.param, replay.base_url)
    yield driver
    driver.close()


def _request(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(recorded_text(name, "request.body.json"))
    return body


def _generate(ds: Driver, name: str) -> Any:
    """The recorded request, sent as a user would (stream: accumulated)."""
    body = _request(name)
    params = dict(body["parameters"])
    kwargs = {"model": body["model"], **body["input"], **params}
    if name.endswith("-sse"):
        del kwargs["incremental_output"]  # streams always ask for deltas
        return accumulate(ds.collect(ds.client.generation.stream(**kwargs)))
    return ds.run(ds.client.generation.call(**kwargs))


def _frames(name: str) -> list[dict[str, Any]]:
    text = recorded_text(name, "response.body.txt")
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]


def _expected(name: str) -> dict[str, Any]:
    """What the answer says, read from the recorded bytes by hand."""
    frames = _frames(name) if name.endswith("-sse") else [json.loads(recorded_text(
        name, "response.body.txt"))]  # fmt: skip
    last, text, calls = frames[-1], "", {}
    for frame in frames:
        out = frame["output"]
        if "choices" not in out:
            text += out.get("text") or ""
            continue
        message = out["choices"][0]["message"]
        text += message.get("content") or ""
        for call in message.get("tool_calls") or []:
            got = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            got["id"] = got["id"] or call.get("id", "")
            got["name"] = got["name"] or call["function"].get("name", "")
            got["arguments"] += call["function"].get("arguments", "")
    out = last["output"]
    finish = out["choices"][0]["finish_reason"] if "choices" in out else out["finish_reason"]
    return {"text": text, "finish": finish, "calls": [calls[i] for i in sorted(calls)],
            "usage": last["usage"], "request_id": last["request_id"]}  # fmt: skip


CASES = [(n, split) for n in GENERATION for split in ((0, 1, 7) if n.endswith("-sse") else (0,))]


@pytest.mark.parametrize(("name", "split"), CASES)
def test_recorded_generation_answers(ds: Driver, replay: Replay, name: str, split: int) -> None:
    replay.queue(recorded_act(name, split))
    result, want = _generate(ds, name), _expected(name)
    assert (result.text, result.finish_reason, result.request_id) == (
        want["text"], want["finish"], want["request_id"])  # fmt: skip
    calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
             for c in result.tool_calls]  # fmt: skip
    assert calls == want["calls"]
    assert result.usage.model_dump(exclude_none=True) == want["usage"]
    (sent,) = replay.received
    assert sent["json"] == _request(name)  # the client rebuilt the recorded request
    assert sent["headers"]["Authorization"] == "Bearer sk-replay"
    assert ("X-DashScope-SSE" in sent["headers"]) is name.endswith("-sse")


def test_recorded_embeddings(ds: Driver, replay: Replay) -> None:
    replay.queue(recorded_act("text-embedding-nosse"))
    body = _request("text-embedding-nosse")
    result = ds.run(ds.client.embeddings.call(model=body["model"], **body["input"],
                                              **body["parameters"]))  # fmt: skip
    want = json.loads(recorded_text("text-embedding-nosse", "response.body.txt"))
    assert result.embeddings == [e["embedding"] for e in want["output"]["embeddings"]]
    assert (result.usage.total_tokens, result.request_id) == (
        want["usage"]["total_tokens"], want["request_id"])  # fmt: skip
    assert replay.received[0]["json"] == body


@pytest.mark.parametrize("split", [0, 61])
def test_recorded_app_answers(ds: Driver, replay: Replay, split: int) -> None:
    replay.queue(recorded_act("application-single-generation-text-sse", split),
                 recorded_act("application-conversation-generation-session-id-nosse"))  # fmt: skip
    chunks = ds.collect(ds.client.apps.stream("app-1", prompt="hi"))
    frames = _frames("application-single-generation-text-sse")
    assert accumulate_app(chunks).output.text == "".join(f["output"]["text"] for f in frames)
    answer = ds.run(ds.client.apps.call("app-1", prompt="hi", session_id="s"))
    want = json.loads(recorded_text("application-conversation-generation-session-id-nosse",
                                    "response.body.txt"))  # fmt: skip
    assert (answer.output.text, answer.output.session_id, answer.request_id) == (
        want["output"]["text"], want["output"]["session_id"], want["request_id"])  # fmt: skip


def test_recorded_tasks(ds: Driver, replay: Replay) -> None:
    replay.queue(recorded_act("image-synthesis-nosse"), recorded_act("get-task-running-nosse"),
                 recorded_act("get-task-image-synthesis-success-nosse"))  # fmt: skip
    body = _request("image-synthesis-nosse")
    task = ds.run(ds.client.tasks.submit("/services/aigc/text2image/image-synthesis", **body))
    assert task.status == "PENDING" and replay.received[0]["json"] == body
    running = ds.run(ds.client.tasks.get(task.task_id))
    done = ds.run(ds.client.tasks.get(task.task_id))
    want = json.loads(recorded_text("get-task-image-synthesis-success-nosse", "response.body.txt"))
    assert (running.status, done.status) == ("RUNNING", "SUCCEEDED")
    assert [r.url for r in done.output.results or []] == [
        r["url"] for r in want["output"]["results"]]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "error", "hint"),
    [("auth-error-nosse", AuthenticationError, "DASHSCOPE_API_KEY"),
     ("parameter-error-nosse", BadRequestError, "Role must be user")],
)  # fmt: skip
def test_recorded_errors_are_typed_and_not_retried(
    ds: Driver, replay: Replay, name: str, error: type[DashScopeError], hint: str
) -> None:
    replay.queue(recorded_act(name))
    want = json.loads(recorded_text(name, "response.body.txt"))
    with pytest.raises(error, match=hint) as info:
        _generate(ds, "single-generation-text-nosse")
    assert (info.value.code, info.value.request_id) == (want["code"], want["request_id"])
    assert len(replay.received) == 1 and "sk-replay" not in str(info.value)


# --- faults --------------------------------------------------------------------------------

TEXT = "single-generation-text-nosse"


def _error(status: int, code: str, rid: str, **headers: str) -> Act:
    return json_act(status, {"code": code, "message": f"{code} (replayed)", "request_id": rid},
                    x_request_id=rid, **headers)  # fmt: skip


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_honours_retry_after(ds: Driver, replay: Replay, form: str) -> None:
    after = "2" if form == "seconds" else formatdate(time.time() + 30, usegmt=True)
    replay.queue(_error(429, "Throttling.RateQuota", "r429", retry_after=after), recorded_act(TEXT))
    assert _generate(ds, TEXT).request_id == _expected(TEXT)["request_id"]
    assert len(replay.received) == 2 and len(ds.sleeps) == 1
    assert ds.sleeps == [2.0] if form == "seconds" else 20 < ds.sleeps[0] <= 30


def test_500_and_503_are_retried_then_raise_typed(ds: Driver, replay: Replay) -> None:
    replay.queue(_error(500, "InternalError", "a"), _error(503, "ServiceUnavailable", "b"),
                 recorded_act(TEXT))  # fmt: skip
    assert _generate(ds, TEXT).text == _expected(TEXT)["text"] and len(ds.sleeps) == 2
    replay.queue(*[_error(500, "InternalError.Algo", f"r{i}") for i in range(3)])
    with pytest.raises(InternalServerError) as info:
        _generate(ds, TEXT)
    assert (info.value.status_code, info.value.request_id) == (500, "r2")
    assert len(replay.received) == 6  # 3 + max_retries=2 -> 3 attempts


def test_a_reset_before_the_response_is_retried(ds: Driver, replay: Replay) -> None:
    replay.queue(Act(reset=True), recorded_act(TEXT))
    assert _generate(ds, TEXT).text == _expected(TEXT)["text"]
    # the next call goes out on the kept-alive connection: its reset looks like a connection the
    # server closed while idle, so our pools send it once more on a new one (an injected
    # client's pool is its own) before the retries count
    replay.queue(*[Act(reset=True)] * 4)
    with pytest.raises(APIConnectionError):
        _generate(ds, TEXT)
    assert len(replay.received) == (5 if ds.mode == "async-httpx" else 6)


def _stream_act(pieces: list[bytes], **fault: Any) -> Act:
    act = recorded_act(STREAM)
    act.pieces = pieces
    for key, value in fault.items():
        setattr(act, key, value)
    return act


def _stream_pieces(ds: Driver) -> Iterator[Any]:
    body = _request(STREAM)
    params = {k: v for k, v in body["parameters"].items() if k != "incremental_output"}
    return ds.client.generation.stream(model=body["model"], **body["input"], **params)


def _partial(ds: Driver) -> tuple[list[Any], BaseException]:
    """The chunks a stream yielded before it raised, and what it raised."""
    got: list[Any] = []

    async def drain_async() -> None:
        async for chunk in _stream_pieces(ds):
            got.append(chunk)

    with pytest.raises(DashScopeError) as info:
        if ds.mode == "sync":
            got.extend(_stream_pieces(ds))
        else:
            ds.run(drain_async())
    return got, info.value


@pytest.mark.parametrize("clean_end", [True, False])
def test_a_stream_cut_mid_frame_raises_and_is_not_replayed(
    ds: Driver, replay: Replay, clean_end: bool
) -> None:
    body = recorded_text(STREAM, "response.body.txt").encode()
    cut = body.index(b"data:", body.index(b"id:3")) + 30  # inside the third frame's JSON
    fault = {} if clean_end else {"abort_after": 1}
    replay.queue(_stream_act([body[:cut], body[cut:]] if not clean_end else [body[:cut]], **fault))
    got, error = _partial(ds)
    assert len(got) == 2 and len(replay.received) == 1
    assert isinstance(error, APIConnectionError if not clean_end else APIResponseValidationError)


def test_an_error_event_mid_stream_raises_typed(ds: Driver, replay: Replay) -> None:
    body = recorded_text(STREAM, "response.body.txt").encode()
    head = body[: body.index(b"id:3")]
    frame = (b'id:3\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota",'
             b'"message":"Requests rate limit exceeded","request_id":"r-mid"}\n\n')  # fmt: skip
    replay.queue(_stream_act([head, frame]))
    got, error = _partial(ds)
    assert isinstance(error, RateLimitError) and len(got) == 2 and len(replay.received) == 1
    assert (error.status_code, error.code, error.request_id) == (429, "Throttling.RateQuota",
                                                                 "r-mid")  # fmt: skip


def test_a_stalled_stream_hits_the_idle_timeout(replay: Replay) -> None:
    for mode in MODES:
        replay.received.clear()
        driver = Driver(mode, replay.base_url, stream_idle_timeout=0.3)
        body = recorded_text(STREAM, "response.body.txt").encode()
        replay.queue(_stream_act([body[:400], body[400:]], stall_after=1, stall=1.5))
        try:
            got, error = _partial(driver)
        finally:
            driver.close()
        assert isinstance(error, APITimeoutError), mode
        assert len(got) >= 1 and len(replay.received) == 1


def test_a_200_that_is_not_json_raises_typed(ds: Driver, replay: Replay) -> None:
    replay.queue(json_act(200, b"<html>upstream gateway</html>", x_request_id="r-html"))
    with pytest.raises(APIResponseValidationError) as info:
        _generate(ds, TEXT)
    assert (info.value.status_code, info.value.request_id) == (200, "r-html")


def test_a_code_in_a_200_body_raises_typed(ds: Driver, replay: Replay) -> None:
    replay.queue(_error(200, "DataInspectionFailed", "r-200"))
    with pytest.raises(BadRequestError) as info:
        _generate(ds, TEXT)
    assert (info.value.code, info.value.request_id) == ("DataInspectionFailed", "r-200")
    assert len(replay.received) == 1
