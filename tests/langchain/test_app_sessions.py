"""Three-turn Bailian app conversations through ChatDashScopeApp, against a server that, like
the service, records only ``prompt`` turns in a session (``_app_session_server``), and against
our emulator (which does the same)."""

from __future__ import annotations

from typing import Any

import pytest
from _app_session_server import SessionServer
from _langchain_helpers import MODES, ask
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScopeApp

KEY = "sk-test-app-sessions"


async def _ask(app: ChatDashScopeApp, mode: str, messages: Any, **kw: Any) -> AIMessage:
    full = await ask(app, mode, messages, **kw)
    if isinstance(full, AIMessageChunk):  # streamed: as a plain message for the next turn
        return AIMessage(content=full.content, response_metadata=full.response_metadata)
    return full  # type: ignore[no-any-return]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("system", [False, True])
async def test_a_server_session_remembers_turn_one(
    sessions: SessionServer, mode: str, system: bool
) -> None:
    app = ChatDashScopeApp(app_id="app-1", api_key=KEY, base_url=sessions.base_url)
    first: list[BaseMessage] = [HumanMessage("My favourite colour is teal.")]
    if system:
        first.insert(0, SystemMessage("Answer briefly."))
    start = len(sessions.received)
    one = await _ask(app, mode, first)
    session_id = one.response_metadata["session_id"]
    await _ask(app, mode, "I also like cats.", session_id=session_id)
    three = await _ask(app.bind(session_id=session_id), mode, "What is my favourite colour?")
    assert "teal" in str(three.content)
    sent = [body["input"] for body in sessions.received[start:]]
    assert all("messages" not in inp for inp in sent)  # the documented flow: prompt, then id
    assert sent[0]["prompt"].endswith("My favourite colour is teal.")
    assert "session_id" not in sent[0]
    assert [inp.get("session_id") for inp in sent[1:]] == [session_id, session_id]


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_kept_history_goes_as_messages(sessions: SessionServer, mode: str) -> None:
    app = ChatDashScopeApp(app_id="app-1", api_key=KEY, base_url=sessions.base_url)
    history: list[BaseMessage] = [HumanMessage("My favourite colour is amber.")]
    history.append(await _ask(app, mode, history))
    history += [HumanMessage("I also like cats.")]
    history.append(await _ask(app, mode, history))
    history += [HumanMessage("What is my favourite colour?")]
    three = await _ask(app, mode, history)
    assert "amber" in str(three.content)
    last = sessions.received[-1]["input"]
    assert [m["role"] for m in last["messages"]] == ["user", "assistant"] * 2 + ["user"]
    assert "prompt" not in last and "session_id" not in last


def test_the_emulator_records_only_prompt_turns(server: ServerHandle, emu: Emulator) -> None:
    app = ChatDashScopeApp(app_id="demo-rag-app", api_key=KEY, base_url=server.base_url)
    one = app.invoke([HumanMessage("My name is Ada.")])
    session_id = one.response_metadata["session_id"]
    assert "prompt" in emu.received("apps")[-1].json["input"]
    assert "Ada" in app.invoke("What is my name?", session_id=session_id).text
    # a messages-mode turn answers from its messages and is not recorded in the session
    history = [HumanMessage("My name is Bob."), AIMessage("Hello Bob."), HumanMessage("Hi")]
    app.invoke(history, session_id=None)
    assert "messages" in emu.received("apps")[-1].json["input"]
    client = app.client
    raw = client.apps.call("demo-rag-app", messages=[{"role": "user", "content": "My name is Eve."},
                                                    {"role": "assistant", "content": "Hi Eve."},
                                                    {"role": "user", "content": "Ok"}],
                           session_id=session_id)  # fmt: skip
    assert raw.session_id == session_id
    assert "Ada" in app.invoke("What is my name?", session_id=session_id).text
