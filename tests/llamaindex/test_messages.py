"""Message shapes LlamaIndex programs send: several system messages, a late one, tool results."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole

from dashscope_core.emulator import Emulator

from ._calls import Calls


def _sent(emu: Emulator) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = emu.received()[-1].json["input"]["messages"]
    return messages


async def test_system_messages_merge_into_one_leading_message(calls: Calls, emu: Emulator) -> None:
    history = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.SYSTEM, content="Use metric units."),
        ChatMessage(role=MessageRole.USER, content="How tall is Everest?"),
        ChatMessage(role=MessageRole.ASSISTANT, content="8849 m."),
        ChatMessage(role=MessageRole.DEVELOPER, content="Now answer in French."),
        ChatMessage(role=MessageRole.USER, content="And K2?"),
    ]
    for ask in (calls.chat, calls.stream_chat):
        answer = await ask(history)
        assert answer
        assert _sent(emu) == [
            {
                "role": "system",
                "content": "Be brief.\n\nUse metric units.\n\nNow answer in French.",
            },
            {"role": "user", "content": "How tall is Everest?"},
            {"role": "assistant", "content": "8849 m."},
            {"role": "user", "content": "And K2?"},
        ]


async def test_tool_results_are_sent_as_given(calls: Calls, emu: Emulator) -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": '{"city": "Rome"}'}}  # fmt: skip
    history = [
        ChatMessage(role=MessageRole.USER, content="Weather in Rome?"),
        ChatMessage(
            role=MessageRole.ASSISTANT, content="", additional_kwargs={"tool_calls": [call]}
        ),
        ChatMessage(
            role=MessageRole.TOOL,
            content="Error: service down",
            additional_kwargs={"tool_call_id": "call_1", "name": "lookup"},
        ),
    ]
    await calls.chat(history)
    assert _sent(emu)[-1] == {"role": "tool", "content": "Error: service down",
                              "tool_call_id": "call_1", "name": "lookup"}  # fmt: skip
