"""client.generation against the emulator over loopback: one test body for sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashscope_core import GenerationResponse, accumulate
from dashscope_core.emulator import Emulator
from dashscope_core.errors import (
    AuthenticationError,
    BadRequestError,
    DashScopeError,
    IncompleteStreamError,
    NotFoundError,
    RateLimitError,
)

GenClient = Any  # the gen_ds wrapper of tests/core/conftest.py

MODEL = "qwen-plus"
ASK = [{"role": "user", "content": "What is the weather in New York?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Current time in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def no_nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return all(v is not None and no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return True


def call(ds: GenClient, **kwargs: Any) -> GenerationResponse:
    kwargs.setdefault("model", MODEL)
    result: GenerationResponse = ds.run(ds.client.generation.call(**kwargs))
    return result


def stream(ds: GenClient, **kwargs: Any) -> list[GenerationResponse]:
    kwargs.setdefault("model", MODEL)
    return ds.collect(ds.client.generation.stream(**kwargs))


def test_prompt_answers_in_text_format(gen_ds: GenClient, gen_emu: Emulator) -> None:
    result = call(gen_ds, prompt="What is 1+1?")
    assert result.output.choices is None and result.message is None
    assert "1+1 = 2" in result.text and result.output.text == result.text
    assert result.finish_reason == "stop" and result.status_code == 200
    assert result.request_id == gen_emu.received()[-1].request_id
    usage = result.usage
    assert usage.total_tokens == (usage.input_tokens or 0) + (usage.output_tokens or 0) > 0
    (sent,) = gen_emu.received("generation")
    assert sent.json == {
        "model": MODEL,
        "input": {"prompt": "What is 1+1?"},
        "parameters": {"result_format": "text"},
    }
    assert "x-dashscope-sse" not in sent.headers


def test_messages_answer_in_message_format(gen_ds: GenClient, gen_emu: Emulator) -> None:
    result = call(gen_ds, messages=ASK, seed=3)
    assert result.message is not None and result.message.role == "assistant"
    assert result.text == result.message.content and "New York" in result.text
    as_text = call(gen_ds, messages=ASK, seed=3, result_format="text")
    assert as_text.output.text == result.text and as_text.message is None
    bodies = [r.json for r in gen_emu.received("generation")]
    assert [b["parameters"]["result_format"] for b in bodies] == ["message", "text"]


@pytest.mark.parametrize("result_format", ["text", "message"])
def test_stream_deltas_add_up_to_the_answer(
    gen_ds: GenClient, gen_emu: Emulator, result_format: str
) -> None:
    whole = call(gen_ds, messages=ASK, seed=5, result_format=result_format)
    chunks = stream(gen_ds, messages=ASK, seed=5, result_format=result_format)
    assert len(chunks) > 2
    assert [c.finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].finish_reason == "stop"
    assert "".join(c.text for c in chunks) == whole.text
    merged = accumulate(chunks)
    assert (merged.text, merged.finish_reason) == (whole.text, whole.finish_reason)
    tokens = [(u.input_tokens, u.output_tokens) for u in (merged.usage, whole.usage)]
    assert tokens[0] == tokens[1]  # cached_tokens differ: the emulator caches the 1st prompt
    sent = gen_emu.received("generation")[-1]
    assert sent.headers["x-dashscope-sse"] == "enable"
    assert sent.json["parameters"]["incremental_output"] is True
    assert "stream" not in sent.json and "stream" not in sent.json["parameters"]


def test_cumulative_streams_are_turned_into_deltas(gen_ds: GenClient, gen_emu: Emulator) -> None:
    # deepseek-v4-pro answers thinking calls either way (recorded
    # single-generation-message-reasoning-nosse: incremental_output false, enable_thinking true)
    options = {"model": "deepseek-v4-pro", "seed": 5, "enable_thinking": True}
    whole = call(gen_ds, messages=ASK, **options)
    chunks = stream(gen_ds, messages=ASK, incremental_output=False, **options)
    assert gen_emu.received("generation")[-1].json["parameters"]["incremental_output"] is False
    assert "".join(c.text for c in chunks) == whole.text
    merged = accumulate(chunks)
    assert merged.message is not None and whole.message is not None
    assert merged.message.reasoning_content == whole.message.reasoning_content
    assert merged.text == whole.text


def test_tool_calls(gen_ds: GenClient, gen_emu: Emulator) -> None:
    result = call(gen_ds, messages=ASK, tools=[WEATHER])
    assert result.finish_reason == "tool_calls"
    (tool,) = result.tool_calls
    assert (tool.index, tool.type, tool.function.name) == (0, "function", "get_weather")
    assert tool.id and json.loads(tool.function.arguments) == {"city": "New York"}
    sent = gen_emu.received("generation")[-1].json
    assert sent["parameters"]["tools"] == [WEATHER]


def test_streamed_tool_fragments_are_raw_and_merge(gen_ds: GenClient) -> None:
    whole = call(gen_ds, messages=ASK, tools=[WEATHER])
    chunks = stream(gen_ds, messages=ASK, tools=[WEATHER])
    fragments = [t for c in chunks for t in c.tool_calls]
    assert len(fragments) > 1
    assert fragments[0].id == whole.tool_calls[0].id and fragments[0].function.name == "get_weather"
    assert all(f.id == "" and f.function.name is None for f in fragments[1:])
    joined = "".join(f.function.arguments for f in fragments)
    assert joined == whole.tool_calls[0].function.arguments == '{"city": "New York"}'
    merged = accumulate(chunks)
    assert merged.tool_calls == whole.tool_calls and merged.finish_reason == "tool_calls"


def test_parallel_tool_calls(gen_ds: GenClient) -> None:
    ask = [{"role": "user", "content": 'What is the weather in "Paris" and "New York"?'}]
    result = call(gen_ds, messages=ask, tools=[WEATHER], parallel_tool_calls=True)
    cities = [json.loads(t.function.arguments)["city"] for t in result.tool_calls]
    assert cities == ["Paris", "New York"]
    assert [t.index for t in result.tool_calls] == [0, 1]
    assert len({t.id for t in result.tool_calls}) == 2
    merged = accumulate(stream(gen_ds, messages=ask, tools=[WEATHER], parallel_tool_calls=True))
    assert merged.tool_calls == result.tool_calls
    two = call(gen_ds, messages=[{"role": "user", "content": "Weather and time in Tokyo"}],
               tools=[WEATHER, CLOCK])  # fmt: skip
    assert [t.function.name for t in two.tool_calls] == ["get_weather", "get_time"]


def test_forced_tool_by_name_and_tool_results(gen_ds: GenClient, gen_emu: Emulator) -> None:
    ask = [{"role": "user", "content": "Hello"}]
    forced = call(gen_ds, messages=ask, tools=[WEATHER, CLOCK], tool_choice="get_time")
    assert [t.function.name for t in forced.tool_calls] == ["get_time"]
    sent = gen_emu.received("generation")[-1].json["parameters"]["tool_choice"]
    assert sent == {"type": "function", "function": {"name": "get_time"}}
    none = call(gen_ds, messages=ASK, tools=[WEATHER], tool_choice="none")
    assert none.tool_calls == [] and none.text
    tool = forced.tool_calls[0]
    history = [
        *ask,
        {"role": "assistant", "content": "", "tool_calls": [tool.model_dump(exclude_none=True)]},
        {"role": "tool", "content": "It is 10:00 in Tokyo", "tool_call_id": tool.id},
    ]
    answer = call(gen_ds, messages=history, tools=[WEATHER, CLOCK])
    assert "10:00" in answer.text and answer.finish_reason == "stop"


def test_thinking_adds_reasoning(gen_ds: GenClient) -> None:
    result = call(gen_ds, messages=ASK, enable_thinking=True)
    assert result.message is not None and result.message.reasoning_content
    details = result.usage.output_tokens_details
    assert details is not None and (details.reasoning_tokens or 0) > 0
    chunks = stream(gen_ds, messages=ASK, enable_thinking=True)
    reasoning = "".join(c.message.reasoning_content or "" for c in chunks if c.message)
    assert reasoning == result.message.reasoning_content


def test_json_schema_response_format(gen_ds: GenClient) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "trip", "schema": schema}}
    ask = [{"role": "user", "content": "Plan 3 days in Paris"}]
    value = json.loads(call(gen_ds, messages=ask, response_format=fmt).text)
    assert set(value) == {"city", "days"} and isinstance(value["days"], int)
    streamed = accumulate(stream(gen_ds, messages=ask, response_format=fmt))
    assert json.loads(streamed.text) == value


def test_max_tokens_n_and_stop(gen_ds: GenClient) -> None:
    short = call(gen_ds, messages=ASK, max_tokens=3)
    assert short.finish_reason == "length" and len(short.text.split()) <= 3
    two = call(gen_ds, messages=ASK, n=2, seed=9)
    choices = two.output.choices or []
    assert [c.index for c in choices] == [0, 1]
    merged = accumulate(stream(gen_ds, messages=ASK, n=2, seed=9))
    streamed = merged.output.choices or []
    assert [c.message.content for c in streamed] == [c.message.content for c in choices]
    full = call(gen_ds, messages=ASK, seed=4).text
    word = full.split()[2]
    cut = call(gen_ds, messages=ASK, seed=4, stop=[word])
    assert cut.text == full[: full.index(word)] and word not in cut.text


def test_errors_are_typed_with_request_ids(gen_ds: GenClient, gen_emu: Emulator) -> None:
    with pytest.raises(NotFoundError) as missing:
        call(gen_ds, model="no-such-model", messages=ASK)
    assert missing.value.code == "Model.NotExist" and missing.value.request_id
    gen_emu.script.error(
        400, "DataInspectionFailed", "Input data may contain inappropriate content."
    )
    with pytest.raises(BadRequestError) as bad:
        call(gen_ds, messages=ASK)
    assert (bad.value.status_code, bad.value.code) == (400, "DataInspectionFailed")
    gen_emu.script.error(429, "Throttling.RateQuota", "slow down")
    gen_emu.script.error(429, "Throttling.RateQuota", "slow down")
    gen_emu.script.error(429, "Throttling.RateQuota", "slow down")
    with pytest.raises(RateLimitError) as throttled:
        call(gen_ds, messages=ASK)
    assert throttled.value.request_id == gen_emu.received()[-1].request_id
    invalid = gen_ds.derive("sk-invalid-key")
    try:
        with pytest.raises(AuthenticationError) as denied:
            invalid.run(invalid.client.generation.call(model=MODEL, messages=ASK))
        assert denied.value.code == "InvalidApiKey"
        assert "sk-invalid-key" not in str(denied.value) + repr(denied.value)
    finally:
        invalid.close()


def test_error_event_mid_stream_raises(gen_ds: GenClient, gen_emu: Emulator) -> None:
    strict = gen_ds.derive(max_retries=0)  # a client may retry a stream the caller never saw
    gen_emu.faults.queue("error_event", after=2, route="generation")
    try:
        with pytest.raises(RateLimitError) as info:
            stream(strict, messages=ASK)
    finally:
        strict.close()
    assert info.value.code == "Throttling.RateQuota"
    assert info.value.request_id == gen_emu.received("generation")[-1].request_id


def test_stream_without_final_frame_raises(gen_ds: GenClient, gen_emu: Emulator) -> None:
    gen_emu.faults.queue("missing_final", route="generation")
    with pytest.raises(IncompleteStreamError) as info:
        stream(gen_ds, messages=ASK)
    assert info.value.request_id == gen_emu.received("generation")[-1].request_id
    gen_emu.faults.queue("cut_stream", after=2, route="generation")
    with pytest.raises(DashScopeError):
        stream(gen_ds, messages=ASK)


def test_bad_arguments_fail_before_any_request(gen_ds: GenClient, gen_emu: Emulator) -> None:
    with pytest.raises(ValueError, match="temperature"):
        call(gen_ds, messages=ASK, temperature=3)
    with pytest.raises(ValueError, match="tool_choice"):
        gen_ds.client.generation.stream(model=MODEL, messages=ASK, tool_choice="nope")
    assert gen_emu.received() == []


def test_no_null_keys_reach_the_wire(gen_ds: GenClient, gen_emu: Emulator) -> None:
    messages = [{"role": "system", "content": "Be brief.", "name": None},
                {"role": "user", "content": "Hi", "partial": None}]  # fmt: skip
    stream(gen_ds, messages=messages, temperature=None, top_p=0.5, search_options=None)
    sent = gen_emu.received("generation")[-1]
    assert no_nulls(sent.json) and b"null" not in sent.body
    assert sent.json["parameters"] == {
        "result_format": "message",
        "incremental_output": True,
        "top_p": 0.5,
    }


def test_multimodal_routing(gen_ds: GenClient, gen_emu: Emulator) -> None:
    ask = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"image": "https://example.test/cat.png"},
            {"image": "data:image/png;base64,iVBORw0KGgo="},
            {"text": "What is in these pictures?"},
        ]},
    ]  # fmt: skip
    result = call(gen_ds, model="qwen-vl-max", messages=ask, seed=1)
    assert result.text.startswith("Received 2 images, 1 text part.")
    assert isinstance(result.message.content if result.message else None, list)
    assert result.usage.model_extra == {"image_tokens": 512}
    (sent,) = gen_emu.received("multimodal")
    assert sent.path == "/services/aigc/multimodal-generation/generation"
    assert sent.json["input"]["messages"][0]["content"] == [{"text": "Be brief."}]
    chunks = stream(gen_ds, model="qwen-vl-max", messages=ask, seed=1)
    assert accumulate(chunks).text == result.text
    assert gen_emu.received("multimodal")[-1].headers["x-dashscope-sse"] == "enable"
    plain = call(gen_ds, model="qwen-vl-plus", prompt="Hello")
    assert plain.text.startswith("Received 1 text part.")
    assert gen_emu.received("generation") == []
