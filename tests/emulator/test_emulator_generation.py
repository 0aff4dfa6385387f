"""Text generation: validation, formats, streams, tools, thinking, structured output."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from emulator_helpers import GEN, SSE, body, check_schema, decode, frames, stream_text

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"],
        },
    },
}
ADD = {
    "type": "function",
    "function": {
        "name": "add_numbers",
        "description": "Add two numbers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "number"}},
            "required": ["a", "b"],
        },
    },
}


def _error(client: httpx.Client, payload: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(GEN, json=payload)
    data = response.json()
    assert set(data) == {"code", "message", "request_id"}
    assert data["request_id"] == response.headers["x-request-id"]
    return response.status_code, data


@pytest.mark.parametrize(
    ("payload", "status", "code", "fragment"),
    [
        ({"input": {"prompt": "hi"}}, 400, "InvalidParameter", '"model" missing'),
        ({"model": "", "input": {"prompt": "hi"}}, 400, "InvalidParameter", "model"),
        ({"model": "gpt-4o", "input": {"prompt": "hi"}}, 404, "Model.NotExist", "Model not exist"),
        ({"model": "qwen-plus"}, 400, "BadRequest.EmptyInput", '"input" missing'),
        ({"model": "qwen-plus", "input": {}}, 400, "InvalidParameter", "prompt"),
        ({"model": "qwen-plus", "input": {"prompt": ""}}, 400, "InvalidParameter", "prompt"),
        (body(messages=[]), 400, "InvalidParameter", "Content length must be greater than 0"),
        (body(messages=[{"role": "robot", "content": "x"}]), 400, "InvalidParameter", "Role"),
        (body(messages=["hello"]), 400, "InvalidParameter", "message"),
        (body(""), 400, "InvalidParameter", "Content length"),
        (body(max_tokens=0), 400, "InvalidParameter", "max_tokens"),
        (body(max_tokens="10"), 400, "InvalidParameter", "max_tokens"),
        (body(temperature=2.0), 400, "InvalidParameter", "temperature"),
        (body(temperature=-0.1), 400, "InvalidParameter", "temperature"),
        (body(top_p=0), 400, "InvalidParameter", "top_p"),
        (body(top_p=1.5), 400, "InvalidParameter", "top_p"),
        (body(top_k=-1), 400, "InvalidParameter", "top_k"),
        (body(n=5), 400, "InvalidParameter", "n"),
        (body(seed=-1), 400, "InvalidParameter", "seed"),
        (body(result_format="xml"), 400, "InvalidParameter", "result_format"),
        (body(tools=[{"type": "function"}]), 400, "InvalidParameter", "tool"),
        (body(tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "nope"}}),
         400, "InvalidParameter", "nope"),
        (body(response_format={"type": "yaml"}), 400, "InvalidParameter", "response_format"),
        (["not", "an", "object"], 400, "InvalidParameter", "JSON object"),
    ],
)  # fmt: skip
def test_validation(
    client: httpx.Client, payload: Any, status: int, code: str, fragment: str
) -> None:
    got_status, data = _error(client, payload)
    assert (got_status, data["code"]) == (status, code)
    assert fragment in data["message"]


def test_recorded_parameter_error_message(client: httpx.Client) -> None:
    payload = {"model": "qwen-max", "input": {"prompt": "请问 1+1 是多少？", "messages": []}}
    status, data = _error(client, payload)
    assert status == 400
    assert data["message"] == (
        "Role must be user or assistant and Content length must be greater than 0"
    )


MODELS = ["qwen-max", "qwen3-32b", "qwq-plus", "deepseek-r1", "qwen2.5-7b-instruct", "glm-4.6",
          "kimi-k2-thinking", "deepseek-v3.2", "qwen-plus-2025-07-28"]  # fmt: skip


@pytest.mark.parametrize("model", MODELS)
def test_model_names_accepted(client: httpx.Client, model: str) -> None:
    payload = body(model=model, incremental_output=True)
    response = client.post(GEN, json=payload, headers=SSE)
    assert response.status_code == 200
    assert {e.event for e in decode(response.content)} == {"result"}


def test_text_format_is_default_and_references_question(client: httpx.Client) -> None:
    data = client.post(GEN, json={"model": "qwen-max", "input": {"prompt": "What is 2+3?"}}).json()
    assert set(data) == {"output", "usage", "request_id"}
    assert data["output"]["finish_reason"] == "stop"
    assert "2+3 = 5" in data["output"]["text"]
    assert "What is 2+3" in data["output"]["text"]
    usage = data["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


def test_message_format(client: httpx.Client) -> None:
    data = client.post(GEN, json=body("你好，介绍一下杭州", result_format="message")).json()
    (choice,) = data["output"]["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "杭州" in choice["message"]["content"]


def test_multimodal_parts_and_history(client: httpx.Client) -> None:
    parts = [{"image": "https://example.com/cat.png"}, {"text": "Describe the Cat"}]
    data = client.post(GEN, json=body(parts, result_format="message")).json()
    assert "Describe the Cat" in data["output"]["choices"][0]["message"]["content"]
    history = {"model": "qwen-plus", "input": {"prompt": "and then?",
               "history": [{"user": "hi", "bot": "hello"}]}}  # fmt: skip
    assert client.post(GEN, json=history).status_code == 200


def test_same_input_same_output_seed_changes_it(client: httpx.Client) -> None:
    texts = {
        seed: [client.post(GEN, json=body("Tell me about Rome", seed=seed)).json()["output"]["text"]
               for _ in range(2)]
        for seed in range(6)
    }  # fmt: skip
    assert all(a == b for a, b in texts.values())
    assert len({a for a, _ in texts.values()}) > 1


@pytest.mark.parametrize("result_format", ["text", "message"])
def test_streams_incremental_cumulative_and_plain_agree(
    client: httpx.Client, result_format: str
) -> None:
    payload = body("Explain how rainbows form in simple words", result_format=result_format)
    plain = client.post(GEN, json=payload).json()
    inc = client.post(GEN, json={**payload, "parameters": {**payload["parameters"],
                      "incremental_output": True}}, headers=SSE)  # fmt: skip
    cum = client.post(GEN, json=payload, headers={"Accept": "text/event-stream"})
    for response in (inc, cum):
        assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
        events = decode(response.content)
        assert [e.id for e in events] == [str(i) for i in range(1, len(events) + 1)]
        assert all(e.event == "result" and e.status == 200 for e in events)
    inc_frames, cum_frames = frames(inc), frames(cum)
    assert len(inc_frames) > 3
    if result_format == "text":
        whole = plain["output"]["text"]
        assert "".join(f["output"]["text"] for f in inc_frames) == whole
        assert cum_frames[-1]["output"]["text"] == whole
        reasons = [f["output"]["finish_reason"] for f in inc_frames]
    else:
        whole = plain["output"]["choices"][0]["message"]["content"]
        assert stream_text(inc_frames, True) == whole == stream_text(cum_frames, False)
        reasons = [f["output"]["choices"][0]["finish_reason"] for f in inc_frames]
    assert reasons[:-1] == ["null"] * (len(reasons) - 1) and reasons[-1] == "stop"
    for seq in (inc_frames, cum_frames):
        assert all(f["request_id"] == seq[0]["request_id"] for f in seq)
        outs = [f["usage"]["output_tokens"] for f in seq]
        assert outs == sorted(outs)
        last, first = seq[-1]["usage"], plain["usage"]
        assert last["output_tokens"] == first["output_tokens"]
        assert last["input_tokens"] == first["input_tokens"]
        assert last["prompt_tokens_details"]["cached_tokens"] > 0  # the same prompt again


def test_cumulative_frames_grow(client: httpx.Client) -> None:
    chunks = frames(
        client.post(GEN, json=body("Hello world again", result_format="message"), headers=SSE)
    )
    texts = [c["output"]["choices"][0]["message"]["content"] for c in chunks]
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))


def test_stop_strings(client: httpx.Client) -> None:
    full = client.post(GEN, json=body("Tell me about Rome", seed=1)).json()["output"]["text"]
    word = full.split()[3]
    for stop in (word, [word, "zzz"]):
        cut = client.post(GEN, json=body("Tell me about Rome", seed=1, stop=stop)).json()
        assert cut["output"]["text"] == full[: full.index(word)]
        assert cut["output"]["finish_reason"] == "stop"
    ids = client.post(GEN, json=body("Tell me about Rome", seed=1, stop=[[37763, 367]])).json()
    assert ids["output"]["text"] == full


def test_max_tokens_truncates(client: httpx.Client) -> None:
    data = client.post(GEN, json=body("Tell me about Rome", max_tokens=3)).json()
    assert data["output"]["finish_reason"] == "length"
    assert len(data["output"]["text"].split()) == 3
    assert data["usage"]["output_tokens"] == 3
    cjk = client.post(GEN, json=body("介绍一下杭州", max_tokens=4)).json()
    assert len(cjk["output"]["text"]) == 4


def test_n_choices(client: httpx.Client) -> None:
    data = client.post(GEN, json=body("Tell me about Rome", n=3, result_format="message")).json()
    choices = data["output"]["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2]
    assert len({c["message"]["content"] for c in choices}) > 1
    chunks = frames(client.post(GEN, json=body("Tell me about Rome", n=2, result_format="message",
                                               incremental_output=True), headers=SSE))  # fmt: skip
    for index in (0, 1):
        pieces = [c["message"]["content"] for f in chunks for c in f["output"]["choices"]
                  if c["index"] == index]  # fmt: skip
        assert "".join(pieces) == choices[index]["message"]["content"]
    assert {c["finish_reason"] for c in chunks[-1]["output"]["choices"]} == {"stop"}


def test_logprobs(client: httpx.Client) -> None:
    data = client.post(GEN, json=body("Hi", result_format="message", logprobs=True)).json()
    entries = data["output"]["choices"][0]["logprobs"]["content"]
    assert (
        "".join(e["token"] for e in entries) == data["output"]["choices"][0]["message"]["content"]
    )
    assert all(e["logprob"] <= 0 for e in entries)


def test_cached_tokens_for_repeated_prefix(client: httpx.Client) -> None:
    system = {"role": "system", "content": "You are a helpful assistant with a long prompt."}
    first = client.post(GEN, json=body(messages=[system, {"role": "user", "content": "a"}])).json()
    second = client.post(GEN, json=body(messages=[system, {"role": "user", "content": "b"}])).json()
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    assert second["usage"]["prompt_tokens_details"]["cached_tokens"] > 0


def _calls(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["output"]["choices"][0]["message"].get("tool_calls", [])


def test_auto_tool_call_from_user_words(client: httpx.Client) -> None:
    payload = body('What is the weather in "New York" in fahrenheit?', tools=[WEATHER, ADD])
    data = client.post(GEN, json=payload).json()
    choice = data["output"]["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == ""
    (call,) = _calls(data)
    assert call["id"].startswith("call_") and call["type"] == "function" and call["index"] == 0
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "New York", "unit": "fahrenheit"}


def test_parallel_tool_calls_for_several_tools(client: httpx.Client) -> None:
    payload = body("Get the weather in Paris and add numbers 3 and 4.5", tools=[WEATHER, ADD])
    calls = _calls(client.post(GEN, json=payload).json())
    assert [c["function"]["name"] for c in calls] == ["get_weather", "add_numbers"]
    assert [c["index"] for c in calls] == [0, 1]
    assert json.loads(calls[1]["function"]["arguments"]) == {"a": 3, "b": 4.5}
    single = body("Get the weather in Paris and add 3 and 4", tools=[WEATHER, ADD],
                  parallel_tool_calls=False)  # fmt: skip
    assert len(_calls(client.post(GEN, json=single).json())) == 1


def test_parallel_calls_of_one_tool_per_value(client: httpx.Client) -> None:
    payload = body("Weather in Hangzhou and Shanghai?", tools=[WEATHER], parallel_tool_calls=True)
    calls = _calls(client.post(GEN, json=payload).json())
    cities = [json.loads(c["function"]["arguments"])["city"] for c in calls]
    assert cities == ["Hangzhou", "Shanghai"]
    assert len({c["id"] for c in calls}) == 2


def test_tool_choice_none_forced_and_no_match(client: httpx.Client) -> None:
    none = client.post(
        GEN, json=body("weather in Paris", tools=[WEATHER], tool_choice="none")
    ).json()
    assert _calls(none) == [] and none["output"]["choices"][0]["message"]["content"]
    choice = {"type": "function", "function": {"name": "add_numbers"}}
    forced = body("hello there", tools=[WEATHER, ADD], tool_choice=choice)
    data = client.post(GEN, json=forced).json()
    assert [c["function"]["name"] for c in _calls(data)] == ["add_numbers"]
    assert data["output"]["choices"][0]["finish_reason"] == "stop"  # as recorded for forced calls
    unrelated = client.post(GEN, json=body("Tell me a joke", tools=[WEATHER, ADD])).json()
    assert _calls(unrelated) == []


def test_answer_after_tool_results(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function",
         "index": 0, "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "Sunny, 21 degrees", "tool_call_id": "call_1"},
    ]  # fmt: skip
    data = client.post(GEN, json=body(messages=messages, tools=[WEATHER])).json()
    choice = data["output"]["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "Sunny, 21 degrees" in choice["message"]["content"]


def plain_body(client: httpx.Client, payload: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = client.post(GEN, json=payload).json()
    return body


@pytest.mark.parametrize("incremental", [True, False])
def test_tool_call_streaming_fragments(client: httpx.Client, incremental: bool) -> None:
    payload = body('Weather in "New York" and "San Francisco"?', tools=[WEATHER],
                   parallel_tool_calls=True, incremental_output=incremental)  # fmt: skip
    plain = _calls(client.post(GEN, json=payload).json())
    chunks = frames(client.post(GEN, json=payload, headers=SSE))
    assert chunks[-1]["output"]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(c["output"]["choices"][0]["message"]["tool_calls"] for c in chunks)
    if not incremental:
        assert chunks[-1]["output"]["choices"][0]["message"]["tool_calls"] == plain
        return
    # recorded single-generation-message-with-parallel-tools-sse: the frame carrying the last
    # argument piece finishes the stream; no empty frame follows, no earlier frame finishes
    finishes = [c["output"]["choices"][0]["finish_reason"] for c in chunks]
    assert finishes == ["null"] * (len(chunks) - 1) + ["tool_calls"]
    assert chunks[-1]["usage"] == plain_body(client, payload)["usage"]
    merged: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        (fragment,) = chunk["output"]["choices"][0]["message"]["tool_calls"]
        slot = merged.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
        if fragment["id"]:
            assert not slot["id"] and fragment["function"]["name"]
            slot["id"], slot["name"] = fragment["id"], fragment["function"]["name"]
        else:
            assert set(fragment["function"]) == {"arguments"}
        slot["arguments"] += fragment["function"]["arguments"]
    assert len(merged) == 2 and len(chunks) > 6
    for index, call in enumerate(plain):
        assert merged[index]["id"] == call["id"]
        assert json.loads(merged[index]["arguments"]) == json.loads(call["function"]["arguments"])


def test_thinking_reasoning_first(client: httpx.Client) -> None:
    payload = body(
        "Why is the sky blue?", model="deepseek-v4-pro", enable_thinking=True,
        incremental_output=True,
    )  # fmt: skip
    plain = client.post(GEN, json=payload).json()
    message = plain["output"]["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"]
    reasoning_tokens = plain["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert 0 < reasoning_tokens < plain["usage"]["output_tokens"]
    chunks = frames(client.post(GEN, json=payload, headers=SSE))
    kinds = ["r" if c["output"]["choices"][0]["message"]["reasoning_content"] else "c"
             for c in chunks[:-1]]  # fmt: skip
    assert kinds == sorted(kinds, reverse=True) and "r" in kinds and "c" in kinds
    reasoning = "".join(c["output"]["choices"][0]["message"]["reasoning_content"] for c in chunks)
    assert reasoning == message["reasoning_content"]
    assert stream_text(chunks, True) == message["content"]


def test_json_object_output(client: httpx.Client) -> None:
    data = client.post(
        GEN, json=body("Give me JSON", response_format={"type": "json_object"})
    ).json()
    assert isinstance(json.loads(data["output"]["text"]), dict)


def test_json_schema_output(client: httpx.Client) -> None:
    address = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "zip": {"type": "integer", "minimum": 10000}},
        "required": ["city", "zip"],
    }
    schema = {
        "type": "object",
        "$defs": {"Address": address},
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "maximum": 150},
            "mood": {"enum": ["happy", "sad"]},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "address": {"$ref": "#/$defs/Address"},
            "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "vip": {"type": "boolean"},
        },
        "required": ["name", "age", "mood", "tags", "address"],
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}
    text = "Extract: 'John Smith' is 42 and sad, lives in Berlin"
    data = client.post(GEN, json=body(text, response_format=fmt, result_format="message")).json()
    value = json.loads(data["output"]["choices"][0]["message"]["content"])
    check_schema(value, schema)
    assert value["name"] == "John Smith" and value["age"] == 42 and value["mood"] == "sad"
