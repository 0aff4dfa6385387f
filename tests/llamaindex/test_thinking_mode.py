"""DashScopeLLM in thinking mode: structured output and forced tools fail before any request."""

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
    return DashScopeLLM(model=model, enable_thinking=model == "qwen-plus",
                        api_key=FAKE_KEY, base_url=server.base_url, max_retries=0)  # fmt: skip


@pytest.mark.parametrize("model", ["qwen-plus", "qwq-plus"])
async def test_structured_predict_refused_in_thinking_mode(
    li_server: ServerHandle, emu: Emulator, model: str
) -> None:
    from llama_index.core.prompts import PromptTemplate

    llm = _thinking(li_server, model)
    with pytest.raises(ValueError, match="thinking"):
        llm.structured_predict(Person, PromptTemplate("Name someone from {city}."), city="Paris")
    with pytest.raises(ValueError, match="thinking"):
        await llm.astructured_predict(Person, PromptTemplate("Someone from {city}."), city="Rome")
    assert emu.received("generation") == []


def test_forced_tool_refused_but_auto_works(li_server: ServerHandle, emu: Emulator) -> None:
    llm = _thinking(li_server)
    tool = FunctionTool.from_defaults(fn=add)
    with pytest.raises(ValueError, match=r"^tool_choice: .*thinking"):
        llm.chat_with_tools([tool], user_msg="add 2 and 3", tool_required=True)
    assert emu.received("generation") == []
    answer = llm.chat_with_tools([tool], user_msg="add 2 and 3")
    assert emu.received("generation")[0].json["parameters"]["enable_thinking"] is True
    assert answer.message.content is not None or answer.message.blocks
