"""The independent check: a plain stdlib HTTP server (not our emulator) replays real Bailian app
responses (shared/fixtures/recorded/application-*, a workflow ``message_format`` stream from the
Model Studio docs) and hostile variants of them over loopback; core (sync and async), LangChain
and LlamaIndex must read every field, and fail typed when the stream is broken."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from _loopback import QuietHandler, api_url, serve
from _recorded import recording_text

from dashscope_core import AsyncDashScope, DashScope, accumulate_app
from dashscope_core.errors import IncompleteStreamError, RateLimitError

RAG = "application-single-generation-text-nosse"
THOUGHTS = "application-conversation-generation-session-id-nosse"
SSE = "application-single-generation-text-sse"


def _recorded(name: str) -> bytes:
    return recording_text(f"{name}.response.body.txt").encode()


@dataclass
class Reply:
    """One canned answer: body bytes, sent in pieces of ``split`` bytes."""

    body: bytes
    sse: bool = False
    gzip: bool = False
    split: int = 0
    status: int = 200


@dataclass
class Replay:
    """What the replay server answers next, and what it received."""

    replies: list[Reply] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""


def _handler(state: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            headers = httpx.Headers(self.headers.items())
            state.received.append({"path": self.path, "json": body, "headers": headers})
            reply = state.replies.pop(0)
            payload = gzip.compress(reply.body) if reply.gzip else reply.body
            kind = "text/event-stream;charset=UTF-8" if reply.sse else "application/json"
            headers = [("Content-Type", kind), ("x-request-id", "replay-request-id")]
            if reply.gzip:
                headers.append(("Content-Encoding", "gzip"))
            step = reply.split or len(payload) or 1
            pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
            self.send_chunked(reply.status, headers, pieces)

    return Handler


@pytest.fixture(scope="module")
def server() -> Iterator[Replay]:
    state = Replay()
    with serve(_handler(state)) as httpd:
        state.base_url = api_url(httpd)
        yield state


@pytest.fixture
def replay(server: Replay) -> Iterator[Replay]:
    server.replies.clear()
    server.received.clear()
    yield server
    assert server.replies == [], "a canned reply was not asked for"


def _call(replay: Replay, mode: str, fn: Callable[[Any], Any]) -> Any:
    if mode == "sync":
        with DashScope(api_key="sk-replay", base_url=replay.base_url, max_retries=0) as client:
            result = fn(client)
            return list(result) if hasattr(result, "__next__") else result

    async def go() -> Any:
        async with AsyncDashScope(
            api_key="sk-replay", base_url=replay.base_url, max_retries=0
        ) as c:
            result = fn(c)
            if hasattr(result, "__aiter__"):
                return [chunk async for chunk in result]
            return await result

    return asyncio.run(go())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_rag_answer_with_thoughts_and_citations(replay: Replay, mode: str) -> None:
    replay.replies.append(Reply(_recorded(RAG), gzip=True, split=97))
    rag = {
        "pipeline_ids": ["thie5bysoj"],
        "file_ids": ["file_d129d632800c45aa9e7421b30561f447_10207234"],
    }
    r = _call(replay, mode, lambda c: c.apps.call("5ccc1401", "总结", rag_options=rag))
    want = json.loads(_recorded(RAG))["output"]
    assert r.text == want["text"] and r.session_id == "b7250cba47db463ca851dfb4088e71d8"
    assert [t.action for t in r.output.thoughts] == ["rag", "memory"]
    memory = json.loads(r.output.thoughts[1].action_input_stream or "")
    assert memory["memory_id"] == "ffd8be2352d84c6b9350e91c865b512e"
    refs = r.output.doc_references
    assert [d.index_id for d in refs] == ["1", "2", "3", "4", "5"] and len(refs[0].images) == 2
    assert refs[0].images[0].startswith("http://docmind-api-cn-hangzhou")
    assert {d.doc_id for d in refs} == {"file_d129d632800c45aa9e7421b30561f447_10207234"}
    assert r.usage.models[0].model_id == "qwen-plus" and r.usage.total_tokens == 2591 + 290
    assert r.request_id == "c127bd40-180c-9cfa-b991-f875edd8c310"
    sent = replay.received[0]
    assert sent["path"] == "/api/v1/apps/5ccc1401/completion"
    assert sent["json"] == {
        "model": "",
        "input": {"prompt": "总结"},
        "parameters": {"rag_options": rag},
    }
    assert sent["headers"]["Authorization"] == "Bearer sk-replay"


def _frames(name: str) -> list[str]:
    text = _recorded(name).decode()
    return [block for block in text.split("\n\n") if block.strip()]


def _variants() -> dict[str, Reply]:
    frames = _frames(SSE)
    return {
        "as-recorded": Reply(_recorded(SSE), sse=True, split=1000),
        "byte-by-byte": Reply(_recorded(SSE), sse=True, split=7),
        "crlf": Reply(
            "\r\n\r\n".join(f.replace("\n", "\r\n") for f in frames).encode(), sse=True, split=333
        ),
        "no-blank-lines": Reply("\n".join(frames).encode(), sse=True, split=4096),
        "space-after-colons": Reply(
            "\n\n".join(
                f.replace("data:", "data: ").replace("id:", "id: ") for f in frames
            ).encode(),
            sse=True,
        ),
    }


@pytest.mark.parametrize("variant", list(_variants()))
def test_recorded_stream_and_hostile_framings_give_the_same_answer(
    replay: Replay, variant: str
) -> None:
    replay.replies.append(_variants()[variant])
    chunks = _call(
        replay,
        "sync",
        lambda c: list(c.apps.stream("010aa085", "总结", rag_options={"tags": ["xUnit"]})),
    )
    whole = accumulate_app(chunks)
    data = [json.loads(f.split("data:", 1)[1]) for f in _frames(SSE)]
    assert whole.text == "".join(d["output"]["text"] for d in data)
    assert [bool(c.output.doc_references) for c in chunks][-1] and not any(
        c.output.doc_references for c in chunks[:-1]
    )
    assert [d.index_id for d in whole.output.doc_references] == ["2", "3", "4", "5"]
    assert (
        whole.usage.models[0].output_tokens == 244
        and whole.session_id == data[0]["output"]["session_id"]
    )
    assert replay.received[0]["headers"]["X-DashScope-SSE"] == "enable"
    assert replay.received[0]["json"]["parameters"]["incremental_output"] is True


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stream_cut_before_the_final_frame_is_incomplete(replay: Replay, mode: str) -> None:
    frames = _frames(SSE)
    replay.replies.append(Reply("\n\n".join(frames[:-1]).encode(), sse=True, split=500))
    with pytest.raises(IncompleteStreamError):
        _call(replay, mode, lambda c: c.apps.stream("010aa085", "总结"))


def test_error_event_mid_stream_is_typed(replay: Replay) -> None:
    frames = _frames(SSE)[:3]
    body = {"code": "Throttling.RateQuota", "message": "rate limit", "request_id": "44862941"}
    error = f"id:4\nevent:error\n:HTTP_STATUS/429\ndata:{json.dumps(body)}"
    replay.replies.append(Reply("\n\n".join([*frames, error]).encode(), sse=True))
    with pytest.raises(RateLimitError) as info:
        _call(replay, "sync", lambda c: list(c.apps.stream("010aa085", "总结")))
    assert info.value.code == "Throttling.RateQuota" and info.value.request_id == "44862941"


def _workflow_stream() -> bytes:
    pieces = ["我是通义千问", "，阿里巴巴集团旗下的", "超大规模语言模型。"]
    frames = []
    for i, piece in enumerate([*pieces, ""], 1):
        done = i > len(pieces)
        message = {"node_status": "success" if done else "executing", "node_type": "End",
                   "node_msg_seq_id": i, "node_name": "结束", "node_id": "End_7w1V",
                   "message": {"content": piece, "role": "assistant"},
                   "node_is_completed": done}  # fmt: skip
        output = {"session_id": "0a6aff53", "workflow_message": message, "finish_reason": "null"}
        frames.append({"output": output, "usage": {}, "request_id": "88878d48"})
    final = {"session_id": "0a6aff53", "finish_reason": "stop", "text": "".join(pieces)}
    frames.append({"output": final, "usage": {}, "request_id": "88878d48"})
    events = [f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(f, ensure_ascii=False)}"
              for i, f in enumerate(frames, 1)]  # fmt: skip
    return "\n\n".join(events).encode()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_workflow_message_format_stream(replay: Replay, mode: str) -> None:
    replay.replies.append(Reply(_workflow_stream(), sse=True, split=64))
    chunks = _call(
        replay, mode, lambda c: c.apps.stream("wf", "你是谁？", flow_stream_mode="message_format")
    )
    nodes = [c.output.workflow_message for c in chunks if c.output.workflow_message]
    answer = "我是通义千问，阿里巴巴集团旗下的超大规模语言模型。"
    assert "".join(n.message.content for n in nodes) == answer and nodes[-1].node_is_completed
    assert accumulate_app(chunks).text == answer and chunks[-1].usage.models == []
    assert replay.received[0]["json"]["parameters"]["flow_stream_mode"] == "message_format"


def test_langchain_reads_the_recorded_answers(replay: Replay) -> None:
    lc = pytest.importorskip("langchain_dashscope_ext")
    replay.replies += [
        Reply(_recorded(THOUGHTS), gzip=True),
        Reply(_recorded(SSE), sse=True, split=211),
    ]
    chat = lc.ChatDashScopeApp(
        app_id="010aa085", api_key="sk-replay", base_url=replay.base_url, max_retries=0
    )
    first = chat.invoke(
        "总结一下第一本书的内容", session_id="9995da2046a04b448dc5a562563f4835", has_thoughts=True
    )
    meta = first.response_metadata
    assert meta["session_id"] == "9995da2046a04b448dc5a562563f4835" and meta["doc_references"] == []
    assert [t["action_type"] for t in meta["thoughts"]] == ["agentRag", "reasoning"]
    assert first.usage_metadata == {
        "input_tokens": 1283,
        "output_tokens": 1081,
        "total_tokens": 2364,
    }
    assert replay.received[0]["json"]["input"] == {
        "prompt": "总结一下第一本书的内容",
        "session_id": "9995da2046a04b448dc5a562563f4835",
    }
    chunks = list(chat.stream("总结xUnit Test Patterns中的内容"))
    last = chunks[-1]
    assert [d["index_id"] for d in last.response_metadata["doc_references"]] == ["2", "3", "4", "5"]
    assert last.usage_metadata["output_tokens"] == 244
    assert all(c.response_metadata == {"model_provider": "dashscope"} for c in chunks[:-1])


def test_llamaindex_reads_the_recorded_answers(replay: Replay) -> None:
    li = pytest.importorskip("llamaindex_dashscope_ext")
    from llama_index.core.llms import ChatMessage

    replay.replies += [
        Reply(_recorded(RAG)),
        Reply(_recorded(SSE), sse=True, split=503),
        Reply(_recorded(RAG)),
    ]
    llm = li.DashScopeAppLLM(
        app_id="5ccc1401", api_key="sk-replay", base_url=replay.base_url, max_retries=0
    )
    r = llm.chat([ChatMessage(role="user", content="总结")])
    assert r.additional_kwargs["session_id"] == "b7250cba47db463ca851dfb4088e71d8"
    assert (
        len(r.additional_kwargs["doc_references"]) == 5 and r.raw["usage"]["total_tokens"] == 2881
    )
    *_, last = llm.stream_chat([ChatMessage(role="user", content="总结")])
    assert (
        len(last.additional_kwargs["doc_references"]) == 4
        and last.raw["output"]["finish_reason"] == "stop"
    )
    from llamaindex_dashscope_ext.apps import DashScopeAppRetriever

    nodes = DashScopeAppRetriever(
        "5ccc1401", api_key="sk-replay", base_url=replay.base_url
    ).retrieve("总结")
    assert [n.node.metadata["index_id"] for n in nodes] == ["1", "2", "3", "4", "5"]
    assert nodes[0].node.metadata["images"] and nodes[0].score == 1.0
