"""Generation rejects what the real DashScope rejects (cross-parameter rules, _genrules)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from emulator_helpers import EMB, GEN, SSE, body, decode, frames

from dashscope_core import profiles, register_profile
from dashscope_core.emulator import Emulator
from dashscope_core.emulator._genrules import (
    FORCED_TOOL_CHOICE,
    INCREMENTAL_REQUIRED,
    JSON_WHILE_THINKING,
    JSON_WORD_MISSING,
    NON_STREAMING_THINKING,
    STREAM_ONLY,
    THINKING_RESTRICTED,
    TOOL_WITHOUT_CALL,
    URL_ERROR,
)

MULTIMODAL = "/services/aigc/multimodal-generation/generation"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
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
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip


def _rejected(client: httpx.Client, payload: Any, message: str, path: str = GEN) -> None:
    response = client.post(path, json=payload)
    data = response.json()
    assert response.status_code == 400, data
    assert data["code"] == "InvalidParameter"
    assert data["message"] == message
    assert data["request_id"] == response.headers["x-request-id"]


def _ok(client: httpx.Client, payload: Any) -> dict[str, Any]:
    response = client.post(GEN, json=payload)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# ------------------------------------------------------------------ thinking mode
# Thinking calls are streams (incremental): the non-streaming refusals are tested below.


def _stream_error(client: httpx.Client, payload: Any, path: str = GEN) -> dict[str, Any]:
    """A validation error on a stream: HTTP 200 and one event:error frame with HTTP_STATUS/4xx
    (recorded parameter-error-sse)."""
    response = client.post(path, json=payload, headers=SSE)
    assert response.status_code == 200
    events = decode(response.content)
    assert [(e.event, e.id) for e in events] == [("error", "1")]
    assert events[0].status == 400
    data: dict[str, Any] = json.loads(events[0].data)
    assert data["request_id"] == response.headers["x-request-id"]
    return data


def _stream_ok(client: httpx.Client, payload: Any, path: str = GEN) -> list[dict[str, Any]]:
    response = client.post(path, json=payload, headers=SSE)
    assert response.status_code == 200
    assert all(e.event == "result" for e in decode(response.content)), response.text
    return frames(response)


def _streamed(payload: dict[str, Any]) -> dict[str, Any]:
    payload["parameters"]["incremental_output"] = True
    return payload


@pytest.mark.parametrize("choice", [NAMED, "required"])
@pytest.mark.parametrize(
    "thinking",
    [{"enable_thinking": True}, {"model": "qwq-plus"},
     {"model": "qwen3-235b-a22b-thinking-2507"}, {"model": "qwen3-32b"}],
)  # fmt: skip
def test_thinking_rejects_forced_tool_choice(
    client: httpx.Client, choice: Any, thinking: dict[str, Any]
) -> None:
    payload = body("Weather in Paris?", tools=[WEATHER], tool_choice=choice, **thinking)
    assert _stream_error(client, _streamed(payload))["message"] == FORCED_TOOL_CHOICE


@pytest.mark.parametrize("choice", ["auto", "none", None])
def test_thinking_accepts_auto_and_none(client: httpx.Client, choice: str | None) -> None:
    payload = body("Weather in Paris?", tools=[WEATHER], enable_thinking=True)
    if choice is not None:
        payload["parameters"]["tool_choice"] = choice
    _stream_ok(client, _streamed(payload))


def test_forced_tool_choice_without_thinking_is_fine(client: httpx.Client) -> None:
    data = _ok(client, body("Weather in Paris?", tools=[WEATHER], tool_choice=NAMED))
    assert data["output"]["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "get_weather"
    )


@pytest.mark.parametrize("fmt", [{"type": "json_object"}, SCHEMA])
@pytest.mark.parametrize("thinking", [{"enable_thinking": True}, {"model": "qwq-32b"}])
def test_thinking_rejects_structured_output(
    client: httpx.Client, fmt: dict[str, Any], thinking: dict[str, Any]
) -> None:
    payload = _streamed(body("Answer in JSON", response_format=fmt, **thinking))
    assert _stream_error(client, payload)["message"] == JSON_WHILE_THINKING


def test_text_response_format_is_fine_while_thinking(client: httpx.Client) -> None:
    payload = body("Hi", enable_thinking=True, response_format={"type": "text"})
    _stream_ok(client, _streamed(payload))


def test_thinking_only_model_reasons_without_the_flag(client: httpx.Client) -> None:
    chunks = _stream_ok(client, _streamed(body("Why is the sky blue?", model="qwq-plus")))
    reasoning = "".join(c["output"]["choices"][0]["message"]["reasoning_content"] for c in chunks)
    assert reasoning
    assert chunks[-1]["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_rules_apply_to_multimodal(client: httpx.Client) -> None:
    payload = body("Weather?", model="qvq-max", tools=[WEATHER], tool_choice=NAMED)
    assert _stream_error(client, _streamed(payload), MULTIMODAL)["message"] == FORCED_TOOL_CHOICE


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (body("Hi", enable_thinking=True), NON_STREAMING_THINKING),
        (body("Hi", model="qwen3-32b"), NON_STREAMING_THINKING),
        (body("Hi", model="qwen-flash", enable_thinking=True), NON_STREAMING_THINKING),
        (body("Hi", model="qwq-plus"), STREAM_ONLY),
        (body("Hi", model="qwen-omni-turbo"), STREAM_ONLY),
        (body("Hi", model="qwq-plus", enable_thinking=False), THINKING_RESTRICTED),
    ],
)
def test_non_streaming_thinking_calls_are_refused(
    client: httpx.Client, payload: dict[str, Any], message: str
) -> None:
    path = MULTIMODAL if payload["model"] == "qwen-omni-turbo" else GEN
    _rejected(client, payload, message, path)


def test_a_thinking_stream_needs_incremental_output(client: httpx.Client) -> None:
    data = _stream_error(client, body("Hi", enable_thinking=True, incremental_output=False))
    assert data["message"] == INCREMENTAL_REQUIRED
    _stream_ok(client, body("Hi", enable_thinking=False, incremental_output=False))


def test_thinking_budget_is_capped_per_model(client: httpx.Client) -> None:
    payload = _streamed(body("Hi", model="qwen3-32b", thinking_budget=40_000))
    assert _stream_error(client, payload)["message"].endswith("not greater than 38912")
    _stream_ok(client, _streamed(body("Hi", model="qwen3-32b", thinking_budget=38_912)))


def test_qwen36_answers_a_non_streaming_thinking_call(client: httpx.Client) -> None:
    # recorded multimodal-generation-with-websearch-nosse: qwen3.6-plus, thinking by default
    response = client.post(MULTIMODAL, json=body("Hi", model="qwen3.6-plus"))
    assert response.status_code == 200, response.text
    message = response.json()["output"]["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"][0]["text"]


@pytest.mark.parametrize("name", ["qwen-plsu", "gpt-4o", "my-finetune"])
def test_unknown_models_do_not_exist(client: httpx.Client, name: str) -> None:
    for path in (GEN, MULTIMODAL, EMB, "/tokenizer"):
        payload = (
            body("Hi", model=name) if path != EMB else {"model": name, "input": {"texts": ["a"]}}
        )
        response = client.post(path, json=payload)
        assert response.status_code == 404, path
        assert response.json()["code"] == "Model.NotExist"
        assert response.json()["message"] == "Model not exist."
    assert _stream_error_status(client, body("Hi", model=name)) == 404


def _stream_error_status(client: httpx.Client, payload: Any) -> int:
    response = client.post(GEN, json=payload, headers=SSE)
    assert response.status_code == 200
    (event,) = decode(response.content)
    assert event.event == "error" and json.loads(event.data)["code"] == "Model.NotExist"
    return event.status


@pytest.mark.parametrize(
    ("model", "path"),
    [("qwen3.5-plus", GEN), ("qwen-vl-max", GEN), ("qwen-plus", MULTIMODAL),
     ("text-embedding-v4", GEN), ("qwen-plus", EMB)],
)  # fmt: skip
def test_the_wrong_endpoint_is_a_url_error(client: httpx.Client, model: str, path: str) -> None:
    payload = (
        body("Hi", model=model) if path != EMB else {"model": model, "input": {"texts": ["a"]}}
    )
    _rejected(client, payload, URL_ERROR, path)


def test_registered_profiles_are_known(client: httpx.Client) -> None:
    register_profile("acme-ft-*", based_on="qwen-plus")
    try:
        assert _ok(client, body("Hi", model="acme-ft-7"))["output"]
    finally:
        unregister = profiles._registered  # the registry is module state
        unregister.pop("acme-ft-*")
        profiles._lookup.cache_clear()


def test_scripted_replies_answer_for_any_name(client: httpx.Client, emu: Emulator) -> None:
    emu.script.generation("scripted")
    assert _ok(client, body("Hi", model="made-up-model"))["output"]["text"] == "scripted"


# ------------------------------------------------------------------ JSON mode


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "Give me the capital of France"}],
        [{"role": "user", "content": "Give me data"},
         {"role": "assistant", "content": "Here is JSON: {}"},
         {"role": "user", "content": "Again"}],
        [{"role": "user", "content": "Name a j-s-o-n-like format"}],
    ],
)  # fmt: skip
def test_json_object_needs_the_word_json(
    client: httpx.Client, messages: list[dict[str, Any]]
) -> None:
    payload = body(messages=messages, response_format={"type": "json_object"})
    _rejected(client, payload, JSON_WORD_MISSING)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "Capital of France, as JSON"}],
        [{"role": "system", "content": "Always answer in Json."},
         {"role": "user", "content": "Capital of France"}],
        [{"role": "user", "content": [{"text": "Reply with a jSoN object"}]}],
    ],
)  # fmt: skip
def test_json_object_with_the_word_json_in_any_case(
    client: httpx.Client, messages: list[dict[str, Any]]
) -> None:
    data = _ok(client, body(messages=messages, response_format={"type": "json_object"}))
    assert isinstance(json.loads(data["output"]["text"]), dict)


def test_json_schema_does_not_need_the_word(client: httpx.Client) -> None:
    data = _ok(client, body("Capital of France", response_format=SCHEMA))
    assert isinstance(json.loads(data["output"]["text"]), dict)


# ------------------------------------------------------------------ tool messages


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "tool", "content": "22 C", "tool_call_id": "call_1"}],
        [{"role": "user", "content": "Weather in Paris?"},
         {"role": "tool", "content": "22 C", "tool_call_id": "call_1"}],
        [{"role": "user", "content": "Weather in Paris?"},
         {"role": "assistant", "content": "Let me check."},
         {"role": "tool", "content": "22 C", "tool_call_id": "call_1"}],
        [{"role": "user", "content": "Weather in Paris?"},
         {"role": "assistant", "content": "", "tool_calls": [CALL]},
         {"role": "tool", "content": "22 C", "tool_call_id": "call_1"},
         {"role": "user", "content": "And tomorrow?"},
         {"role": "tool", "content": "20 C", "tool_call_id": "call_1"}],
    ],
)  # fmt: skip
def test_tool_message_needs_a_preceding_tool_call(
    client: httpx.Client, messages: list[dict[str, Any]]
) -> None:
    _rejected(client, body(messages=messages, tools=[WEATHER]), TOOL_WITHOUT_CALL)


def test_tool_messages_answering_a_call_are_fine(client: httpx.Client) -> None:
    second = {**CALL, "id": "call_2"}
    messages = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL, second]},
        {"role": "tool", "content": "22 C", "tool_call_id": "call_1"},
        {"role": "tool", "content": "25 C", "tool_call_id": "call_2"},
    ]
    data = _ok(client, body(messages=messages, tools=[WEATHER]))
    assert "22 C" in data["output"]["choices"][0]["message"]["content"]


# ------------------------------------------------------------------ argument filler


def _calls(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    calls = data["output"]["choices"][0]["message"]["tool_calls"]
    return [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls]


def test_sentence_openers_are_not_argument_values(client: httpx.Client) -> None:
    question = "What is the weather in Paris? Also add 2 and 3."
    data = _ok(client, body(question, tools=[WEATHER, ADD]))
    assert _calls(data) == [("get_weather", {"city": "Paris"}), ("add_numbers", {"a": 2, "b": 3})]
    one = _ok(client, body(question, tools=[WEATHER], parallel_tool_calls=True))
    assert _calls(one) == [("get_weather", {"city": "Paris"})]
    first = _ok(client, body("Also, then: what is the weather in Rome?", tools=[WEATHER]))
    assert _calls(first) == [("get_weather", {"city": "Rome"})]
