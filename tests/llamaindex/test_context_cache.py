"""LlamaIndex explicit context cache: a ``CachePoint`` marks the block before it on the wire;
cache reads and writes appear in the response's usage."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import CacheControl, CachePoint, TextBlock
from llama_index.core.llms import ChatMessage

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeLLM
from llamaindex_dashscope_ext._convert import to_wire_messages

from .conftest import FAKE_KEY

LONG = " ".join(f"clause{i}" for i in range(1500))
POINT = CachePoint(cache_control=CacheControl(type="ephemeral"))
MARK = {"type": "ephemeral"}


def test_cache_point_marks_the_block_before_it() -> None:
    messages = [
        ChatMessage(role="system", blocks=[TextBlock(text=LONG), POINT, TextBlock(text="tail")]),
        ChatMessage(role="user", content="plain"),
        ChatMessage(role="user", blocks=[POINT, TextBlock(text="q")]),
    ]
    wire = to_wire_messages(messages)
    assert wire[0]["content"] == [{"text": LONG, "cache_control": MARK}, {"text": "tail"}]
    assert wire[1]["content"] == [{"text": "plain", "cache_control": MARK}]  # marked by [2]
    assert wire[2]["content"] == "q"
    with pytest.raises(ValueError, match=r"messages\[0\]: a CachePoint"):
        to_wire_messages([ChatMessage(role="user", blocks=[POINT, TextBlock(text="q")])])


def test_usage_reports_reads_and_writes(li_server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(api_key=FAKE_KEY, base_url=li_server.base_url)
    system = ChatMessage(role="system", blocks=[TextBlock(text=LONG), POINT])
    first = llm.chat([system, ChatMessage(role="user", content="one")])
    assert first.additional_kwargs["cache_creation_input_tokens"] == 1503
    assert first.additional_kwargs["cached_tokens"] == 0
    last = list(llm.stream_chat([system, ChatMessage(role="user", content="two")]))[-1]
    assert last.additional_kwargs["cached_tokens"] == 1503
    assert last.additional_kwargs["cache_creation_input_tokens"] == 0
    sent = emu.received("generation")[0].json["input"]["messages"][0]
    assert sent["content"] == [{"text": LONG, "cache_control": MARK}]
