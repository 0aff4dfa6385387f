"""Message shapes a first LangChain program sends: tool error results, several system messages.

Each test checks what reached the wire (the emulator records every request) and that the
emulator, which refuses what the service refuses, answered.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope

KEY = "sk-test-messages"


@tool
def flaky(city: str) -> str:
    """Look up a city (always fails)."""
    raise ValueError(f"no data for {city}")


def chat(server: ServerHandle, **kw: Any) -> ChatDashScope:
    return ChatDashScope(**{"model": "qwen-plus", "api_key": KEY, "base_url": server.base_url,
                            **kw})  # fmt: skip


def _sent(emu: Emulator) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = emu.received()[-1].json["input"]["messages"]
    return messages


# ------------------------------------------------------------------------ tool errors


def test_tool_node_error_results_reach_the_wire_as_given(
    server: ServerHandle, emu: Emulator
) -> None:
    call = {"name": "flaky", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
    asked = AIMessage("", tool_calls=[call])
    graph = StateGraph(MessagesState)
    graph.add_node("tools", ToolNode([flaky], handle_tool_errors=True))
    graph.add_edge(START, "tools")
    error = graph.compile().invoke({"messages": [asked]})["messages"][-1]
    assert isinstance(error, ToolMessage) and error.status == "error"
    assert error.content.startswith("Error: ")  # LangGraph writes the prefix itself

    chat(server).bind_tools([flaky]).invoke([HumanMessage("Weather in Paris?"), asked, error])
    tool_message = _sent(emu)[-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert tool_message["content"] == error.content  # never "Error: Error: ..."


@pytest.mark.parametrize("status", ["error", "success"])
def test_tool_message_content_is_sent_unchanged_whatever_its_status(
    server: ServerHandle, emu: Emulator, status: Any
) -> None:
    asked = AIMessage("", tool_calls=[{"name": "flaky", "args": {"city": "Rome"}, "id": "c1"}])
    answer = ToolMessage("Error: service down", tool_call_id="c1", status=status)
    chat(server).bind_tools([flaky]).invoke([HumanMessage("Rome?"), asked, answer])
    assert _sent(emu)[-1]["content"] == "Error: service down"


# -------------------------------------------------------------------- system messages


def test_langchains_double_messages_conversation_is_accepted(
    server: ServerHandle, emu: Emulator
) -> None:
    # langchain_tests' test_double_messages_conversation, checked on the wire
    messages = [SystemMessage("hello"), SystemMessage("hello"), HumanMessage("hello"),
                HumanMessage("hello"), AIMessage("hello"), AIMessage("hello"),
                HumanMessage("how are you")]  # fmt: skip
    answer = chat(server).invoke(messages)
    assert isinstance(answer, AIMessage) and answer.text
    sent = _sent(emu)
    assert sent[0] == {"role": "system", "content": "hello\n\nhello"}
    assert [m["role"] for m in sent] == ["system", "user", "user", "assistant", "assistant",
                                         "user"]  # fmt: skip


@pytest.mark.parametrize("mode", ["invoke", "stream", "ainvoke", "astream"])
async def test_a_later_system_message_joins_the_leading_one(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    messages = [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello!"),
                SystemMessage("From now on answer in French."),
                HumanMessage("How are you?")]  # fmt: skip
    model = chat(server)
    if mode == "invoke":
        model.invoke(messages)
    elif mode == "ainvoke":
        await model.ainvoke(messages)
    elif mode == "stream":
        assert list(model.stream(messages))
    else:
        assert [c async for c in model.astream(messages)]
    assert _sent(emu) == [
        {"role": "system", "content": "Be brief.\n\nFrom now on answer in French."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]


def test_system_messages_merge_as_parts_when_an_image_is_sent(
    server: ServerHandle, emu: Emulator
) -> None:
    picture = {"type": "image", "url": "https://example.com/cat.png"}
    messages = [HumanMessage([{"type": "text", "text": "What is this?"}, picture]),
                SystemMessage("Answer in one word.")]  # fmt: skip
    chat(server, model="qwen-vl-max").invoke([SystemMessage("You see images."), *messages])
    sent = _sent(emu)
    assert sent[0] == {
        "role": "system",
        "content": [{"text": "You see images."}, {"text": "Answer in one word."}],
    }
    assert [m["role"] for m in sent] == ["system", "user"]  # fmt: skip


def test_the_emulator_refuses_a_late_system_message_as_the_service_does(
    server: ServerHandle,
) -> None:
    import httpx

    body = {"model": "qwen-plus", "input": {"messages": [
        {"role": "user", "content": "Hi"}, {"role": "system", "content": "Be brief."}]},
        "parameters": {"result_format": "message"}}  # fmt: skip
    url = f"{server.base_url}/services/aigc/text-generation/generation"
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 400 and answer.json()["code"] == "InvalidParameter"
    assert "System message must be at the beginning" in answer.json()["message"]
