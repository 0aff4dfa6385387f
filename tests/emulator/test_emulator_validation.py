"""Generation rejects what the real DashScope rejects (cross-parameter rules, _genrules)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from emulator_helpers import GEN, SSE, body

from dashscope_core.emulator._genrules import (
    FORCED_TOOL_CHOICE,
    JSON_WHILE_THINKING,
    JSON_WORD_MISSING,
    TOOL_WITHOUT_CALL,
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


@pytest.mark.parametrize("choice", [NAMED, "required"])
@pytest.mark.parametrize(
    "thinking",
    [{"enable_thinking": True}, {"model": "qwq-plus"},
     {"model": "qwen3-235b-a22b-thinking-2507"}],
)  # fmt: skip
def test_thinking_rejects_forced_tool_choice(
    client: httpx.Client, choice: Any, thinking: dict[str, Any]
) -> None:
    payload = body("Weather in Paris?", tools=[WEATHER], tool_choice=choice, **thinking)
    _rejected(client, payload, FORCED_TOOL_CHOICE)


@pytest.mark.parametrize("choice", ["auto", "none", None])
def test_thinking_accepts_auto_and_none(client: httpx.Client, choice: str | None) -> None:
    payload = body("Weather in Paris?", tools=[WEATHER], enable_thinking=True)
    if choice is not None:
        payload["parameters"]["tool_choice"] = choice
    _ok(client, payload)


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
    _rejected(client, body("Answer in JSON", response_format=fmt, **thinking), JSON_WHILE_THINKING)


def test_text_response_format_is_fine_while_thinking(client: httpx.Client) -> None:
    _ok(client, body("Hi", enable_thinking=True, response_format={"type": "text"}))


def test_thinking_only_model_reasons_without_the_flag(client: httpx.Client) -> None:
    data = _ok(client, body("Why is the sky blue?", model="qwq-plus"))
    message = data["output"]["choices"][0]["message"]
    assert message["reasoning_content"]
    assert data["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_rules_apply_to_streams_and_multimodal(client: httpx.Client) -> None:
    payload = body("Weather?", tools=[WEATHER], tool_choice=NAMED, enable_thinking=True)
    response = client.post(GEN, json=payload, headers=SSE)
    assert response.status_code == 400
    assert json.loads(response.content)["message"] == FORCED_TOOL_CHOICE
    _rejected(client, body("Weather?", model="qvq-max", tools=[WEATHER], tool_choice=NAMED),
              FORCED_TOOL_CHOICE, MULTIMODAL)  # fmt: skip


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
