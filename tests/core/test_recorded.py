"""Conformance with recorded production traffic (shared/fixtures/recorded, issue 2 item 10).

Each generation, embedding and error exchange is replayed through ``httpx.MockTransport`` into a
real ``DashScope`` / ``AsyncDashScope``: the request the client sends must equal the recorded
body (JSON, modulo key order), and the recorded answer must parse to the recorded values.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from _recorded import RECORDED, recording_bytes

from dashscope_core import AsyncDashScope, DashScope, accumulate
from dashscope_core.errors import AuthenticationError, BadRequestError
from dashscope_core.resources.embeddings import build_calls
from dashscope_core.resources.generation import build_call, build_stream

BASE = "https://dashscope.aliyuncs.com/api/v1"
FAMILIES = ("single-generation-", "text-embedding-", "auth-error-", "parameter-error-")
NAMES = sorted(
    p.name.removesuffix(".request.body.json")
    for p in RECORDED.glob("*.request.body.json")
    if p.name.startswith(FAMILIES)
)


def load(name: str, part: str) -> bytes:
    return recording_bytes(f"{name}.{part}")


def request_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load(name, "request.body.json"))
    return body


def response_status(name: str) -> int:
    return int(load(name, "response.header.txt").split(b"\n", 1)[0].split()[1])


def inputs(name: str) -> dict[str, Any]:
    """The call arguments that produce the recorded request (what a user would pass)."""
    body = request_body(name)
    kwargs = {"model": body["model"], **body["input"], **body["parameters"]}
    if name.endswith("-sse"):
        # .stream() adds incremental_output itself; the recordings asked for it explicitly
        assert kwargs.pop("incremental_output") is True
    return kwargs


def recorded_text(name: str) -> str:
    """The whole answer of a recorded stream, joined independently of the library."""
    pieces = []
    for line in load(name, "response.body.txt").decode().splitlines():
        if line.startswith("data:"):
            output = json.loads(line[5:])["output"]
            choices = output.get("choices")
            pieces.append(choices[0]["message"]["content"] if choices else output["text"])
    return "".join(pieces)


@dataclass
class Replay:
    """A client whose transport answers with one recorded response and records the request."""

    mode: str
    name: str
    sent: list[httpx.Request] = field(default_factory=list)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        sse = self.name.endswith("-sse")
        headers = {"content-type": "text/event-stream;charset=UTF-8" if sse else "application/json"}
        body = load(self.name, "response.body.txt")
        return httpx.Response(response_status(self.name), headers=headers, content=body)

    def client(self) -> Any:
        transport = httpx.MockTransport(self._answer)
        if self.mode == "sync":
            return DashScope(api_key="sk-recorded", base_url=BASE, max_retries=0,
                             http_client=httpx.Client(transport=transport))  # fmt: skip
        return AsyncDashScope(api_key="sk-recorded", base_url=BASE, max_retries=0,
                              http_client=httpx.AsyncClient(transport=transport))  # fmt: skip

    def call(self, method: str, **kwargs: Any) -> Any:
        """Run ``client.<method>(**kwargs)`` to completion (a stream is collected)."""
        client = self.client()
        namespace, op = method.split(".")
        target = getattr(getattr(client, namespace), op)
        if self.mode == "sync":
            result = target(**kwargs)
            return list(result) if op == "stream" else result
        return asyncio.run(self._acall(target, op, kwargs))

    @staticmethod
    async def _acall(target: Any, op: str, kwargs: dict[str, Any]) -> Any:
        if op == "stream":
            return [chunk async for chunk in target(**kwargs)]
        return await target(**kwargs)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def generation_names() -> list[str]:
    return [n for n in NAMES if n.startswith("single-generation-")]


@pytest.mark.parametrize("name", generation_names())
def test_builders_reproduce_the_recorded_generation_bodies(name: str) -> None:
    build = build_stream if name.endswith("-sse") else build_call
    spec = build(**inputs(name))
    assert spec.json == request_body(name)
    assert spec.stream is name.endswith("-sse")
    path = load(name, "request.header.txt").split()[1].decode()
    assert BASE.removeprefix("https://dashscope.aliyuncs.com") + spec.path == path


def test_builder_reproduces_the_recorded_embedding_body() -> None:
    body = request_body("text-embedding-nosse")
    specs = build_calls(model=body["model"], texts=body["input"]["texts"], **body["parameters"])
    assert [s.json for s in specs] == [body]


EXPECTED: dict[str, dict[str, Any]] = {
    "single-generation-message-nosse": {
        "request_id": "e764bfe3-c0b7-97a0-ae57-cd99e1580960", "usage": (8, 39, 47),
        "text": "1+1 等于 2。这是最基本的数学加法之一，在十进制计数体系中，"
                "任何两个相同的数字相加都等于该数字的二倍。",
    },
    "single-generation-message-sse": {
        "request_id": "d272255f-82d7-9cc7-93c5-17ff77024349", "usage": (8, 40, 48), "chunks": 10,
    },
    "single-generation-message-with-tools-nosse": {
        "request_id": "67300049-c108-9987-b1c1-8e0ee2de6b5d", "usage": (211, 8, 219), "text": "",
        "tool": ("call_cec4c19d27624537b583af", "get_current_weather",
                 '{"location": "浙江省杭州市"}'),
    },
    "single-generation-message-with-tools-sse": {
        "request_id": "dd51401b-146e-42a0-96d9-4067a5fac75a", "usage": (283, 53, 336),
        "cached": 0, "chunks": 14,
    },
    "single-generation-text-nosse": {
        "request_id": "7e3d5586-cb70-98ce-97bf-8a2ac0091c3f", "usage": (16, 14, 30), "cached": 0,
        "text": "1+1等于2。这是最基本的数学加法运算之一。",
    },
    "single-generation-text-sse": {
        "request_id": "5b441aa7-0b9c-9fbc-ae0a-e2b212b71eac", "usage": (16, 6, 22),
        "text": "1+1等于2。", "chunks": 5,
    },
}  # fmt: skip


@pytest.mark.parametrize("name", generation_names())
def test_recorded_generation_answers_parse(mode: str, name: str) -> None:
    replay = Replay(mode, name)
    expected = EXPECTED[name]
    stream = name.endswith("-sse")
    result = replay.call("generation.stream" if stream else "generation.call", **inputs(name))
    if stream:
        assert len(result) == expected["chunks"]
        assert all(c.finish_reason is None for c in result[:-1])
        result = accumulate(result)
    sent = replay.sent[0]
    assert json.loads(sent.content) == request_body(name)
    assert (sent.headers.get("x-dashscope-sse") == "enable") is stream
    assert result.request_id == expected["request_id"]
    assert result.text == expected.get("text", recorded_text(name) if stream else None)
    assert result.finish_reason == "stop"
    usage = result.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == expected["usage"]
    if "cached" in expected:
        assert usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == expected["cached"]
    if "tool" in expected:
        (call,) = result.tool_calls
        assert (call.id, call.function.name, call.function.arguments) == expected["tool"]
        assert (call.index, call.type) == (0, "function")
        assert json.loads(call.function.arguments) == {"location": "浙江省杭州市"}
    else:
        assert result.tool_calls == []
    if "-message-" in name:
        assert result.message is not None and result.message.role == "assistant"
    else:
        assert result.message is None and result.output.text == result.text


def test_recorded_embedding_answer_parses(mode: str) -> None:
    replay = Replay(mode, "text-embedding-nosse")
    result = replay.call("embeddings.call", model="text-embedding-v2", texts=["代码改变世界"],
                         text_type="query")  # fmt: skip
    assert json.loads(replay.sent[0].content) == request_body("text-embedding-nosse")
    assert result.request_id == "1773f7b2-2148-9f74-b335-b413e398a116"
    assert result.usage.total_tokens == 3
    (item,) = result.output.embeddings
    raw = json.loads(load("text-embedding-nosse", "response.body.txt"))
    assert item.text_index == 0
    assert item.embedding == raw["output"]["embeddings"][0]["embedding"]
    assert len(item.embedding) == 1536 and item.embedding[0] == -0.005039233741296242
    assert result.embeddings == [item.embedding]


ERRORS = {
    "auth-error-nosse": (AuthenticationError, 401, "InvalidApiKey", "Invalid API-key provided.",
                         "a1c0561c-1dfe-98a6-a62f-983577b8bc5e"),
    "parameter-error-nosse": (BadRequestError, 400, "InvalidParameter",
                              "Role must be user or assistant and Content length must be greater "
                              "than 0", "a5898c04-d210-901b-965f-e4bd90478805"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_recorded_errors_are_typed(mode: str, name: str) -> None:
    cls, status, code, message, request_id = ERRORS[name]
    kwargs = inputs(name)
    if name == "parameter-error-nosse":
        # the recorded request sends prompt AND an empty messages list: refused before sending
        with pytest.raises(ValueError, match="messages"):
            build_call(**kwargs)
        del kwargs["messages"]
    replay = Replay(mode, name)
    with pytest.raises(cls) as info:
        replay.call("generation.call", **kwargs)
    error = info.value
    assert (error.status_code, error.code, error.request_id) == (status, code, request_id)
    assert error.message.startswith(message)
    assert request_id in str(error) and "sk-recorded" not in str(error) + repr(error)
    assert len(replay.sent) == 1  # 400 and 401 are never retried


def test_every_relevant_recording_is_covered() -> None:
    covered = set(EXPECTED) | set(ERRORS) | {"text-embedding-nosse"}
    assert set(NAMES) == covered


SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "recorded"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared/ beside this checkout (a fresh clone)")
def test_the_in_repo_copy_is_the_shared_recording() -> None:
    # tests read tests/fixtures/recorded so a fresh clone runs alone; it must stay verbatim
    names = sorted(p.name for p in SHARED.iterdir())
    assert names == sorted(p.name for p in RECORDED.iterdir())
    assert all((SHARED / n).read_bytes() == (RECORDED / n).read_bytes() for n in names)
