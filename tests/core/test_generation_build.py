"""Generation request builders: bodies on the wire and argument checks (pure, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dashscope_core.resources.generation import (
    MULTIMODAL_PATH,
    TEXT_PATH,
    build_call,
    build_stream,
)

USER = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _nulls(value: Any) -> bool:
    if isinstance(value, dict):
        return any(v is None or _nulls(v) for v in value.values())
    if isinstance(value, list):
        return any(_nulls(v) for v in value)
    return False


def test_messages_default_to_message_format() -> None:
    spec = build_call(model="qwen-plus", messages=USER)
    assert spec.method == "POST" and spec.path == TEXT_PATH and not spec.stream
    assert spec.json == {
        "model": "qwen-plus",
        "input": {"messages": USER},
        "parameters": {"result_format": "message"},
    }


def test_prompt_defaults_to_text_format_and_keeps_history() -> None:
    history = [{"user": "1+1?", "bot": "2"}]
    spec = build_call(model="qwen-max", prompt="2+2?", history=history)
    assert spec.json["input"] == {"prompt": "2+2?", "history": history}
    assert spec.json["parameters"] == {"result_format": "text"}


def test_explicit_result_format_is_sent_as_is() -> None:
    spec = build_call(model="qwen-plus", messages=USER, result_format="text")
    assert spec.json["parameters"]["result_format"] == "text"


def test_parameters_pass_through_without_nulls_or_stream() -> None:
    spec = build_call(
        model="qwen-plus",
        messages=[{"role": "user", "content": "Hi", "name": None}],
        temperature=0.5,
        top_p=None,
        seed=7,
        stream=False,
        enable_search=True,
        search_options={"forced_search": True, "x": None},
        brand_new_option={"a": 1},
    )
    params = spec.json["parameters"]
    assert params == {
        "result_format": "message",
        "temperature": 0.5,
        "seed": 7,
        "enable_search": True,
        "search_options": {"forced_search": True},
        "brand_new_option": {"a": 1},
    }
    assert not _nulls(spec.json)
    assert "stream" not in json.dumps(spec.json)


def test_stream_asks_for_incremental_output_over_sse() -> None:
    spec = build_stream(model="qwen-plus", messages=USER)
    assert spec.stream
    assert spec.json["parameters"]["incremental_output"] is True
    cumulative = build_stream(model="qwen-plus", messages=USER, incremental_output=False)
    assert cumulative.json["parameters"]["incremental_output"] is False


def test_stream_true_on_call_is_refused() -> None:
    with pytest.raises(ValueError, match="stream"):
        build_call(model="qwen-plus", messages=USER, stream=True)


def test_tools_pass_through_and_bare_functions_are_wrapped() -> None:
    bare = {"name": "lookup", "parameters": {"type": "object"}}
    spec = build_call(model="qwen-plus", messages=USER, tools=[WEATHER, bare], tool_choice="auto")
    params = spec.json["parameters"]
    assert params["tools"] == [WEATHER, {"type": "function", "function": bare}]
    assert params["tool_choice"] == "auto"


def test_tool_name_as_tool_choice_becomes_the_dict_form() -> None:
    spec = build_call(model="qwen-plus", messages=USER, tools=[WEATHER], tool_choice="get_weather")
    forced = {"type": "function", "function": {"name": "get_weather"}}
    assert spec.json["parameters"]["tool_choice"] == forced
    again = build_call(model="qwen-plus", messages=USER, tools=[WEATHER], tool_choice=forced)
    assert again.json["parameters"]["tool_choice"] == forced


def test_prompt_with_tools_asks_for_message_format() -> None:
    spec = build_call(model="qwen-plus", prompt="weather?", tools=[WEATHER])
    assert spec.json["parameters"]["result_format"] == "message"


def test_assistant_tool_calls_and_tool_messages_pass_through() -> None:
    call = {"index": 0, "id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "New York"}'}}  # fmt: skip
    messages = [
        {"role": "user", "content": "Weather in New York?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
    ]
    spec = build_call(model="qwen-plus", messages=messages, tools=[WEATHER])
    assert spec.json["input"]["messages"] == messages


@pytest.mark.parametrize(
    ("model", "path"),
    [("qwen-vl-max", MULTIMODAL_PATH), ("qvq-max", MULTIMODAL_PATH),
     ("qwen-omni-turbo", MULTIMODAL_PATH), ("qwen2-audio-instruct", MULTIMODAL_PATH),
     ("qwen3.5-plus", MULTIMODAL_PATH), ("qwen3.6-plus", MULTIMODAL_PATH),
     ("qwen-plus", TEXT_PATH), ("qwen-max", TEXT_PATH), ("qwen-doc-turbo", TEXT_PATH),
     ("deepseek-v3.2", TEXT_PATH), ("an-unknown-model", TEXT_PATH)],
)  # fmt: skip
def test_the_profile_picks_the_endpoint(model: str, path: str) -> None:
    assert build_stream(model=model, messages=USER).path == path


def test_multimodal_models_get_parts_and_strings_become_parts() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"image": "https://x.test/a.png"}, {"text": "What is it?"}]},
    ]
    spec = build_call(model="qwen-vl-max", messages=messages)
    assert spec.path == MULTIMODAL_PATH
    assert spec.json["input"]["messages"] == [
        {"role": "system", "content": [{"text": "Be brief."}]},
        messages[1],
    ]
    assert "result_format" not in spec.json["parameters"]


def test_content_parts_do_not_pick_the_endpoint() -> None:
    # recorded conversation-generation-message-with-doc-url-sse: parts on text-generation
    parts = [
        {"type": "text", "text": "Extract the products."},
        {"type": "doc_url", "doc_url": ["https://x.test/a.docx"], "file_parsing_strategy": "auto"},
    ]
    messages = [{"role": "user", "content": parts}]
    spec = build_stream(model="qwen-doc-turbo", messages=messages)
    assert spec.path == TEXT_PATH and spec.json["input"]["messages"] == messages


@pytest.mark.parametrize("model", ["qwen-plus", "an-unknown-model"])
def test_images_to_a_text_model_are_refused_before_the_network(model: str) -> None:
    messages = [{"role": "user", "content": [{"image": "https://x.test/a.png"}, {"text": "?"}]}]
    with pytest.raises(ValueError, match=r"^messages\[0\]\.content: a image part"):
        build_call(model=model, messages=messages)


def test_vision_model_with_prompt_goes_multimodal() -> None:
    spec = build_stream(
        model="qwen-vl-plus", prompt="Describe", history=[{"user": "a", "bot": "b"}]
    )
    assert spec.path == MULTIMODAL_PATH and spec.stream
    assert spec.json["input"] == {
        "messages": [
            {"role": "user", "content": [{"text": "a"}]},
            {"role": "assistant", "content": [{"text": "b"}]},
            {"role": "user", "content": [{"text": "Describe"}]},
        ]
    }


def test_recorded_token_id_stops_are_accepted() -> None:
    for stop in ("END", ["a", "b"], [37763, 367], [[37763, 367]]):
        assert (
            build_call(model="qwen-max", prompt="x", stop=stop).json["parameters"]["stop"] == stop
        )


BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"model": "", "messages": USER}, ValueError, "model"),
    ({"model": None, "messages": USER}, TypeError, "model"),
    ({"model": "qwen-plus"}, ValueError, "messages/prompt"),
    ({"model": "qwen-plus", "messages": USER, "prompt": "x"}, ValueError, "messages/prompt"),
    ({"model": "qwen-plus", "prompt": ""}, ValueError, "prompt"),
    ({"model": "qwen-plus", "messages": []}, ValueError, "messages"),
    ({"model": "qwen-plus", "messages": "Hi"}, TypeError, "messages"),
    ({"model": "qwen-plus", "messages": ["Hi"]}, TypeError, r"messages\[0\]"),
    ({"model": "qwen-plus", "messages": [{"role": "bot", "content": "x"}]}, ValueError,
     r"messages\[0\]\.role"),
    ({"model": "qwen-plus", "messages": [{"role": "user"}]}, ValueError, r"messages\[0\]\.content"),
    ({"model": "qwen-plus", "messages": [{"role": "user", "content": 3}]}, TypeError,
     r"messages\[0\]\.content"),
    ({"model": "qwen-plus", "messages": [*USER, {"role": "tool", "content": "r"}]}, ValueError,
     r"messages\[1\]\.tool_call_id"),
    ({"model": "qwen-plus", "messages": USER, "history": [{"user": "a", "bot": "b"}]},
     ValueError, "history"),
    ({"model": "qwen-plus", "messages": USER, "result_format": "json"}, ValueError,
     "result_format"),
    ({"model": "qwen-plus", "messages": USER, "tools": [{"type": "function", "function": {}}]},
     ValueError, r"tools\[0\]\.function\.name"),
    ({"model": "qwen-plus", "messages": USER, "tools": WEATHER}, TypeError, "tools"),
    ({"model": "qwen-plus", "messages": USER, "tool_choice": "required"}, ValueError,
     "tool_choice"),
    ({"model": "qwen-plus", "prompt": "hi", "tools": [WEATHER, {"name": "b"}],
      "tool_choice": "required"}, ValueError, "tool_choice"),
    ({"model": "qwen-plus", "messages": USER, "tools": [WEATHER],
      "tool_choice": {"type": "function", "function": {"name": "other"}}}, ValueError,
     "tool_choice"),
    ({"model": "qwen-plus", "messages": USER, "tool_choice": 3}, TypeError, "tool_choice"),
    ({"model": "qwen-plus", "messages": USER, "max_tokens": 0}, ValueError, "max_tokens"),
    ({"model": "qwen-plus", "messages": USER, "max_tokens": -5}, ValueError, "max_tokens"),
    ({"model": "qwen-plus", "messages": USER, "max_tokens": True}, ValueError, "max_tokens"),
    ({"model": "qwen-plus", "messages": USER, "temperature": 2}, ValueError, "temperature"),
    ({"model": "qwen-plus", "messages": USER, "temperature": -0.1}, ValueError, "temperature"),
    ({"model": "qwen-plus", "messages": USER, "top_p": 0}, ValueError, "top_p"),
    ({"model": "qwen-plus", "messages": USER, "top_p": 1.5}, ValueError, "top_p"),
    ({"model": "qwen-plus", "messages": USER, "n": 0}, ValueError, "n"),
    ({"model": "qwen-plus", "messages": USER, "stop": 5}, TypeError, "stop"),
    ({"model": "qwen-plus", "messages": USER, "stop": ["a", 1]}, TypeError, "stop"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD)
def test_bad_arguments_name_the_argument(
    kwargs: dict[str, Any], error: type[Exception], name: str
) -> None:
    for build in (build_call, build_stream):
        with pytest.raises(error, match=name):
            build(**kwargs)


def test_boundaries_are_accepted() -> None:
    spec = build_call(model="qwen-plus", messages=USER, temperature=0, top_p=1, n=1, max_tokens=1)
    assert spec.json["parameters"]["temperature"] == 0


# PROTOCOL.md "Text generation": every parameter, with a value the real server accepts (thinking
# off: JSON output is refused in thinking mode, see test_generation_thinking.py)
PROTOCOL_PARAMETERS: dict[str, Any] = {
    "temperature": 0.7, "top_p": 0.8, "top_k": 50, "max_tokens": 64, "seed": 42,
    "stop": ["END"], "repetition_penalty": 1.05, "presence_penalty": 0.5,
    "enable_search": True, "search_options": {"forced_search": True},
    "parallel_tool_calls": True, "enable_thinking": False, "thinking_budget": 128, "n": 2,
    "logprobs": True, "top_logprobs": 3, "response_format": {"type": "json_object"},
    "incremental_output": False,
}  # fmt: skip


@pytest.mark.parametrize("builder", [build_call, build_stream])
def test_every_protocol_parameter_reaches_the_wire(builder: Any) -> None:
    params = dict(PROTOCOL_PARAMETERS)
    if builder is build_stream:
        params["incremental_output"] = True
    spec = builder(model="qwen-plus", messages=[{"role": "user", "content": "hi"}],
                   result_format="message", tools=[WEATHER], tool_choice="auto",
                   **params)  # fmt: skip
    sent = json.loads(json.dumps(spec.json))
    assert sent["parameters"] == {**params, "result_format": "message", "tools": [WEATHER],
                                  "tool_choice": "auto"}  # fmt: skip
    assert "stream" not in sent and "stream" not in sent["parameters"]
