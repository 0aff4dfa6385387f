"""LangChain explicit context cache: ``cache_control`` on content blocks reaches the wire on its
part, ``usage_metadata.input_token_details`` has ``cache_read`` / ``cache_creation``, and the
agent middleware marks the stable prefix only where it pays."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope, DashScopePromptCachingMiddleware

KEY = "sk-test-langchain"
LONG = " ".join(f"policy{i}" for i in range(1500))
MARK = {"type": "ephemeral"}


def _chat(server: ServerHandle, model: str = "qwen-plus") -> ChatDashScope:
    return ChatDashScope(model=model, api_key=KEY, base_url=server.base_url, max_retries=0)


def test_marked_blocks_reach_the_wire_and_usage_reports_the_cache(
    server: ServerHandle, emu: Emulator
) -> None:
    system = SystemMessage(content=[{"type": "text", "text": LONG, "cache_control": MARK}])
    chat = _chat(server)
    first = chat.invoke([system, HumanMessage("first question")])
    sent = emu.received("generation")[0].json["input"]["messages"]
    assert sent[0] == {"role": "system", "content": [{"text": LONG, "cache_control": MARK}]}
    assert sent[1] == {"role": "user", "content": "first question"}
    assert first.usage_metadata is not None
    assert first.usage_metadata["input_token_details"] == {"cache_read": 0, "cache_creation": 1503}
    second = chat.invoke([system, HumanMessage("second question")])
    assert second.usage_metadata is not None
    assert second.usage_metadata["input_token_details"] == {"cache_read": 1503,
                                                            "cache_creation": 0}  # fmt: skip
    chunks = list(chat.stream([system, HumanMessage("third question")]))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage == [{**usage[0], "input_token_details": {"cache_read": 1503,
                                                          "cache_creation": 0}}]  # fmt: skip


def test_a_marked_tool_result_keeps_its_marker(server: ServerHandle, emu: Emulator) -> None:
    from langchain_core.messages import AIMessage

    call = {"name": "lookup", "args": {}, "id": "call_1"}
    messages = [HumanMessage("look it up"), AIMessage("", tool_calls=[call]),
                ToolMessage(content=[{"type": "text", "text": LONG, "cache_control": MARK}],
                            tool_call_id="call_1")]  # fmt: skip
    _chat(server).invoke(messages)
    tool_msg = emu.received("generation")[0].json["input"]["messages"][2]
    assert tool_msg["content"] == [{"text": LONG, "cache_control": MARK}]


@tool
def policy_lookup(topic: str) -> str:
    """Look up the company policy on a topic."""
    return f"The policy on {topic}: ask your manager."


def _agent(server: ServerHandle, model: str, **options: Any) -> Any:
    middleware = DashScopePromptCachingMiddleware(**options)
    return create_agent(_chat(server, model), tools=[policy_lookup], system_prompt=LONG,
                        middleware=[middleware])  # fmt: skip


def test_middleware_marks_system_and_last_message_and_the_loop_hits(
    server: ServerHandle, emu: Emulator
) -> None:
    emu.script.generation(tool_calls=[{"name": "policy_lookup", "arguments": {"topic": "travel"}}])
    emu.script.generation("Ask your manager.")
    result = _agent(server, "qwen-plus").invoke({"messages": [HumanMessage("travel policy?")]})
    assert result["messages"][-1].content == "Ask your manager."
    first, second = (r.json["input"]["messages"] for r in emu.received("generation"))
    assert first[0]["content"][-1]["cache_control"] == MARK  # system prompt (with tools)
    assert first[-1]["content"][-1]["cache_control"] == MARK  # last message
    assert second[-1]["role"] == "tool" and second[-1]["content"][-1]["cache_control"] == MARK
    assert sum("cache_control" in str(m) for m in second) == 2  # the last turn's marker moved
    usage = result["messages"][-1].usage_metadata
    assert usage["input_token_details"]["cache_read"] > 0  # second call read the prefix


@pytest.mark.parametrize("model", ["qwen-plus", "deepseek-v3"])
def test_middleware_skips_short_prefixes_and_unsupported_models(
    server: ServerHandle, emu: Emulator, model: str
) -> None:
    emu.script.generation("ok")
    agent = create_agent(_chat(server, model), tools=[], system_prompt=LONG if model !=
                         "qwen-plus" else "Be brief.",
                         middleware=[DashScopePromptCachingMiddleware()])  # fmt: skip
    agent.invoke({"messages": [HumanMessage("hi")]})
    assert "cache_control" not in str(emu.received("generation")[0].json)


def test_middleware_unsupported_behavior_raise(server: ServerHandle, emu: Emulator) -> None:
    agent = _agent(server, "deepseek-v3", unsupported_model_behavior="raise")
    with pytest.raises(ValueError, match="explicit context cache"):
        agent.invoke({"messages": [HumanMessage("hi")]})
    with pytest.raises(ValueError, match="unsupported_model_behavior"):
        DashScopePromptCachingMiddleware(unsupported_model_behavior="sometimes")  # type: ignore[arg-type]
