"""DashScopeLLM with thinking models: invoke, structured output and tools against the emulator,
which refuses what the service refuses (non-streaming thinking calls, forced tools, JSON)."""

from __future__ import annotations

import pytest
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeLLM

from .conftest import FAKE_KEY


class Person(BaseModel):
    """A person."""

    name: str


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _thinking(server: ServerHandle, model: str = "qwen-plus") -> DashScopeLLM:
    return DashScopeLLM(model=model, enable_thinking=True if model == "qwen-plus" else None,
                        api_key=FAKE_KEY, base_url=server.base_url, max_retries=0)  # fmt: skip


@pytest.mark.parametrize("model", ["qwen-plus", "qwq-plus", "qwen3-32b", "qwen3.5-plus"])
async def test_structured_predict_works_in_thinking_mode(
    li_server: ServerHandle, emu: Emulator, model: str
) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = _thinking(li_server, model)
    person = llm.structured_predict(Person, PromptTemplate("Name 'Ada' from {city}."), city="Paris")
    assert isinstance(person, Person) and person.name
    other = await llm.astructured_predict(Person, PromptTemplate("Name 'Bo' from {city}."),
                                          city="Rome")  # fmt: skip
    assert isinstance(other, Person)
    for sent in emu.received():
        params = sent.json["parameters"]
        if llm.profile.thinking == "always":  # a tool call asked for with auto, as a stream
            assert params["tool_choice"] == "auto" and sent.headers["x-dashscope-sse"] == "enable"
        else:  # thinking turned off for the JSON schema
            assert params["enable_thinking"] is False and "response_format" in params


def test_tool_required_in_thinking_mode_sends_auto(li_server: ServerHandle, emu: Emulator) -> None:
    llm = _thinking(li_server)
    tool = FunctionTool.from_defaults(fn=add)
    answer = llm.chat_with_tools([tool], user_msg="add 2 and 3", tool_required=True)
    (sent,) = emu.received("generation")
    assert sent.json["parameters"]["tool_choice"] == "auto"
    assert sent.json["parameters"]["enable_thinking"] is True
    assert sent.headers["x-dashscope-sse"] == "enable"  # qwen-plus thinks only in a stream
    assert llm.get_tool_calls_from_response(answer)[0].tool_kwargs == {"a": 2, "b": 3}


@pytest.mark.parametrize("model", ["qwen-plus", "qwq-plus", "qwen3-32b", "qwen3.6-plus"])
async def test_chat_and_complete_with_thinking_models(
    li_server: ServerHandle, emu: Emulator, model: str
) -> None:
    from llama_index.core.llms import ChatMessage

    llm = _thinking(li_server, model)
    messages = [ChatMessage(role="user", content="Why is the sky blue?")]
    for answer in (llm.chat(messages), await llm.achat(messages)):
        assert answer.message.content
        assert answer.additional_kwargs.get("reasoning_content") or any(
            type(b).__name__ == "ThinkingBlock" for b in answer.message.blocks
        )
    assert llm.complete("Why is the sky blue?").text
    streamed = "".join(r.delta or "" for r in llm.stream_chat(messages))
    assert streamed == llm.chat(messages).message.content
