"""``tool_choice="required"``: one strategy for call and stream, sync and async (tool_forcing).

The emulator is scripted to answer in text where a real model might: the answer without a tool
call must never reach the caller, the call is asked again, and after two text answers the
caller gets ``ToolChoiceNotHonoredError``. Tokens of the rejected attempt are counted.
"""

from __future__ import annotations

from typing import Any

import pytest
from _gen_client import GenClient

from dashscope_core import accumulate
from dashscope_core.emulator import Emulator
from dashscope_core.errors import ToolChoiceNotHonoredError

USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "add", "description": "Add two numbers.",
     "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
]  # fmt: skip
CALL = [{"name": "add", "arguments": {"a": 1}}]
ARGS = {"model": "qwen-plus", "messages": USER, "tools": TOOLS, "tool_choice": "required"}


def _ask(ds: GenClient, stream: bool, **kw: Any) -> tuple[Any, list[Any]]:
    """The answer (streams accumulated) and the chunks the caller saw."""
    if not stream:
        return ds.run(ds.client.generation.call(**ARGS, **kw)), []
    chunks = ds.collect(ds.client.generation.stream(**ARGS, **kw))
    return accumulate(chunks), chunks


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
def test_a_text_answer_is_never_shown_and_asked_again(
    gen_ds: GenClient, gen_emu: Emulator, stream: bool
) -> None:
    gen_emu.script.generation(text="Hello! How can I help you today?")
    gen_emu.script.generation(tool_calls=CALL)
    answer, chunks = _ask(gen_ds, stream)
    assert [c.function.name for c in answer.tool_calls] == ["add"]
    assert "Hello" not in answer.text and all("Hello" not in c.text for c in chunks)
    sent = gen_emu.received("generation")
    assert len(sent) == 2
    for request in sent:  # DashScope forces only a named tool: auto plus the instruction
        assert request.json["parameters"]["tool_choice"] == "auto"
        system = request.json["input"]["messages"][0]
        assert system["role"] == "system" and system["content"].startswith("Be brief.\n\n")
        assert "get_weather, add" in system["content"]


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
def test_two_text_answers_raise_with_nothing_shown(
    gen_ds: GenClient, gen_emu: Emulator, stream: bool
) -> None:
    gen_emu.script.generation(text="Hello!")
    gen_emu.script.generation(text="Hello again!")
    seen: list[Any] = []
    with pytest.raises(ToolChoiceNotHonoredError, match="2 times without calling") as caught:
        if stream:
            seen = gen_ds.collect(gen_ds.client.generation.stream(**ARGS))
        else:
            gen_ds.run(gen_ds.client.generation.call(**ARGS))
    assert seen == [] and caught.value.request_id
    assert len(gen_emu.received("generation")) == 2


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
def test_a_first_tool_call_needs_one_request(
    gen_ds: GenClient, gen_emu: Emulator, stream: bool
) -> None:
    gen_emu.script.generation(text="Let me check. ", tool_calls=CALL)
    answer, chunks = _ask(gen_ds, stream)
    assert answer.tool_calls and len(gen_emu.received("generation")) == 1
    assert answer.text == "Let me check. "  # text of an accepted answer is kept
    assert not stream or sum(1 for c in chunks if c.finish_reason) == 1


def test_usage_counts_the_rejected_attempt(gen_ds: GenClient, gen_emu: Emulator) -> None:
    gen_emu.script.generation(tool_calls=CALL)
    alone = gen_ds.run(gen_ds.client.generation.call(**ARGS))
    gen_emu.script.generation(text="Hello! How can I help you today?")
    gen_emu.script.generation(tool_calls=CALL)
    retried = gen_ds.run(gen_ds.client.generation.call(**ARGS))
    assert retried.usage.input_tokens == 2 * alone.usage.input_tokens
    assert retried.usage.output_tokens > alone.usage.output_tokens


def test_one_tool_is_named_and_never_checked(gen_ds: GenClient, gen_emu: Emulator) -> None:
    gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=USER, tools=TOOLS[:1],
                                             tool_choice="required"))  # fmt: skip
    sent = gen_emu.received("generation")[0].json
    assert sent["parameters"]["tool_choice"] == {"type": "function",
                                                 "function": {"name": "get_weather"}}  # fmt: skip
    assert sent["input"]["messages"] == USER


@pytest.mark.parametrize("tools", [TOOLS[:1], TOOLS], ids=["one-tool", "two-tools"])
def test_thinking_mode_gets_the_checked_strategy(
    gen_ds: GenClient, gen_emu: Emulator, tools: list[Any]
) -> None:
    # thinking refuses a forced choice, even the only tool's named one: auto + instruction
    gen_emu.script.generation(text="Let me think.")
    gen_emu.script.generation(tool_calls=[{"name": tools[0]["function"]["name"],
                                           "arguments": {"city": "Rome"}}])  # fmt: skip
    answer = gen_ds.run(gen_ds.client.generation.call(
        model="qwen-plus", messages=USER, tools=tools, tool_choice="required",
        enable_thinking=True))  # fmt: skip
    assert answer.tool_calls and "Let me think" not in answer.text
    sent = gen_emu.received("generation")
    assert len(sent) == 2 and all(r.json["parameters"]["tool_choice"] == "auto" for r in sent)


def test_thinking_mode_refuses_a_named_tool_before_any_request(
    gen_ds: GenClient, gen_emu: Emulator
) -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        gen_ds.run(gen_ds.client.generation.call(**{**ARGS, "tool_choice": "add"},
                                                 enable_thinking=True))  # fmt: skip
    assert gen_emu.received() == []
