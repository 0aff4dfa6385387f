"""``tool_choice="any"`` with several tools: the core's one strategy, in every LangChain path.

invoke, ainvoke, stream and astream all recover from an answer without a tool call (never shown:
no token callback, no chunk), and raise ``ToolChoiceNotHonoredError`` after two. LangChain's
``create_agent(model, tools, response_format=Schema)`` binds "any" (ToolStrategy): it works
streamed, against the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.structured_output import ToolStrategy
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope, ToolChoiceNotHonoredError

KEY = "sk-test-forcing"
MODES = ["invoke", "ainvoke", "stream", "astream"]


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"{city}: sunny, 21 C"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def chat(server: ServerHandle) -> ChatDashScope:
    return ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url)


async def _ask(bound: Any, mode: str, text: str, tokens: Tokens) -> AIMessage:
    config = {"callbacks": [tokens]}
    if mode == "invoke":
        return bound.invoke(text, config=config)  # type: ignore[no-any-return]
    if mode == "ainvoke":
        return await bound.ainvoke(text, config=config)  # type: ignore[no-any-return]
    chunks = list(bound.stream(text, config=config)) if mode == "stream" else [
        c async for c in bound.astream(text, config=config)]  # fmt: skip
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full  # type: ignore[no-any-return]


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


@pytest.mark.parametrize("mode", MODES)
async def test_any_raises_after_two_text_answers(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    emu.script.generation(text="Hello!")
    emu.script.generation(text="Hello again!")
    tokens = Tokens()
    bound = chat(server).bind_tools([get_weather, add], tool_choice="required")
    with pytest.raises(ToolChoiceNotHonoredError, match="without calling one of the tools"):
        await _ask(bound, mode, "Hi", tokens)
    assert tokens.tokens == []


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
