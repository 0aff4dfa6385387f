"""``_convert``: LlamaIndex messages/tools ↔ DashScope wire, checked against recorded traffic."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from _recorded import recording_text
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.tools import FunctionTool

from dashscope_core._protocol.generation_stream import GenerationStream
from dashscope_core._protocol.sse import SSEDecoder
from dashscope_core.types.generation import GenerationResponse
from llamaindex_dashscope_ext._convert import (
    ChatStream,
    from_wire_response,
    json_schema_format,
    resolve_tool_choice,
    to_completion_response,
    to_wire_messages,
    to_wire_tools,
    tool_selections,
    usage_kwargs,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _load(name: str) -> str:
    return recording_text(name)


def _frames(name: str) -> list[GenerationResponse]:
    decoder, stage = SSEDecoder(), GenerationStream(incremental=True)
    events = [*decoder.feed(_load(name).encode()), *decoder.close()]
    chunks = [c for e in events for c in stage.feed(e)]
    return [*chunks, *stage.close()]


def _chunk(**message: Any) -> GenerationResponse:
    finish = message.pop("finish_reason", "null")
    body = {
        "output": {
            "choices": [{"message": {"role": "assistant", **message}, "finish_reason": finish}]
        },
        "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7},
        "request_id": "r1",
    }
    return GenerationResponse.model_validate(body)


# -- requests --------------------------------------------------------------------------------


def test_recorded_tool_conversation_round_trips_to_the_recorded_request() -> None:
    recorded = json.loads(_load("single-generation-message-with-tools-sse.request.body.json"))
    wire = recorded["input"]["messages"]
    calls = wire[1]["tool_calls"]
    messages = [
        ChatMessage(role="user", content=wire[0]["content"]),
        ChatMessage(
            role="assistant",
            blocks=[TextBlock(text="")]
            + [
                ToolCallBlock(
                    tool_call_id=c["id"],
                    tool_name=c["function"]["name"],
                    tool_kwargs=c["function"]["arguments"],
                )
                for c in calls
            ],
        ),
        *[
            ChatMessage(
                role="tool",
                content=m["content"],
                additional_kwargs={"tool_call_id": m["tool_call_id"]},
            )
            for m in wire[2:]
        ],
    ]
    assert to_wire_messages(messages) == wire


def test_legacy_additional_kwargs_tool_calls_are_serialised() -> None:
    legacy = [
        {
            "id": "call_1",
            "type": "function",
            "index": 0,
            "function": {"name": "f", "arguments": '{"a": 1}'},
        }
    ]
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": legacy})
    assert to_wire_messages([message])[0]["tool_calls"] == legacy


def test_dict_tool_kwargs_are_dumped_as_json() -> None:
    block = ToolCallBlock(tool_call_id="c", tool_name="f", tool_kwargs={"city": "New York"})
    wire = to_wire_messages([ChatMessage(role="assistant", blocks=[block])])[0]
    assert json.loads(wire["tool_calls"][0]["function"]["arguments"]) == {"city": "New York"}
    assert wire["content"] == ""


def test_roles_thinking_and_name() -> None:
    messages = [
        ChatMessage(role=MessageRole.DEVELOPER, content="be brief"),
        ChatMessage(role="assistant", blocks=[ThinkingBlock(content="hmm"), TextBlock(text="ok")]),
        ChatMessage(
            role="tool", content="42", additional_kwargs={"tool_call_id": "c", "name": "f"}
        ),
    ]
    assert to_wire_messages(messages) == [
        {"role": "system", "content": "be brief"},
        {"role": "assistant", "content": "ok"},
        {"role": "tool", "content": "42", "tool_call_id": "c", "name": "f"},
    ]


def test_images_make_every_message_a_list_of_native_parts(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    messages = [
        ChatMessage(role="system", content="describe"),
        ChatMessage(
            role="user",
            blocks=[
                TextBlock(text="what is this?"),
                ImageBlock(url="https://example.com/cat.png"),
                ImageBlock(image=PNG),
                ImageBlock(path=path),
            ],
        ),
    ]
    wire = to_wire_messages(messages)
    assert wire[0]["content"] == [{"text": "describe"}]
    parts = wire[1]["content"]
    assert parts[0] == {"text": "what is this?"}
    assert parts[1] == {"image": "https://example.com/cat.png"}
    inline = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert parts[2] == {"image": inline}
    assert parts[3] == {"image": inline}


def test_unsupported_block_raises_naming_messages() -> None:
    message = ChatMessage(role="user", blocks=[DocumentBlock(data=b"%PDF-1.4 ...")])
    with pytest.raises(ValueError, match="messages: a DocumentBlock"):
        to_wire_messages([message])


def test_tools_keep_required_inside_parameters() -> None:
    def get_weather(location: str, unit: str = "c") -> str:
        """Weather for a location."""
        return location

    (spec,) = to_wire_tools([FunctionTool.from_defaults(get_weather)])
    assert spec["type"] == "function"
    assert spec["function"]["name"] == "get_weather"
    assert spec["function"]["parameters"]["required"] == ["location"]
    assert "required" not in spec["function"]


@pytest.mark.parametrize(
    ("choice", "required", "names", "expected"),
    [
        (None, False, ["a", "b"], None),
        (None, True, ["a"], "required"),  # the core names the only tool
        (None, True, ["a", "b"], "required"),
        ("any", False, ["a", "b"], "required"),
        ("auto", True, ["a"], "auto"),
        ("none", False, ["a"], "none"),
        ("b", False, ["a", "b"], {"type": "function", "function": {"name": "b"}}),
    ],
)
def test_resolve_tool_choice(choice: Any, required: bool, names: list[str], expected: Any) -> None:
    assert resolve_tool_choice(choice, required, names) == expected


def test_resolve_tool_choice_unknown_name() -> None:
    with pytest.raises(ValueError, match="tool_choice: 'zzz'"):
        resolve_tool_choice("zzz", False, ["a"])


def test_json_schema_format_sanitises_the_name() -> None:
    from pydantic import BaseModel, create_model

    model: type[BaseModel] = create_model("My Model!", x=(int, ...))
    fmt = json_schema_format(model)
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "My_Model_"
    assert fmt["json_schema"]["schema"]["required"] == ["x"]


# -- responses -------------------------------------------------------------------------------


def test_recorded_nosse_answer() -> None:
    response = GenerationResponse.model_validate_json(
        _load("single-generation-message-nosse.response.body.txt")
    )
    chat = from_wire_response(response)
    assert chat.message.content.startswith("1+1 等于 2")
    assert chat.additional_kwargs["prompt_tokens"] == 8
    assert chat.additional_kwargs["completion_tokens"] == 39
    assert chat.additional_kwargs["total_tokens"] == 47
    assert chat.additional_kwargs["finish_reason"] == "stop"
    assert chat.raw["usage"]["input_tokens"] == 8
    assert chat.raw["request_id"] == "e764bfe3-c0b7-97a0-ae57-cd99e1580960"


def test_recorded_tool_call_answer_becomes_blocks_and_legacy_kwargs() -> None:
    response = GenerationResponse.model_validate_json(
        _load("single-generation-message-with-tools-nosse.response.body.txt")
    )
    chat = from_wire_response(response)
    calls = [b for b in chat.message.blocks if isinstance(b, ToolCallBlock)]
    wire_calls = response.tool_calls
    assert [c.tool_name for c in calls] == [c.function.name for c in wire_calls]
    assert [c.tool_kwargs for c in calls] == [c.function.arguments for c in wire_calls]
    legacy = chat.message.additional_kwargs["tool_calls"]
    assert [c["id"] for c in legacy] == [c.id for c in wire_calls]
    selections = tool_selections(chat)
    assert selections[0].tool_kwargs == json.loads(wire_calls[0].function.arguments)


def test_recorded_stream_accumulates_text_and_usage_on_the_last_chunk() -> None:
    frames = _frames("single-generation-message-with-tools-sse.response.body.txt")
    stream = ChatStream()
    responses = [stream.feed(f) for f in frames]
    text = "".join(r.delta or "" for r in responses)
    assert responses[-1].message.content == text
    assert text.startswith("目前杭州和上海的天气情况如下")
    assert all("prompt_tokens" not in r.additional_kwargs for r in responses[:-1])
    last = responses[-1]
    assert last.additional_kwargs["finish_reason"] == "stop"
    assert last.additional_kwargs["prompt_tokens"] == frames[-1].usage.input_tokens
    assert last.raw["usage"]["output_tokens"] == frames[-1].usage.output_tokens
    assert last.raw["request_id"] == frames[-1].request_id  # the final chunk: the JSON dict
    assert all(r.raw is f for r, f in zip(responses[:-1], frames, strict=False))  # no dump


def test_stream_merges_tool_fragments_by_index_without_altering_them() -> None:
    stream = ChatStream()
    fragments = [
        _chunk(
            content="",
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "weather", "arguments": ""},
                }
            ],
        ),
        _chunk(
            content="",
            tool_calls=[{"index": 0, "id": "", "function": {"arguments": '{"city": "New'}}],
        ),
        _chunk(
            content="",
            tool_calls=[
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "time", "arguments": '{"tz": '},
                }
            ],
        ),
        _chunk(
            content="", tool_calls=[{"index": 0, "id": "", "function": {"arguments": ' York"}'}}]
        ),
        _chunk(
            content="",
            tool_calls=[{"index": 1, "id": "", "function": {"arguments": '"UTC"}'}}],
            finish_reason="tool_calls",
        ),
    ]
    responses = [stream.feed(f) for f in fragments]
    mid = tool_selections(responses[1])
    assert mid[0].tool_kwargs == {"city": None}  # partial JSON, read leniently mid-stream
    assert responses[1].message.additional_kwargs["tool_calls"][0]["function"]["arguments"] == (
        '{"city": "New'
    )  # earlier responses are not changed by later fragments
    final = responses[-1]
    blocks = [b for b in final.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in blocks] == [
        ("call_a", "weather", '{"city": "New York"}'),
        ("call_b", "time", '{"tz": "UTC"}'),
    ]
    assert [s.tool_kwargs for s in tool_selections(final)] == [{"city": "New York"}, {"tz": "UTC"}]


def test_invalid_arguments_are_reported_once_finished() -> None:
    final = ChatStream().feed(
        _chunk(
            content="",
            finish_reason="tool_calls",
            tool_calls=[{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{oops"}}],
        )
    )
    with pytest.raises(ValueError, match=r"'f'.*not valid JSON"):
        tool_selections(final)
    unfinished = ChatStream().feed(
        _chunk(
            content="",
            tool_calls=[{"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a'}}],
        )
    )
    assert tool_selections(unfinished)[0].tool_kwargs == {}


def test_non_object_arguments_are_reported() -> None:
    block = ToolCallBlock(tool_call_id="c", tool_name="f", tool_kwargs="[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object"):
        tool_selections(ChatResponse(message=ChatMessage(role="assistant", blocks=[block])))


def test_thinking_block_and_delta() -> None:
    stream = ChatStream()
    first = stream.feed(_chunk(content="", reasoning_content="Let me think"))
    assert first.additional_kwargs["thinking_delta"] == "Let me think"
    last = stream.feed(_chunk(content="42", reasoning_content="", finish_reason="stop"))
    thinking = [b for b in last.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking[0].content == "Let me think"
    assert last.message.content == "42"
    assert "thinking_delta" not in last.additional_kwargs


def test_usage_kwargs_details_and_completion_view() -> None:
    response = GenerationResponse.model_validate(
        {
            "output": {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]},
            "usage": {
                "input_tokens": 3,
                "output_tokens": 4,
                "prompt_tokens_details": {"cached_tokens": 2},
                "output_tokens_details": {"reasoning_tokens": 1},
            },
        }
    )
    assert usage_kwargs(response.usage) == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "cached_tokens": 2,
        "reasoning_tokens": 1,
    }
    assert usage_kwargs(None) == {}
    completion = to_completion_response(from_wire_response(response))
    assert completion.text == "hi"
    assert completion.additional_kwargs["total_tokens"] == 7
