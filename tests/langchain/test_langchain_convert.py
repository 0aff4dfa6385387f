"""``_convert`` directly, and against the recorded production traffic."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _langchain_helpers import joined
from _recorded import recording_text
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from dashscope_core._protocol.sse import SSEDecoder
from dashscope_core.types.generation import GenerationResponse
from langchain_dashscope_ext import _convert, _convert_output


def _load(name: str) -> str:
    return recording_text(name)


def _frames(name: str) -> list[GenerationResponse]:
    decoder = SSEDecoder()
    events = decoder.feed(_load(name).encode()) + decoder.close()
    return [GenerationResponse.model_validate_json(e.data) for e in events]


def test_recorded_tool_history_round_trips_to_the_recorded_request() -> None:
    body = json.loads(_load("single-generation-message-with-tools-sse.request.body.json"))
    wire = body["input"]["messages"]
    calls = [{"name": c["function"]["name"], "args": json.loads(c["function"]["arguments"]),
              "id": c["id"]} for c in wire[1]["tool_calls"]]  # fmt: skip
    messages = [
        HumanMessage(wire[0]["content"]),
        AIMessage("", tool_calls=calls),
        ToolMessage(wire[2]["content"], tool_call_id=wire[2]["tool_call_id"]),
        ToolMessage(wire[3]["content"], tool_call_id=wire[3]["tool_call_id"]),
    ]
    out = _convert.to_wire_messages(messages)
    assert out[1]["tool_calls"][0]["function"]["name"] == "get_current_weather"
    assert [json.loads(c["function"]["arguments"]) for c in out[1]["tool_calls"]] == [
        json.loads(c["function"]["arguments"]) for c in wire[1]["tool_calls"]
    ]
    assert [(m["role"], m.get("tool_call_id")) for m in out] == [
        (m["role"], m.get("tool_call_id")) for m in wire
    ]


def test_recorded_forced_tool_call_response() -> None:
    raw = _load("single-generation-message-with-tools-nosse.response.body.txt")
    result = _convert.from_wire_response(GenerationResponse.model_validate_json(raw), "qwen-max")
    message = result.generations[0].message
    assert isinstance(message, AIMessage)
    assert message.tool_calls == [{"name": "get_current_weather", "type": "tool_call",
                                   "args": {"location": "浙江省杭州市"},
                                   "id": "call_cec4c19d27624537b583af"}]  # fmt: skip
    meta = message.response_metadata
    assert meta["finish_reason"] == "stop" and meta["model_provider"] == "dashscope"
    assert meta["request_id"] == "67300049-c108-9987-b1c1-8e0ee2de6b5d"
    assert message.usage_metadata == {"input_tokens": 211, "output_tokens": 8, "total_tokens": 219}


def test_recorded_stream_usage_only_on_last_chunk() -> None:
    frames = _frames("single-generation-message-with-tools-sse.response.body.txt")
    converter = _convert.ChunkConverter("qwen-plus")
    chunks = [converter.feed(f).message for f in frames]
    assert all(c.usage_metadata is None for c in chunks[:-1])
    total = joined(chunks)
    assert total.usage_metadata["output_tokens"] == 53  # cumulative on the wire, not summed
    assert total.usage_metadata["input_token_details"] == {"cache_read": 0}
    assert total.text.startswith("目前杭州和上海的天气") and chunks[-1].chunk_position == "last"


def test_parallel_tool_call_fragments_merge_by_index() -> None:
    converter = _convert.ChunkConverter("qwen-plus")

    def frame(calls: list[dict[str, Any]], finish: str = "null") -> GenerationResponse:
        choice = {"message": {"role": "assistant", "content": "", "tool_calls": calls},
                  "finish_reason": finish}  # fmt: skip
        return GenerationResponse.model_validate({"output": {"choices": [choice]}})

    def fn(name: str | None, args: str) -> dict[str, Any]:
        return {"name": name, "arguments": args} if name else {"arguments": args}

    parts = [
        frame([{"index": 0, "id": "call_a", "function": fn("get", '{"ci')}]),
        frame([{"index": 1, "id": "call_b", "function": fn("get", '{"city": "B"}')}]),
        frame([{"index": 0, "id": "", "function": fn("get", 'ty": "A"}')}]),
        frame([], finish="tool_calls"),
    ]
    chunks = [converter.feed(p).message for p in parts]
    assert chunks[2].tool_call_chunks[0]["id"] is None  # "" fragments become None
    assert chunks[2].tool_call_chunks[0]["name"] is None  # the name is sent once per index
    total = joined(chunks)
    assert [(c["id"], c["args"]) for c in total.tool_calls] == [
        ("call_a", {"city": "A"}),
        ("call_b", {"city": "B"}),
    ]


def test_invalid_arguments_are_reported_not_emptied() -> None:
    calls, invalid = _convert.from_wire_tool_calls(
        [{"id": "c1", "function": {"name": "f", "arguments": "{not json"}},
         {"id": "c2", "function": {"name": "g", "arguments": "[1]"}},
         {"id": "c3", "function": {"name": "h", "arguments": ""}}]
    )  # fmt: skip
    assert [c["args"] for c in calls] == [{}]  # "" is a call without arguments
    assert [(i["name"], i["args"]) for i in invalid] == [("f", "{not json"), ("g", "[1]")]


def test_image_blocks_become_native_parts() -> None:
    message = HumanMessage(content=[
        {"type": "text", "text": "describe"},
        {"type": "image", "source_type": "url", "url": "https://x/a.png"},
        {"type": "image", "base64": "AAA", "mime_type": "image/jpeg"},
        {"type": "image", "source_type": "base64", "data": "BBB", "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": "https://x/b.png"}},
    ])  # fmt: skip
    out = _convert.to_wire_messages([SystemMessage("be brief"), message])
    assert out[0]["content"] == [{"text": "be brief"}]
    assert out[1]["content"] == [
        {"text": "describe"}, {"image": "https://x/a.png"}, {"image": "data:image/jpeg;base64,AAA"},
        {"image": "data:image/png;base64,BBB"}, {"image": "https://x/b.png"},
    ]  # fmt: skip


def test_unsupported_blocks_and_messages_fail_before_any_request() -> None:
    with pytest.raises(ValueError, match="a 'file' block cannot be sent"):
        _convert.to_wire_messages([HumanMessage(content=[{"type": "file", "url": "u"}])])
    with pytest.raises(ValueError, match="audio block needs a 'url' or base64"):
        _convert.to_wire_messages([HumanMessage(content=[{"type": "audio", "id": "x"}])])
    with pytest.raises(ValueError, match="tool_choice"):
        _convert.to_wire_tool_choice("nope", [{"function": {"name": "f"}}])


def test_error_tool_messages_are_sent_as_given_and_content_lists_joined() -> None:
    out = _convert.to_wire_messages([
        AIMessage(content=[{"type": "text", "text": "calling"}],
                  tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}]),
        ToolMessage("boom", tool_call_id="c1", status="error"),
    ])  # fmt: skip
    assert out[0]["content"] == "calling"
    assert out[1] == {"role": "tool", "content": "boom", "tool_call_id": "c1"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [(None, None), ("auto", "auto"), ("none", "none"), ("f", {"type": "function",
     "function": {"name": "f"}}), ("any", "required"), ("required", "required"),
     (True, "required")],
)  # fmt: skip
def test_tool_choice_with_two_tools(choice: Any, expected: Any) -> None:
    tools = [{"function": {"name": "f"}}, {"function": {"name": "g"}}]
    assert _convert.to_wire_tool_choice(choice, tools) == expected


def test_any_with_one_tool_is_the_cores_required() -> None:
    # the core names the only tool when the call does not think (tests/core/test_tool_forcing)
    assert _convert.to_wire_tool_choice("any", [{"function": {"name": "f"}}]) == "required"


def test_history_pairs() -> None:
    assert _convert_output.to_wire_history([("hi", "hello"), {"user": "a", "bot": "b"}]) == [
        {"user": "hi", "bot": "hello"}, {"user": "a", "bot": "b"}
    ]  # fmt: skip
    with pytest.raises(TypeError, match=r"history\[0\]"):
        _convert_output.to_wire_history(["oops"])
