"""Explicit context cache through the core client: markers reach the wire on their part, at
most four (an error naming the fifth), creation then hit within the TTL on the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from _gen_client import GenClient

from dashscope_core.emulator import Emulator

LONG = " ".join(f"rule{i}" for i in range(1500))  # 1,500 emulator tokens


def _messages(question: str, marker: bool = True) -> list[dict[str, Any]]:
    part: dict[str, Any] = {"type": "text", "text": LONG}
    if marker:
        part["cache_control"] = {"type": "ephemeral"}
    return [{"role": "system", "content": [part]}, {"role": "user", "content": question}]


def test_create_then_hit_then_expire(gen_ds: GenClient, gen_emu: Emulator) -> None:
    call = gen_ds.client.generation.call
    first = gen_ds.run(call(model="qwen-plus", messages=_messages("first?")))
    details = first.usage.prompt_tokens_details
    assert details.cached_tokens == 0 and details.cache_creation_input_tokens == 1503
    assert details.cache_creation == {"ephemeral_5m_input_tokens": 1503}
    assert details.cache_type == "ephemeral"
    sent = gen_emu.received("generation")[0]
    assert sent.path == "/services/aigc/text-generation/generation"  # text parts stay on text
    assert sent.json["input"]["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    gen_emu.clock.advance(299)
    second = gen_ds.run(call(model="qwen-plus", messages=_messages("second?")))
    assert second.usage.prompt_tokens_details.cached_tokens == 1503
    assert second.usage.prompt_tokens_details.cache_creation_input_tokens == 0
    gen_emu.clock.advance(299)  # a hit restarted the 5-minute TTL
    assert gen_ds.run(call(model="qwen-plus", messages=_messages("third?"))).usage.\
        prompt_tokens_details.cached_tokens == 1503  # fmt: skip
    gen_emu.clock.advance(301)
    expired = gen_ds.run(call(model="qwen-plus", messages=_messages("fourth?")))
    assert expired.usage.prompt_tokens_details.cached_tokens == 0
    assert expired.usage.prompt_tokens_details.cache_creation_input_tokens == 1503


def test_short_prefixes_are_not_cached(gen_ds: GenClient, gen_emu: Emulator) -> None:
    short = [{"role": "user", "content": [{"text": "hi", "cache_control": {"type": "ephemeral"}}]}]
    for _ in range(2):
        answer = gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=short))
        details = answer.usage.prompt_tokens_details
        assert details.cached_tokens == 0 and details.cache_creation_input_tokens == 0


def test_a_fifth_marker_is_refused_before_any_request(gen_ds: GenClient, gen_emu: Emulator) -> None:
    part = {"text": "x", "cache_control": {"type": "ephemeral"}}
    messages = [{"role": "user", "content": [dict(part), dict(part)]} for _ in range(3)]
    with pytest.raises(ValueError, match=r"messages\[2\]\.content\[0\]\.cache_control"):
        gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=messages))
    bad = [{"role": "user", "content": [{"text": "x", "cache_control": {"type": "forever"}}]}]
    with pytest.raises(ValueError, match=r"messages\[0\]\.content\[0\]\.cache_control"):
        gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=bad))
    assert gen_emu.received() == []


def test_without_markers_the_implicit_cache_applies(gen_ds: GenClient, gen_emu: Emulator) -> None:
    for _ in range(2):
        answer = gen_ds.run(
            gen_ds.client.generation.call(model="qwen-plus", messages=_messages("q", marker=False))
        )
    assert answer.usage.prompt_tokens_details.cached_tokens > 0
    assert answer.usage.prompt_tokens_details.cache_creation_input_tokens is None
