"""Thinking mode refuses forced tool choices and JSON output before any request."""

from __future__ import annotations

from typing import Any

import pytest

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
          "response_format": {"type": "json_object"}}, "response_format"),
    ],
)  # fmt: skip
def test_refused_in_thinking_mode(build: Any, options: dict[str, Any], argument: str) -> None:
    with pytest.raises(ValueError, match=rf"^{argument}: .*thinking"):
        build(messages=MESSAGES, **options)


@pytest.mark.parametrize(
    "options",
    [
        {"model": "qwen-plus", "enable_thinking": False, "tools": [TOOL], "tool_choice": FORCED},
        {"model": "qwen-plus", "response_format": {"type": "json_object"}},
        {"model": "qwq-plus", "tools": [TOOL], "tool_choice": "auto"},
        {"model": "qwen-plus", "enable_thinking": True, "tools": [TOOL], "tool_choice": "none"},
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
