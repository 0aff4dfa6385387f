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
    return ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url, **kw)


def _sent(emu: Emulator) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = emu.received("generation")[-1].json["input"]["messages"]
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
