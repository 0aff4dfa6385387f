"""Thinking mode refuses forced tool choices and JSON output before any request."""

from __future__ import annotations

from typing import Any

import pytest

from dashscope_core import accumulate
from dashscope_core.emulator import Emulator
from dashscope_core.resources.generation import build_call, build_stream

TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
MESSAGES = [{"role": "user", "content": "Answer in json."}]
FORCED = {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize("build", [build_call, build_stream])
@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"model": "qwq-plus", "tools": [TOOL], "tool_choice": FORCED}, "tool_choice"),
        ({"model": "qwen-plus", "enable_thinking": True, "tools": [TOOL], "tool_choice": "f"},
         "tool_choice"),
        ({"model": "qwen3-235b-a22b-thinking-2507", "response_format": {"type": "json_object"}},
         "response_format"),
        ({"model": "qwen-plus", "enable_thinking": True,
          "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}},
         "response_format"),
        ({"model": "qwq-plus", "enable_thinking": False,
          "response_format": {"type": "json_object"}}, "enable_thinking"),
        ({"model": "qwen3-32b", "response_format": {"type": "json_object"}}, "response_format"),
        ({"model": "qwen3.5-plus", "tools": [TOOL], "tool_choice": "f"}, "tool_choice"),
        ({"model": "qwen-plus", "enable_thinking": True, "thinking_budget": 81_921},
         "thinking_budget"),
        ({"model": "qwen-plus", "enable_thinking": True, "result_format": "text"},
         "result_format"),
    ],
)  # fmt: skip
def test_refused_in_thinking_mode(build: Any, options: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=rf"^{argument}: .*(thinking|at most)"):
        build(messages=MESSAGES, **options)


@pytest.mark.parametrize(
    "options",
    [
        {"model": "qwen-plus", "enable_thinking": False, "tools": [TOOL], "tool_choice": FORCED},
        {"model": "qwen-plus", "response_format": {"type": "json_object"}},
        {"model": "qwq-plus", "tools": [TOOL], "tool_choice": "auto"},
        {"model": "qwen-plus", "enable_thinking": True, "tools": [TOOL], "tool_choice": "none"},
        {
            "model": "qwen3-32b",
            "enable_thinking": False,
            "response_format": {"type": "json_object"},
        },
        {"model": "qwen3.5-plus", "enable_thinking": False, "tools": [TOOL], "tool_choice": "f"},
    ],
)
def test_allowed_combinations_are_built(options: dict[str, Any]) -> None:
    assert build_call(messages=MESSAGES, **options).json["model"] == options["model"]


def test_nothing_reaches_the_wire(gen_ds: Any, gen_emu: Emulator) -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        gen_ds.run(
            gen_ds.client.generation.call(
                model="qwq-plus", messages=MESSAGES, tools=[TOOL], tool_choice=FORCED
            )
        )
    assert gen_emu.received("generation") == []


@pytest.mark.parametrize(
    ("options", "streamed"),
    [
        ({"model": "qwen-plus"}, False),
        ({"model": "qwen-plus", "enable_thinking": True}, True),
        ({"model": "qwen3-32b"}, True),  # open Qwen3 thinks by default
        ({"model": "qwen3-32b", "enable_thinking": False}, False),
        ({"model": "qwq-plus"}, True),  # stream only
        ({"model": "qwen-omni-turbo"}, True),  # stream only
        ({"model": "qwen3.6-plus"}, False),  # answers non-streaming thinking calls
        ({"model": "deepseek-v4-pro", "enable_thinking": True}, False),
        ({"model": "an-unknown-model", "enable_thinking": True}, True),
    ],
)
def test_non_streaming_calls_are_streamed_where_the_model_needs_it(
    options: dict[str, Any], streamed: bool
) -> None:
    spec = build_call(messages=MESSAGES, **options)
    assert spec.stream is streamed
    if streamed:
        assert spec.json["parameters"]["incremental_output"] is True


def test_a_thinking_call_is_streamed_and_accumulated(gen_ds: Any, gen_emu: Emulator) -> None:
    answer = gen_ds.run(gen_ds.client.generation.call(model="qwen3-32b", messages=MESSAGES))
    (sent,) = gen_emu.received("generation")
    assert sent.headers["x-dashscope-sse"] == "enable"
    assert sent.json["parameters"]["incremental_output"] is True
    message = answer.message
    assert message is not None and message.reasoning_content and answer.text
    assert answer.finish_reason == "stop" and answer.status_code == 200
    usage = answer.usage
    assert usage.output_tokens_details is not None and usage.output_tokens_details.reasoning_tokens
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens  # type: ignore[operator]
    streamed = accumulate(gen_ds.collect(
        gen_ds.client.generation.stream(model="qwen3-32b", messages=MESSAGES)
    ))  # fmt: skip
    assert streamed.output == answer.output  # the same answer a stream accumulates to
    assert streamed.usage.output_tokens == answer.usage.output_tokens
