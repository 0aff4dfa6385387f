"""``ChatDashScope.batch(..., use_batch_api=True)``, ``submit_batch`` / ``collect_batch`` and
``DashScopeEmbeddings(use_batch_api=True)`` against the emulator: same answers as real-time
calls, ``batch()``'s return types and callbacks, errors in place, jobs resumed elsewhere."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from dashscope_core import BatchJob
from dashscope_core.emulator import Emulator, ServerHandle, batch_settings
from dashscope_core.errors import BadRequestError, BatchFailedError
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings

KEY = "sk-test-langchain-batch"
JSON_MODE = {"type": "json_object"}


class Recorder(BaseCallbackHandler):
    """The run events a tracer would see."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any):
        self.events.append(("start", messages[0][-1].content))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.events.append(("end", response.generations[0][0].message.content))

    def on_llm_error(self, error: BaseException, **kwargs: Any) -> None:
        self.events.append(("error", type(error).__name__))


@pytest.fixture
def chat(server: ServerHandle, emu: Emulator) -> ChatDashScope:
    batch_settings(emu).time_scale = 0  # batches finish at the first look
    return ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url)


def test_batch_api_answers_like_invoke_in_input_order(chat: ChatDashScope, emu: Emulator):
    questions = ["What is Paris?", "Name a prime number", [("user", "Tell me about tea")]]
    recorder = Recorder()
    seen: list[BatchJob] = []
    got = chat.batch(questions, {"callbacks": [recorder]}, use_batch_api=True,
                     poll_interval=0, progress=seen.append)  # fmt: skip
    assert emu.received("generation") == []  # nothing went real-time
    assert len(emu.received("batches")) >= 2 and seen[-1].request_counts.completed == 3
    expected = [chat.invoke(q) for q in questions]
    assert [type(m) for m in got] == [AIMessage] * 3
    assert [m.content for m in got] == [m.content for m in expected]
    for batched, realtime in zip(got, expected, strict=True):
        usage, want = dict(batched.usage_metadata), dict(realtime.usage_metadata)
        assert usage.pop("input_token_details") == {"cache_read": 0}  # no cache in batches
        want.pop("input_token_details")
        assert usage == want
    assert all(m.response_metadata["finish_reason"] == "stop" for m in got)
    starts = [e for e in recorder.events if e[0] == "start"]
    ends = [e for e in recorder.events if e[0] == "end"]
    assert [s[1] for s in starts] == ["What is Paris?", "Name a prime number", "Tell me about tea"]
    assert [e[1] for e in ends] == [m.content for m in got]


def test_refused_requests_come_back_in_place_or_raise(chat: ChatDashScope) -> None:
    # JSON mode needs the word "json" in the prompt: the service refuses the second request
    questions = ["Answer in json please", "No format word here"]
    recorder = Recorder()
    got = chat.batch(questions, {"callbacks": [recorder]}, use_batch_api=True, poll_interval=0,
                     return_exceptions=True, response_format=JSON_MODE)  # fmt: skip
    assert isinstance(got[0], AIMessage) and got[0].content.startswith("{")
    assert isinstance(got[1], BadRequestError) and "json" in got[1].message
    assert ("error", "BadRequestError") in recorder.events
    with pytest.raises(BadRequestError):
        chat.batch(questions, use_batch_api=True, poll_interval=0, response_format=JSON_MODE)


def test_abatch_uses_the_batch_api_too(chat: ChatDashScope, emu: Emulator) -> None:
    got = asyncio.run(chat.abatch(["one", "two"], use_batch_api=True, poll_interval=0))
    assert [m.content for m in got] == [chat.invoke("one").content, chat.invoke("two").content]


def test_plain_batch_is_unchanged(chat: ChatDashScope, emu: Emulator) -> None:
    got = chat.batch(["one", "two"])
    assert len(got) == 2 and len(emu.received("generation")) == 2
    assert emu.received("batches") == []


def test_tools_and_structured_output_through_the_batch_api(chat: ChatDashScope) -> None:
    def get_weather(city: str) -> str:
        """Get the weather of a city."""
        return "sunny"

    tooled = chat.bind_tools([get_weather], tool_choice="get_weather")
    (message,) = tooled.batch(["Weather in 'Paris'?"], use_batch_api=True, poll_interval=0)
    (call,) = message.tool_calls
    assert call["name"] == "get_weather" and call["args"]["city"] and call["id"]

    class Answer(BaseModel):
        answer: str

    structured = chat.with_structured_output(Answer)
    (parsed,) = structured.batch(["What is tea?"], use_batch_api=True, poll_interval=0)
    assert isinstance(parsed, Answer) and parsed.answer


def test_submit_now_collect_in_another_model_instance(chat: ChatDashScope, server: ServerHandle):
    job = chat.submit_batch(["first question", "second question"], temperature=0.5)
    text = job.to_json()
    assert KEY not in text and isinstance(job, BatchJob)
    later = ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url)
    got = later.collect_batch(text, poll_interval=0)
    assert [m.content for m in got] == [
        chat.invoke("first question", temperature=0.5).content,
        chat.invoke("second question", temperature=0.5).content,
    ]
    got_async = asyncio.run(later.acollect_batch(job, poll_interval=0))
    assert [m.content for m in got_async] == [m.content for m in got]


def test_a_job_that_fails_validation_raises_and_ends_every_run(
    server: ServerHandle, emu: Emulator
) -> None:
    batch_settings(emu).time_scale = 0
    not_batchable = ChatDashScope(model="gpt-4o", api_key=KEY, base_url=server.base_url)
    recorder = Recorder()
    with pytest.raises(BatchFailedError) as caught:
        not_batchable.batch(["a", "b"], {"callbacks": [recorder]}, use_batch_api=True,
                            poll_interval=0)  # fmt: skip
    assert caught.value.code == "model_not_found"
    assert [e for e in recorder.events if e[0] == "error"] == [("error", "BatchFailedError")] * 2


def test_bad_input_fails_before_any_request(chat: ChatDashScope, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="timeout"):
        chat.batch(["x"], use_batch_api=True, timeout=-1)  # a client option, checked per call
    with pytest.raises(ValueError, match="interval"):
        chat.batch(["x"], use_batch_api=True, poll_interval=-1)
    assert emu.received() == []


def test_embeddings_through_the_batch_api(server: ServerHandle, emu: Emulator) -> None:
    batch_settings(emu).time_scale = 0
    seen: list[BatchJob] = []
    texts = [f"document number {i}" for i in range(23)]
    batched = DashScopeEmbeddings(api_key=KEY, base_url=server.base_url, dimension=64,
                                  use_batch_api=True, batch_poll_interval=0,
                                  batch_progress=seen.append)  # fmt: skip
    realtime = DashScopeEmbeddings(api_key=KEY, base_url=server.base_url, dimension=64)
    vectors = batched.embed_documents(texts)
    expected = realtime.embed_documents(texts)
    assert len(vectors) == 23 and seen[-1].request_counts.total == 3  # 10 texts per request
    for got, want in zip(vectors, expected, strict=True):
        assert got == pytest.approx(want)
    again = asyncio.run(batched.aembed_documents(texts[:3]))
    assert again[2] == pytest.approx(expected[2])
    before = len(emu.received("batches"))
    assert batched.embed_query("a query") == pytest.approx(realtime.embed_query("a query"))
    assert len(emu.received("batches")) == before  # queries stay real-time
    assert "batch_progress" not in batched.model_dump()
