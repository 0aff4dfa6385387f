"""``tool_choice="any"`` with several tools: the core's one strategy, in every LangChain path.

invoke, ainvoke, stream and astream all recover from an answer without a tool call (never shown:
no token callback, no chunk), and raise ``ToolChoiceNotHonoredError`` after two. LangChain's
``create_agent(model, tools, response_format=Schema)`` binds "any" (ToolStrategy): it works
streamed, against the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from _langchain_helpers import MODES, Tokens, add, ask, get_weather
from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_core.messages import AIMessage
from pydantic import BaseModel

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope, ToolChoiceNotHonoredError

KEY = "sk-test-forcing"


def chat(server: ServerHandle) -> ChatDashScope:
    return ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url)


async def _ask(bound: Any, mode: str, text: str, tokens: Tokens) -> AIMessage:
    message: AIMessage = await ask(bound, mode, text, config={"callbacks": [tokens]})
    return message


@pytest.mark.parametrize("mode", MODES)
async def test_any_recovers_in_every_mode(server: ServerHandle, emu: Emulator, mode: str) -> None:
    emu.script.generation(text="Hello! What would you like to do?")
    emu.script.generation(tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}}])
    tokens = Tokens()
    bound = chat(server).bind_tools([get_weather, add], tool_choice="any")
    message = await _ask(bound, mode, "Hi", tokens)
    assert [c["name"] for c in message.tool_calls] == ["add"]
    assert message.tool_calls[0]["args"] == {"a": 2, "b": 3}
    assert "Hello" not in message.text and "Hello" not in "".join(tokens.tokens)
    assert len(emu.received("generation")) == 2


@pytest.mark.parametrize("choice", ["any", "required"])
@pytest.mark.parametrize("mode", MODES)
async def test_any_asks_twice_then_raises(
    server: ServerHandle, emu: Emulator, mode: str, choice: str
) -> None:
    emu.script.generation(text="Hello!")
    emu.script.generation(text="Hello again!")
    tokens = Tokens()
    bound = chat(server).bind_tools([get_weather, add], tool_choice=choice)
    with pytest.raises(ToolChoiceNotHonoredError, match="without calling one of the tools"):
        await _ask(bound, mode, "Hi", tokens)
    assert tokens.tokens == []
    sent = emu.received("generation")
    assert len(sent) == 2 and all(r.json["parameters"]["tool_choice"] == "auto" for r in sent)
    assert "must answer by calling" in sent[0].json["input"]["messages"][0]["content"]


class Forecast(BaseModel):
    """The final answer: a city and its weather."""

    city: str
    summary: str


async def _run_agent(agent: Any, mode: str) -> dict[str, Any]:
    question = {"messages": [{"role": "user", "content": "Weather in Paris?"}]}
    if mode == "stream":
        steps = list(agent.stream(question, stream_mode="values"))
    else:
        steps = [s async for s in agent.astream(question, stream_mode="values")]
    final: dict[str, Any] = steps[-1]
    return final


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_create_agent_with_a_tool_strategy_streams(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    # ToolStrategy binds tool_choice="any" over the tools and the schema's own tool
    agent = create_agent(chat(server), [get_weather, add], response_format=ToolStrategy(Forecast))
    emu.script.generation(text="Let me think about it.")  # rejected: never shown
    emu.script.generation(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    answer = {"city": "Paris", "summary": "sunny"}
    emu.script.generation(tool_calls=[{"name": "Forecast", "arguments": answer}])
    final = await _run_agent(agent, mode)
    assert final["structured_response"] == Forecast(city="Paris", summary="sunny")
    texts = [m.text for m in final["messages"] if isinstance(m, AIMessage)]
    assert all("Let me think" not in t for t in texts)
    sent = emu.received("generation")
    assert len(sent) == 3
    assert all(r.json["parameters"]["tool_choice"] == "auto" for r in sent)
    assert "get_weather, add, Forecast" in sent[0].json["input"]["messages"][0]["content"]


@pytest.mark.parametrize("mode", ["stream", "astream"])
async def test_create_agent_on_a_thinking_only_model_streams(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    # qwq-plus always thinks and has no native structured output: create_agent picks the tool
    # strategy ("any"), which thinking mode cannot force server-side: the checked strategy
    model = ChatDashScope(model="qwq-plus", api_key=KEY, base_url=server.base_url)
    agent = create_agent(model, [get_weather, add], response_format=Forecast)
    emu.script.generation(text="Hmm.")  # rejected: never shown
    emu.script.generation(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    answer = {"city": "Paris", "summary": "sunny"}
    emu.script.generation(tool_calls=[{"name": "Forecast", "arguments": answer}])
    final = await _run_agent(agent, mode)
    assert final["structured_response"] == Forecast(city="Paris", summary="sunny")
    sent = emu.received("generation")
    assert len(sent) == 3 and all(r.json["parameters"]["tool_choice"] == "auto" for r in sent)
