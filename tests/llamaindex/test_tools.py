"""Function calling: tool specs, tool_choice, parallel streamed calls, results, predict_and_call."""

from __future__ import annotations

import json

import pytest
from llama_index.core.llms import ChatMessage, ChatResponse
from llama_index.core.tools import FunctionTool

from dashscope_core.emulator import Emulator
from dashscope_core.errors import ToolChoiceNotHonoredError

from ._calls import Calls


def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    return f"Sunny, 21 C in {location}"


def get_time(timezone: str) -> str:
    """Get the current time in a timezone."""
    return f"12:00 in {timezone}"


WEATHER = FunctionTool.from_defaults(get_weather)
TIME = FunctionTool.from_defaults(get_time)
NY_PARIS = [
    {"name": "get_weather", "arguments": {"location": "New York"}, "id": "call_ny"},
    {"name": "get_weather", "arguments": {"location": "Paris, France"}, "id": "call_paris"},
]


def _sent(emu: Emulator) -> dict:
    return emu.received("generation")[-1].json


async def test_chat_with_tools_auto(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(tool_calls=NY_PARIS[:1])
    response = await calls.chat_with_tools([WEATHER, TIME], user_msg="Weather in New York?")
    (selection,) = calls.llm.get_tool_calls_from_response(response)
    assert (selection.tool_id, selection.tool_name) == ("call_ny", "get_weather")
    assert selection.tool_kwargs == {"location": "New York"}
    assert response.message.additional_kwargs["tool_calls"][0]["id"] == "call_ny"
    params = _sent(emu)["parameters"]
    assert [t["function"]["name"] for t in params["tools"]] == ["get_weather", "get_time"]
    assert params["tools"][0]["function"]["parameters"]["required"] == ["location"]
    assert params["parallel_tool_calls"] is False
    assert "tool_choice" not in params


async def test_tool_required_and_tool_choice(calls: Calls, emu: Emulator) -> None:
    await calls.chat_with_tools([WEATHER], user_msg="hello", tool_required=True)
    assert _sent(emu)["parameters"]["tool_choice"] == {
        "type": "function",
        "function": {"name": "get_weather"},
    }
    await calls.chat_with_tools([WEATHER, TIME], user_msg="hello", tool_choice="get_time")
    assert _sent(emu)["parameters"]["tool_choice"]["function"]["name"] == "get_time"
    response = await calls.chat_with_tools([WEATHER, TIME], user_msg="hello", tool_required=True)
    sent = _sent(emu)  # several tools: "auto" plus the instruction, and the answer is checked
    assert sent["parameters"]["tool_choice"] == "auto"
    assert "get_weather, get_time" in sent["input"]["messages"][0]["content"]
    assert calls.llm.get_tool_calls_from_response(response)


def test_prepare_does_not_mutate_history(llm) -> None:  # type: ignore[no-untyped-def]
    history = [ChatMessage(role="user", content="hi"), ChatMessage(role="assistant", content="yo")]
    kwargs = llm._prepare_chat_with_tools([WEATHER], user_msg="weather?", chat_history=history)
    assert len(history) == 2
    assert [m.content for m in kwargs["messages"]] == ["hi", "yo", "weather?"]


async def test_parallel_streamed_calls_are_merged(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(tool_calls=NY_PARIS)
    responses = await calls.stream_chat_with_tools(
        [WEATHER], user_msg="Weather in New York and Paris?", allow_parallel_tool_calls=True
    )
    assert len(responses) > 2
    final = responses[-1]
    selections = calls.llm.get_tool_calls_from_response(final)
    assert [s.tool_kwargs for s in selections] == [
        {"location": "New York"},  # the space survives streaming
        {"location": "Paris, France"},
    ]
    assert [s.tool_id for s in selections] == ["call_ny", "call_paris"]
    wire_args = [c["function"]["arguments"] for c in final.message.additional_kwargs["tool_calls"]]
    assert wire_args == [json.dumps(c["arguments"], ensure_ascii=False) for c in NY_PARIS]
    for partial in responses[:-1]:  # every intermediate response parses leniently
        calls.llm.get_tool_calls_from_response(partial, error_on_no_tool_call=False)
    assert _sent(emu)["parameters"]["parallel_tool_calls"] is True


async def test_tool_results_are_sent_back(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(tool_calls=NY_PARIS)
    first = await calls.chat_with_tools(
        [WEATHER], user_msg="Weather in New York and Paris?", allow_parallel_tool_calls=True
    )
    history = [ChatMessage(role="user", content="Weather in New York and Paris?"), first.message]
    for sel in calls.llm.get_tool_calls_from_response(first):
        history.append(
            ChatMessage(
                role="tool",
                content=get_weather(**sel.tool_kwargs),
                additional_kwargs={"tool_call_id": sel.tool_id},
            )
        )
    answer = await calls.chat(history)
    sent = _sent(emu)["input"]["messages"]
    assert sent[1]["role"] == "assistant"
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_ny", "call_paris"]
    assert [(m["role"], m["tool_call_id"]) for m in sent[2:]] == [
        ("tool", "call_ny"),
        ("tool", "call_paris"),
    ]
    assert "New York" in (answer.message.content or "")


async def test_predict_and_call(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(tool_calls=NY_PARIS[:1])
    result = await calls.predict_and_call([WEATHER], user_msg="Weather in New York?")
    assert result.response == "Sunny, 21 C in New York"
    assert result.sources[0].tool_name == "get_weather"
    emu.script.generation(tool_calls=NY_PARIS)
    both = await calls.predict_and_call(
        [WEATHER], user_msg="New York and Paris?", allow_parallel_tool_calls=True
    )
    assert both.response == "Sunny, 21 C in New York\n\nSunny, 21 C in Paris, France"


async def test_no_tool_call(calls: Calls, emu: Emulator) -> None:
    emu.script.generation("I cannot help with that.")
    response = await calls.chat_with_tools([WEATHER], user_msg="Tell me a joke")
    assert calls.llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        calls.llm.get_tool_calls_from_response(response)


async def test_invalid_json_arguments_are_reported(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(
        tool_calls=[{"name": "get_weather", "arguments": '{"location": New York}'}]
    )
    response = await calls.chat_with_tools([WEATHER], user_msg="Weather?")
    with pytest.raises(ValueError, match=r"get_weather.*not valid JSON"):
        calls.llm.get_tool_calls_from_response(response)


def test_legacy_tool_calls_without_blocks(llm) -> None:  # type: ignore[no-untyped-def]
    legacy = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": legacy})
    (selection,) = llm.get_tool_calls_from_response(ChatResponse(message=message))
    assert (selection.tool_id, selection.tool_name, selection.tool_kwargs) == ("c1", "f", {"x": 1})


async def test_tool_required_with_several_tools_recovers_in_every_mode(
    calls: Calls, emu: Emulator
) -> None:
    for stream in (False, True):
        emu.reset()
        emu.script.generation(text="Hello! What can I do for you?")
        emu.script.generation(tool_calls=[{"name": "get_time", "arguments": {"timezone": "UTC"}}])
        ask = calls.stream_chat_with_tools if stream else calls.chat_with_tools
        got = await ask([WEATHER, TIME], user_msg="hello", tool_required=True)
        responses = got if stream else [got]
        assert all("Hello" not in (r.message.content or "") for r in responses)
        (selection,) = calls.llm.get_tool_calls_from_response(responses[-1])
        assert selection.tool_name == "get_time"
        assert len(emu.received("generation")) == 2


async def test_tool_required_raises_after_two_text_answers(calls: Calls, emu: Emulator) -> None:
    emu.script.generation(text="Hello!")
    emu.script.generation(text="Hello again!")
    with pytest.raises(ToolChoiceNotHonoredError):
        await calls.stream_chat_with_tools([WEATHER, TIME], user_msg="hello", tool_required=True)
