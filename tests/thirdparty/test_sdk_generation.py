"""The official SDK's generation calls (1.x ``Generation`` / ``MultiModalConversation``, 2.x
``Client.chat`` / ``Client.multimodal``) against the emulator: text, streams, tools, errors."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest

from dashscope_core.emulator import Emulator

dashscope = pytest.importorskip("dashscope")

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather in Hangzhou and Shanghai?"}]


def test_generation_call_message_format(sdk: str, emu: Emulator) -> None:
    emu.script.generation("Hello from the emulator")
    messages = [{"role": "user", "content": "Hi"}]
    r = dashscope.Generation.call(model="qwen-plus", messages=messages, result_format="message")
    assert r.status_code == HTTPStatus.OK and r.request_id
    choice = r.output.choices[0]
    assert choice.message.content == "Hello from the emulator"
    assert (choice.finish_reason, choice.message.role) == ("stop", "assistant")
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens > 0
    sent = emu.received("generation")[-1]
    assert sent.headers["authorization"] == "Bearer sk-thirdparty-test"
    assert sent.json["input"]["messages"] == messages


def test_generation_call_text_format_prompt(sdk: str, emu: Emulator) -> None:
    emu.script.generation("Plain text answer")
    r = dashscope.Generation.call(model="qwen-plus", prompt="Say something")
    assert r.status_code == HTTPStatus.OK
    assert (r.output.text, r.output.finish_reason) == ("Plain text answer", "stop")


@pytest.mark.parametrize("incremental", [True, False])
def test_generation_stream(sdk: str, emu: Emulator, incremental: bool) -> None:
    emu.script.generation("one two three four five six")
    chunks = list(
        dashscope.Generation.call(
            model="qwen-plus",
            messages=[{"role": "user", "content": "count"}],
            result_format="message",
            stream=True,
            incremental_output=incremental,
        )
    )
    assert all(c.status_code == HTTPStatus.OK for c in chunks) and len(chunks) > 2
    texts = [c.output.choices[0].message.content for c in chunks]
    whole = "".join(texts) if incremental else texts[-1]
    assert whole == "one two three four five six"
    assert [c.output.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert emu.received("generation")[-1].headers["x-dashscope-sse"] == "enable"


def test_generation_tool_call(sdk: str) -> None:
    r = dashscope.Generation.call(
        model="qwen-plus", messages=ASK, tools=[WEATHER], result_format="message"
    )
    choice = r.output.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call["function"]["name"] == "get_current_weather" and call["id"]
    assert "location" in json.loads(call["function"]["arguments"])


def test_streamed_parallel_tool_calls_end_on_the_last_call_frame(sdk: str) -> None:
    """Recorded ``single-generation-message-with-parallel-tools-sse``: the frame with the last
    argument piece says ``tool_calls``; the SDK's consumers see no empty frame after it."""
    chunks = list(
        dashscope.Generation.call(
            model="qwen-plus",
            messages=ASK,
            tools=[WEATHER],
            parallel_tool_calls=True,
            result_format="message",
            stream=True,
            incremental_output=True,
        )
    )
    finishes = [c.output.choices[0].finish_reason for c in chunks]
    assert finishes == ["null"] * (len(chunks) - 1) + ["tool_calls"]
    merged: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        (fragment,) = chunk.output.choices[0].message.tool_calls
        slot = merged.setdefault(fragment["index"], {"id": "", "arguments": ""})
        slot["id"] += fragment["id"]
        slot["arguments"] += fragment["function"]["arguments"]
    cities = sorted(json.loads(slot["arguments"])["location"] for slot in merged.values())
    assert cities == ["Hangzhou", "Shanghai"] and all(s["id"] for s in merged.values())


def test_generation_error_is_a_response_with_code(sdk: str, emu: Emulator) -> None:
    r = dashscope.Generation.call(model="qwen-plus", prompt="hi", temperature=3.5)
    assert (r.status_code, r.code) == (HTTPStatus.BAD_REQUEST, "InvalidParameter")
    assert "temperature" in r.message and r.request_id
    emu.script.error(429, "Throttling.RateQuota", "Requests rate limit exceeded.")
    r = dashscope.Generation.call(model="qwen-plus", prompt="hi")
    assert (r.status_code, r.code) == (429, "Throttling.RateQuota")


def test_wrong_key_is_401(sdk: str) -> None:
    r = dashscope.Generation.call(model="qwen-plus", prompt="hi", api_key="invalid-key")
    assert (r.status_code, r.code) == (HTTPStatus.UNAUTHORIZED, "InvalidApiKey")


def test_multimodal_conversation(sdk: str, emu: Emulator) -> None:
    messages = [
        {"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": "What?"}]}
    ]
    r = dashscope.MultiModalConversation.call(model="qwen-vl-max", messages=messages)
    assert r.status_code == HTTPStatus.OK
    (part,) = r.output.choices[0].message.content  # the emulator describes what it received
    assert "1 image" in part["text"] and r.usage.image_tokens > 0
    chunks = list(
        dashscope.MultiModalConversation.call(
            model="qwen-vl-max", messages=messages, stream=True, incremental_output=True
        )
    )
    parts = [p["text"] for c in chunks for p in c.output.choices[0].message.content]
    assert "".join(parts) and chunks[-1].output.choices[0].finish_reason == "stop"


def test_client_chat_and_stream(sdk: str, emu: Emulator) -> None:
    client = dashscope.Client(base_url=sdk)
    emu.script.generation("Hi there")
    answer = client.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "Hi"}]
    )
    assert answer.choices[0].message.content == "Hi there" and answer.request_id
    emu.script.generation("streamed words here")
    stream = client.chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "streamed words here"
    assert chunks[-1].choices[0].finish_reason == "stop"
    client.close()


def test_client_streamed_tool_call(sdk: str) -> None:
    client = dashscope.Client(base_url=sdk)
    chunks = list(
        client.chat.completions.create(
            model="qwen-plus", messages=ASK[:1], tools=[WEATHER], stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    pieces = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert pieces and pieces[0].function.name == "get_current_weather"
    client.close()


def test_client_multimodal_chat(sdk: str, emu: Emulator) -> None:
    client = dashscope.Client(base_url=sdk)
    answer = client.multimodal.chat.create(
        model="qwen-vl-max",
        messages=[
            {"role": "user", "content": [{"image": "https://example.com/a.png"}, {"text": "?"}]}
        ],
    )
    assert "1 image" in str(answer.choices[0].message.content)
    client.close()
