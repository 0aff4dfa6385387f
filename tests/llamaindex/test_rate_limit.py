"""``rate_limit=`` on the LlamaIndex classes: checked at construction, passed to the clients,
and every wait an instrumentation event (``DashScopeRateLimitWaitEvent``) in the call's span.

A stream's request goes out while the caller iterates, after the method's span closed: its
event has no span."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from dashscope_core import RateLimit
from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM, DashScopeRateLimitWaitEvent

from .conftest import Events

PACED = RateLimit(rpm=120)  # two a second: the second call of a test waits


def _options(server: ServerHandle) -> dict[str, Any]:
    return {"api_key": f"sk-{uuid.uuid4().hex}", "base_url": server.base_url, "rate_limit": PACED}


@pytest.mark.parametrize("cls", [DashScopeLLM, DashScopeEmbedding])
@pytest.mark.parametrize("value", [600, {"qwen-plus": 600}, "rpm=600"])
def test_a_bad_rate_limit_names_rate_limit(cls: Any, value: object) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        cls(api_key="sk-x", rate_limit=value)


@pytest.mark.parametrize("method", ["complete", "stream_complete", "acomplete", "astream_chat"])
async def test_waits_are_instrumentation_events_in_the_call_span(
    li_server: ServerHandle, emu: Emulator, events: Events, method: str
) -> None:
    from llama_index.core.llms import ChatMessage

    llm = DashScopeLLM(model="qwen-plus", **_options(li_server))
    llm.complete("first?")
    if method == "complete":
        llm.complete("second?")
    elif method == "stream_complete":
        list(llm.stream_complete("second?"))
    elif method == "acomplete":
        await llm.acomplete("second?")
    else:
        [r async for r in await llm.astream_chat([ChatMessage(role="user", content="second?")])]

    [event] = events.of(DashScopeRateLimitWaitEvent)
    assert event.model == "qwen-plus" and event.reason == "requests" and event.seconds > 0.2
    if "stream" not in method:
        assert event.span_id is not None and "DashScopeLLM" in event.span_id


def test_embeddings_waits_are_events(
    li_server: ServerHandle, emu: Emulator, events: Events
) -> None:
    embed = DashScopeEmbedding(**_options(li_server))
    embed.get_query_embedding("first")
    embed.get_text_embedding_batch(["second", "third"])
    assert [e.model for e in events.of(DashScopeRateLimitWaitEvent)] == ["text-embedding-v4"]
