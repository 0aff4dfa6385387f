"""A LangGraph ReAct agent with ChatDashScope and two tools, run as a new user would."""

from __future__ import annotations

from typing import Any

import pytest
from _langchain_helpers import add, get_weather
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langgraph.prebuilt import create_react_agent  # langchain.agents is not installed

from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.state import Emulator
from langchain_dashscope_ext import ChatDashScope


def _agent(server: ServerHandle) -> Any:
    model = ChatDashScope(api_key="sk-test", base_url=server.base_url)
    return create_react_agent(model, [get_weather, add])


def _script_two_steps(emu: Emulator) -> None:
    # Step 1 calls get_weather, step 2 calls add; step 3 is the emulator's own answer,
    # which quotes the tool results.
    emu.script.generation(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    emu.script.generation(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}}])


QUESTION = "What is the weather in Paris, and what is 2 + 3?"


def _check_transcript(messages: list[Any], emu: Emulator) -> None:
    tools = [m for m in messages if isinstance(m, ToolMessage)]
    assert [t.content for t in tools] == ["Paris: sunny, 21 C", "5"]
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert "5" in final.text  # the emulator answers from the latest tool results
    sent = emu.received("generation")
    assert len(sent) == 3
    # the third request carries the whole loop: assistant tool calls + tool results by id
    wire = sent[2].json["input"]["messages"]
    assert [m["role"] for m in wire] == ["user", "assistant", "tool", "assistant", "tool"]
    assert wire[2]["tool_call_id"] == wire[1]["tool_calls"][0]["id"]


def test_agent_loop_sync(server: ServerHandle, emu: Emulator) -> None:
    _script_two_steps(emu)
    result = _agent(server).invoke({"messages": [HumanMessage(QUESTION)]})
    _check_transcript(result["messages"], emu)


async def test_agent_loop_async(server: ServerHandle, emu: Emulator) -> None:
    _script_two_steps(emu)
    result = await _agent(server).ainvoke({"messages": [HumanMessage(QUESTION)]})
    _check_transcript(result["messages"], emu)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_agent_streams_tokens(server: ServerHandle, emu: Emulator, mode: str) -> None:
    _script_two_steps(emu)
    agent = _agent(server)
    inputs = {"messages": [HumanMessage(QUESTION)]}
    if mode == "sync":
        items = list(agent.stream(inputs, stream_mode="messages"))
    else:
        items = [item async for item in agent.astream(inputs, stream_mode="messages")]
    chunks = [m for m, meta in items if isinstance(m, AIMessageChunk)]
    text_chunks = [c for c in chunks if c.content]
    assert len(text_chunks) >= 3  # the final answer arrives token by token
    assert any(c.tool_call_chunks for c in chunks)  # tool calls stream as chunks too
    assert all(c.usage_metadata is None for c in chunks if c.chunk_position != "last")
    assert all(meta["langgraph_node"] in ("agent", "tools") for _, meta in items)
    # every streamed generation ran with stream=True on the wire
    assert all(r.headers.get("x-dashscope-sse") == "enable" for r in emu.received("generation"))
