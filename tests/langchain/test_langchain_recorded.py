"""ChatDashScope, DashScopeLLM, DashScopeEmbeddings and a LangGraph loop against recorded traffic.

The server is ``_langchain_replay`` (stdlib, independent of our emulator): it replays the real
production answers in ``shared/fixtures/recorded`` verbatim (recorded headers, gzip, bodies cut
into small chunks) and hostile variants of them. Requests built by our classes are compared with
the recorded requests, answers field by field with the recorded bodies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _langchain_helpers import joined
from _langchain_replay import ReplayState, load, recorded, recorded_request, replay_server
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.prebuilt import create_react_agent

from dashscope_core.errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    RateLimitError,
)
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings, DashScopeLLM

KEY = "sk-recorded-replay"
GENERATION = "/api/v1/services/aigc/text-generation/generation"
TOKEN_STOP = [[37763, 367]]  # the recordings' stop (token ids)
SAMPLING = {"seed": 1234, "top_p": 0.8, "top_k": 100, "repetition_penalty": 1.1,
            "temperature": 0.85, "enable_search": False}  # fmt: skip
CHUNKS = [1, 5, 1 << 16]


@pytest.fixture(scope="module")
def replay() -> Iterator[ReplayState]:
    with replay_server() as state:
        yield state


@pytest.fixture
def srv(replay: ReplayState) -> ReplayState:
    replay.queue.clear()
    replay.received.clear()
    return replay


def _body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(load(f"{name}.response.body.txt"))
    return body


def _frames(name: str) -> list[dict[str, Any]]:
    lines = load(f"{name}.response.body.txt").decode().splitlines()
    return [json.loads(line[5:]) for line in lines if line.startswith("data:")]


def _sent(srv: ReplayState, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    body: dict[str, Any] = srv.received[-1].json
    for name in drop:
        body["parameters"].pop(name, None)
    return body


def _expected(name: str, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    body = recorded_request(name)
    for key in drop:
        body["parameters"].pop(key, None)
    return body


def qwen_max(srv: ReplayState, **kw: Any) -> ChatDashScope:
    return ChatDashScope(model="qwen-max", api_key=KEY, base_url=srv.base_url, **SAMPLING,
                         stop=TOKEN_STOP, model_kwargs={"max_completion_tokens": 1500},
                         **kw)  # fmt: skip


# ----------------------------------------------------------------------- ChatDashScope


def test_invoke_reproduces_the_recorded_request_and_reads_every_field(srv: ReplayState) -> None:
    srv.queue_recorded("single-generation-message-nosse")
    message = qwen_max(srv).invoke("请问 1+1 是多少？")
    # the recording also sends the server default incremental_output=false
    name = "single-generation-message-nosse"
    assert _sent(srv) == _expected(name, drop=("incremental_output",))
    body = _body(name)
    assert message.content == body["output"]["choices"][0]["message"]["content"]
    assert message.usage_metadata == {"input_tokens": 8, "output_tokens": 39, "total_tokens": 47}
    meta = message.response_metadata
    assert meta["request_id"] == body["request_id"] == message.id
    assert (meta["finish_reason"], meta["model_provider"], meta["model_name"]) == (
        "stop", "dashscope", "qwen-max",
    )  # fmt: skip
    assert meta["token_usage"] == body["usage"]


@pytest.mark.parametrize("chunk", CHUNKS)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_replays_the_recorded_sse(srv: ReplayState, chunk: int, mode: str) -> None:
    name = "single-generation-message-sse"
    srv.queue_recorded(name, chunk=chunk)
    model = qwen_max(srv)
    if mode == "sync":
        chunks = list(model.stream("请问 1+1 是多少？"))
    else:
        chunks = [c async for c in model.astream("请问 1+1 是多少？")]
    assert _sent(srv) == _expected(name)  # incremental_output: true, as recorded
    assert srv.received[-1].headers["x-dashscope-sse"] == "enable"
    frames = _frames(name)
    assert [c.content for c in chunks] == [f["output"]["choices"][0]["message"]["content"]
                                           for f in frames]  # fmt: skip
    assert [c.usage_metadata for c in chunks[:-1]] == [None] * (len(frames) - 1)
    full = joined(chunks)
    assert full.usage_metadata == {"input_tokens": 8, "output_tokens": 40, "total_tokens": 48}
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["request_id"] == frames[-1]["request_id"]


def test_bound_tool_call_from_the_recorded_answer(srv: ReplayState) -> None:
    name = "single-generation-message-with-tools-nosse"
    srv.queue_recorded(name)
    sent = recorded_request(name)
    params = {**SAMPLING, "presence_penalty": 1.2}
    model = ChatDashScope(model="qwen-max", api_key=KEY, base_url=srv.base_url, stop="你好",
                          **params)  # fmt: skip
    # "any" with one tool: the named choice, exactly what the recorded request forced
    bound = model.bind_tools(sent["parameters"]["tools"], tool_choice="any")
    message = bound.invoke("杭州现在的天气如何？")
    assert _sent(srv) == _expected(name, drop=("incremental_output",))
    assert message.tool_calls == [{"name": "get_current_weather", "type": "tool_call",
                                   "args": {"location": "浙江省杭州市"},
                                   "id": "call_cec4c19d27624537b583af"}]  # fmt: skip
    assert message.response_metadata["finish_reason"] == "stop"  # forced-looking, as recorded
    assert message.usage_metadata == {"input_tokens": 211, "output_tokens": 8,
                                      "total_tokens": 219}  # fmt: skip


def test_parallel_tool_history_matches_the_recorded_request(srv: ReplayState) -> None:
    name = "single-generation-message-with-tools-sse"
    srv.queue_recorded(name, chunk=3)
    sent = recorded_request(name)
    calls = sent["input"]["messages"][1]["tool_calls"]
    tool_calls = [{"name": c["function"]["name"], "id": c["id"],
                   "args": json.loads(c["function"]["arguments"])} for c in calls]  # fmt: skip
    history = [
        HumanMessage("杭州上海现在的天气如何？"),
        AIMessage("", tool_calls=tool_calls),
        ToolMessage("浙江省杭州市 大部多云，摄氏 18 度", tool_call_id=calls[0]["id"]),
        ToolMessage("上海市 多云转小雨，摄氏 19 度", tool_call_id=calls[1]["id"]),
    ]
    model = ChatDashScope(model="qwen-plus", api_key=KEY, base_url=srv.base_url, seed=6999)
    bound = model.bind_tools(sent["parameters"]["tools"], parallel_tool_calls=True)
    full = joined(list(bound.stream(history)))
    assert _sent(srv) == sent
    assert full.text.startswith("目前杭州和上海的天气情况如下") and full.text.endswith("下雨。")
    assert full.usage_metadata["input_token_details"] == {"cache_read": 0}


def test_recorded_auth_error_is_typed_and_not_retried(srv: ReplayState) -> None:
    srv.queue_recorded("auth-error-nosse")
    with pytest.raises(AuthenticationError) as info:
        qwen_max(srv, max_retries=2).invoke("Hi")
    assert info.value.request_id == _body("auth-error-nosse")["request_id"]
    assert info.value.code == "InvalidApiKey" and KEY not in str(info.value)
    assert len(srv.received) == 1


def test_recorded_parameter_error_is_typed(srv: ReplayState) -> None:
    srv.queue_recorded("parameter-error-nosse")
    with pytest.raises(BadRequestError) as info:
        DashScopeLLM(api_key=KEY, base_url=srv.base_url).invoke("Hi")
    assert info.value.code == "InvalidParameter" and info.value.request_id
    assert len(srv.received) == 1


# -------------------------------------------------------------------- hostile variants


def _sse(name: str) -> bytes:
    return load(f"{name}.response.body.txt")


def _cut(name: str, frames: int) -> bytes:
    """The first ``frames`` frames of a recorded stream (no final frame)."""
    parts = _sse(name).split(b"id:")
    return b"id:".join(parts[: frames + 1])


def test_crlf_framing_gives_the_same_chunks(srv: ReplayState) -> None:
    name = "single-generation-message-sse"
    srv.queue.append(recorded(name, body=_sse(name).replace(b"\n", b"\r\n"), chunk=4))
    chunks = list(qwen_max(srv).stream("请问 1+1 是多少？"))
    assert len(chunks) == len(_frames(name))
    assert joined(chunks).usage_metadata["output_tokens"] == 40


@pytest.mark.parametrize("mode", ["stream", "invoke"])
def test_error_event_mid_stream_raises_after_the_partial_chunks(
    srv: ReplayState, mode: str
) -> None:
    name = "single-generation-message-sse"
    error = {"code": "Throttling.RateQuota", "message": "Requests rate limit exceeded.",
             "request_id": "5b9c-error"}  # fmt: skip
    frame = b"id:4\nevent:error\n:HTTP_STATUS/429\ndata:" + json.dumps(error).encode() + b"\n"
    srv.queue.append(recorded(name, body=_cut(name, 3) + frame, chunk=5))
    model, seen = qwen_max(srv, max_retries=2), []
    with pytest.raises(RateLimitError) as info:
        if mode == "stream":
            seen.extend(c.content for c in model.stream("请问 1+1 是多少？"))
        else:
            model.invoke("请问 1+1 是多少？", stream=True)
    assert info.value.request_id == "5b9c-error" and info.value.code == "Throttling.RateQuota"
    assert len(srv.received) == 1  # half-consumed streams are never replayed
    if mode == "stream":
        assert seen == ["1", "+", "1"]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_cut_before_the_final_frame_is_never_silently_short(
    srv: ReplayState, mode: str
) -> None:
    name = "single-generation-message-sse"
    srv.queue.append(recorded(name, body=_cut(name, 6), chunk=9))
    model = qwen_max(srv)
    with pytest.raises(IncompleteStreamError):
        if mode == "sync":
            list(model.stream("请问 1+1 是多少？"))
        else:
            [c async for c in model.astream("请问 1+1 是多少？")]


def test_code_in_a_200_body_is_an_error(srv: ReplayState) -> None:
    body = json.dumps({"code": "DataInspectionFailed", "message": "Input data may contain "
                       "inappropriate content.", "request_id": "dif-1"}).encode()  # fmt: skip
    srv.queue.append(recorded("single-generation-message-nosse", body=body))
    with pytest.raises(BadRequestError) as info:
        qwen_max(srv).invoke("Hi")
    assert info.value.code == "DataInspectionFailed" and info.value.request_id == "dif-1"


# ------------------------------------------------------------------------ DashScopeLLM


def qwen_max_text(srv: ReplayState) -> DashScopeLLM:
    return DashScopeLLM(model="qwen-max", api_key=KEY, base_url=srv.base_url, max_tokens=1500,
                        stop=TOKEN_STOP, **SAMPLING)  # fmt: skip


def test_llm_text_format_invoke_and_stream(srv: ReplayState) -> None:
    srv.queue_recorded("single-generation-text-nosse", "single-generation-text-sse")
    model = qwen_max_text(srv)
    result = model.generate(["请问 1+1 是多少？"]).generations[0][0]
    assert _sent(srv) == _expected("single-generation-text-nosse", drop=("incremental_output",))
    body = _body("single-generation-text-nosse")
    assert result.text == body["output"]["text"]
    info = result.generation_info or {}
    assert info["token_usage"] == body["usage"] and info["request_id"] == body["request_id"]
    pieces = list(model.stream("请问 1+1 是多少？"))
    assert _sent(srv) == _expected("single-generation-text-sse")
    frames = _frames("single-generation-text-sse")
    assert pieces == [f["output"]["text"] for f in frames]


# ---------------------------------------------------------------- DashScopeEmbeddings


def test_embeddings_request_and_vector_match_the_recording(srv: ReplayState) -> None:
    srv.queue_recorded("text-embedding-nosse")
    emb = DashScopeEmbeddings(model="text-embedding-v2", api_key=KEY, base_url=srv.base_url)
    vector = emb.embed_query("代码改变世界")
    assert _sent(srv) == recorded_request("text-embedding-nosse")
    assert vector == _body("text-embedding-nosse")["output"]["embeddings"][0]["embedding"]


# ------------------------------------------------------------------------- LangGraph


@tool
def get_current_weather(location: str) -> str:
    """获取现在的天气"""
    return f"{location} 大部多云，摄氏 18 度"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_langgraph_loop_on_recorded_answers(srv: ReplayState, mode: str) -> None:
    srv.queue_recorded("single-generation-message-with-tools-nosse",
                       "single-generation-message-nosse")  # fmt: skip
    model = ChatDashScope(model="qwen-max", api_key=KEY, base_url=srv.base_url)
    agent = create_react_agent(model, [get_current_weather])
    inputs = {"messages": [HumanMessage("杭州现在的天气如何？")]}
    result = agent.invoke(inputs) if mode == "sync" else await agent.ainvoke(inputs)
    messages = result["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage",
    ]  # fmt: skip
    assert messages[2].content == "浙江省杭州市 大部多云，摄氏 18 度"
    assert messages[-1].text.startswith("1+1 等于 2")
    second = srv.received[1].json["input"]["messages"]
    assert second[1]["tool_calls"][0]["id"] == "call_cec4c19d27624537b583af"
    assert second[2] == {"role": "tool", "content": messages[2].content,
                         "tool_call_id": "call_cec4c19d27624537b583af",
                         "name": "get_current_weather"}  # fmt: skip
