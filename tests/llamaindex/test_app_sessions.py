"""Three-turn Bailian app conversations through DashScopeAppLLM, against a server that, like the
service, records only ``prompt`` turns in a session (``_app_session_server``)."""

from __future__ import annotations

from typing import Any

import pytest
from _app_session_server import SessionServer
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole

from llamaindex_dashscope_ext import DashScopeAppLLM

KEY = "sk-test-app-sessions"
MODES = ["chat", "achat", "stream_chat", "astream_chat"]


async def _ask(llm: DashScopeAppLLM, mode: str, text: str, **kw: Any) -> ChatResponse:
    messages = [ChatMessage(role=MessageRole.USER, content=text)]
    if mode == "chat":
        return llm.chat(messages, **kw)
    if mode == "achat":
        return await llm.achat(messages, **kw)
    if mode == "stream_chat":
        return list(llm.stream_chat(messages, **kw))[-1]
    return [r async for r in await llm.astream_chat(messages, **kw)][-1]


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_session_remembers_turn_one(sessions: SessionServer, mode: str) -> None:
    llm = DashScopeAppLLM(app_id="app-1", api_key=KEY, base_url=sessions.base_url)
    start = len(sessions.received)
    one = await _ask(llm, mode, "My favourite colour is teal.")
    session_id = one.additional_kwargs["session_id"]
    await _ask(llm, mode, "I also like cats.", session_id=session_id)
    resumed = DashScopeAppLLM(app_id="app-1", api_key=KEY, base_url=sessions.base_url,
                              session_id=session_id)  # fmt: skip
    three = await _ask(resumed, mode, "What is my favourite colour?")
    assert "teal" in (three.message.content or "")
    sent = [body["input"] for body in sessions.received[start:]]
    assert sent[0] == {"prompt": "My favourite colour is teal."}
    assert all("messages" not in inp for inp in sent)
    assert [inp.get("session_id") for inp in sent[1:]] == [session_id, session_id]


async def test_complete_and_a_client_kept_history(sessions: SessionServer, mode: str) -> None:
    llm = DashScopeAppLLM(app_id="app-1", api_key=KEY, base_url=sessions.base_url)
    first = llm.complete("My favourite colour is amber.") if mode == "sync" else (
        await llm.acomplete("My favourite colour is amber."))  # fmt: skip
    assert sessions.received[-1]["input"] == {"prompt": "My favourite colour is amber."}
    history = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="My favourite colour is amber."),
        ChatMessage(role=MessageRole.ASSISTANT, content=first.text),
        ChatMessage(role=MessageRole.USER, content="What is my favourite colour?"),
    ]
    answer = llm.chat(history) if mode == "sync" else await llm.achat(history)
    assert "amber" in (answer.message.content or "")
    sent = sessions.received[-1]["input"]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "user"]
