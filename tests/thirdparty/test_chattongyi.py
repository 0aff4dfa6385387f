"""langchain-community's ``ChatTongyi`` (over the official SDK) against the emulator."""

from __future__ import annotations

import pytest

from dashscope_core.emulator import Emulator

tongyi = pytest.importorskip("langchain_community.chat_models.tongyi")
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402 (after the skip)
from langchain_core.tools import tool  # noqa: E402


@tool
def get_current_weather(location: str) -> str:
    """Current weather of a city."""
    return f"Sunny in {location}"


def _chat(**kwargs: object) -> object:
    return tongyi.ChatTongyi(model="qwen-plus", api_key="sk-thirdparty-test", **kwargs)


def test_invoke(sdk: str, emu: Emulator) -> None:
    emu.script.generation("Hello from the emulator")
    message = _chat().invoke([HumanMessage("Hi")])
    assert isinstance(message, AIMessage) and message.content == "Hello from the emulator"
    assert message.response_metadata["finish_reason"] == "stop"
    assert emu.received("generation")[-1].json["model"] == "qwen-plus"


def test_stream(sdk: str, emu: Emulator) -> None:
    emu.script.generation("one two three four")
    chunks = list(_chat(streaming=True).stream("count"))
    assert len(chunks) > 1 and "".join(str(c.content) for c in chunks) == "one two three four"


def test_tool_call_and_streamed_tool_call(sdk: str) -> None:
    chat = _chat().bind_tools([get_current_weather])
    message = chat.invoke("What is the weather in Hangzhou?")
    (call,) = message.tool_calls
    assert call["name"] == "get_current_weather" and call["args"] == {"location": "Hangzhou"}
    merged = None
    for chunk in (
        _chat(streaming=True)
        .bind_tools([get_current_weather])
        .stream("What is the weather in Hangzhou?")
    ):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert [c["args"] for c in merged.tool_calls] == [{"location": "Hangzhou"}]
