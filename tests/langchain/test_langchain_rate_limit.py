"""``rate_limit=`` on the LangChain classes: checked at construction, passed to the client, and
every wait reported to the run's callbacks as a custom event (also in ``astream_events``).

langchain-core hands ``BaseChatModel._stream`` no run manager (its ``stream()`` fires the
callbacks itself), so a streamed chat call's wait is logged and observable through
``observe_rate_limits`` but is not a callback event; ``BaseLLM`` streams do get one."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler

from dashscope_core import RateLimit, RateLimitWait, observe_rate_limits
from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import (
    RATE_LIMIT_EVENT,
    ChatDashScope,
    DashScopeEmbeddings,
    DashScopeLLM,
)

PACED = RateLimit(rpm=120)  # two a second: the second call of a test waits


def _key() -> str:
    return f"sk-{uuid.uuid4().hex}"  # a fresh account, a fresh budget


class Events(BaseCallbackHandler):
    """Custom events and the runs they belong to."""

    def __init__(self) -> None:
        self.custom: list[tuple[str, Any, UUID]] = []
        self.runs: list[UUID] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kw: Any
    ) -> None:
        self.runs.append(run_id)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kw: Any) -> None:
        self.runs.append(run_id)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        self.custom.append((name, data, run_id))


class AsyncEvents(AsyncCallbackHandler):
    """``Events`` as an async handler (its callbacks are awaited)."""

    def __init__(self) -> None:
        self.custom: list[tuple[str, Any, UUID]] = []
        self.runs: list[UUID] = []

    async def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kw: Any) -> None:
        self.runs.append(run_id)

    async def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kw: Any) -> None:
        self.custom.append((name, data, run_id))


@pytest.mark.parametrize("cls", [ChatDashScope, DashScopeLLM, DashScopeEmbeddings])
@pytest.mark.parametrize("value", [600, {"qwen-plus": 600}, "rpm=600", {"*": None}])
def test_a_bad_rate_limit_names_rate_limit(cls: Any, value: object) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        cls(api_key="sk-x", rate_limit=value)


def test_bad_numbers_name_the_field() -> None:
    with pytest.raises(ValueError, match="rpm"):
        ChatDashScope(api_key="sk-x", rate_limit=RateLimit(rpm=-1))


@pytest.mark.parametrize("cls", [ChatDashScope, DashScopeLLM])
def test_a_wait_is_a_custom_event_on_the_run(server: ServerHandle, emu: Emulator, cls: Any) -> None:
    events = Events()
    chat = cls(model="qwen-plus", api_key=_key(), base_url=server.base_url, rate_limit=PACED)
    for question in ("first?", "second?"):
        chat.invoke(question, config={"callbacks": [events]})

    [(name, data, run_id)] = events.custom
    assert name == RATE_LIMIT_EVENT and run_id == events.runs[1]
    assert data["model"] == "qwen-plus" and data["reason"] == "requests"
    assert data["seconds"] > 0.2 and data["tokens"] > 0


async def test_async_calls_and_streams_report_waits(server: ServerHandle, emu: Emulator) -> None:
    events = AsyncEvents()
    llm = DashScopeLLM(model="qwen-plus", api_key=_key(), base_url=server.base_url,
                       rate_limit=PACED)  # fmt: skip
    await llm.ainvoke("first?", config={"callbacks": [events]})
    chunks = [c async for c in llm.astream("second?", config={"callbacks": [events]})]

    assert chunks and [name for name, _, _ in events.custom] == [RATE_LIMIT_EVENT]
    assert events.custom[0][2] == events.runs[1]


async def test_astream_events_shows_the_wait(server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(model="qwen-plus", api_key=_key(), base_url=server.base_url,
                       rate_limit={"qwen-plus": PACED})  # fmt: skip
    await llm.ainvoke("first?")
    seen = [e async for e in llm.astream_events("second?", version="v2")]

    custom = [e for e in seen if e["event"] == "on_custom_event"]
    assert [e["name"] for e in custom] == [RATE_LIMIT_EVENT]
    assert custom[0]["run_id"] == seen[0]["run_id"]  # the model's run


async def test_a_streamed_chat_waits_and_is_observable(server: ServerHandle, emu: Emulator) -> None:
    waits: list[RateLimitWait] = []
    chat = ChatDashScope(model="qwen-plus", api_key=_key(), base_url=server.base_url,
                         rate_limit=PACED)  # fmt: skip
    await chat.ainvoke("first?")
    with observe_rate_limits(waits.append):
        chunks = [c async for c in chat.astream("second?")]
    assert chunks and [w.model for w in waits] == ["qwen-plus"]


def test_embeddings_are_paced_too(server: ServerHandle, emu: Emulator) -> None:
    waits: list[RateLimitWait] = []
    embeddings = DashScopeEmbeddings(api_key=_key(), base_url=server.base_url, rate_limit=PACED)
    with observe_rate_limits(waits.append):
        embeddings.embed_query("first")
        embeddings.embed_documents(["second", "third"])
    assert [w.model for w in waits] == ["text-embedding-v4"]
