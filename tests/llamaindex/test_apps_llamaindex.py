"""DashScopeAppLLM and DashScopeAppRetriever against the emulator (loopback)."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import AuthenticationError, BadRequestError, IncompleteStreamError
from llamaindex_dashscope_ext import DashScopeAppLLM, DashScopeAppRetriever

APP = "demo-rag-app"
KEY = "sk-llamaindex-apps"


@pytest.fixture
def opts(server: ServerHandle, emu: Emulator) -> dict[str, Any]:
    return {"app_id": APP, "api_key": KEY, "base_url": server.base_url, "max_retries": 0}


def _user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def test_three_turns_by_session_id(opts: dict[str, Any], emu: Emulator) -> None:
    llm = DashScopeAppLLM(**opts)
    first = llm.chat([_user("How do I pair the lamp?")])
    sid = first.additional_kwargs["session_id"]
    llm.chat([_user("earlier"), _user("How long is the warranty?")], session_id=sid)
    third = DashScopeAppLLM(**opts, session_id=sid).complete("What did I ask first?")
    assert "How do I pair the lamp?" in third.text
    assert emu.received("apps")[1].json["input"] == {"prompt": "How long is the warranty?",
                                                     "session_id": sid}  # fmt: skip


async def test_three_turns_by_history_async(opts: dict[str, Any]) -> None:
    llm = DashScopeAppLLM(**opts)
    history = [ChatMessage(role=MessageRole.SYSTEM, content="You help with Aurora lamps.")]
    for question in ["My name is Carol.", "How do I reset the lamp?", "What is my name?"]:
        history.append(_user(question))
        history.append((await llm.achat(history)).message)
    assert "Carol" in (history[-1].content or "")


def test_chat_engine_keeps_history(opts: dict[str, Any]) -> None:
    engine = SimpleChatEngine.from_defaults(llm=DashScopeAppLLM(**opts))
    engine.chat("What is the return policy?")
    engine.chat("How long is the warranty?")
    assert "What is the return policy?" in str(engine.chat("What did I ask first?"))


def test_citations_thoughts_usage_and_token_counting(opts: dict[str, Any]) -> None:
    counter = TokenCountingHandler()
    llm = DashScopeAppLLM(**opts, callback_manager=CallbackManager([counter]))
    plain = llm.chat([_user("How long is the warranty?")])
    refs = plain.additional_kwargs["doc_references"]
    assert refs[0]["doc_id"] == "doc_aurora_warranty" and plain.additional_kwargs["thoughts"] == []
    assert plain.raw and plain.raw["output"]["doc_references"] == refs
    assert counter.prompt_llm_token_count == plain.additional_kwargs["prompt_tokens"] > 0
    assert counter.completion_llm_token_count == plain.additional_kwargs["completion_tokens"] > 0
    thoughtful = llm.chat([_user("How long is the warranty?")], has_thoughts=True)
    assert thoughtful.additional_kwargs["thoughts"][0]["action"] == "rag"


def test_rag_options_narrow(opts: dict[str, Any]) -> None:
    llm = DashScopeAppLLM(**opts, rag_options={"tags": ["specs"]})
    answer = llm.complete("lamp battery warranty reset pair return")
    assert {d["doc_id"] for d in answer.additional_kwargs["doc_references"]} == {"doc_aurora_specs"}


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_deltas_join_to_the_answer(opts: dict[str, Any], mode: str) -> None:
    llm = DashScopeAppLLM(**opts, has_thoughts=True)
    question = [_user("How do I reset the lamp?")]
    whole = llm.chat(question)
    if mode == "sync":
        responses = list(llm.stream_chat(question))
    else:
        responses = [r async for r in await llm.astream_chat(question)]
    assert "".join(r.delta or "" for r in responses) == whole.message.content
    assert responses[-1].message.content == whole.message.content
    last = responses[-1].additional_kwargs
    assert last["doc_references"] == whole.additional_kwargs["doc_references"]
    assert last["thoughts"] == whole.additional_kwargs["thoughts"]
    assert all(not r.additional_kwargs for r in responses[:-1])
    completions = list(llm.stream_complete("How do I reset the lamp?"))
    assert completions[-1].text == whole.message.content


async def test_async_complete_and_errors(opts: dict[str, Any], emu: Emulator) -> None:
    llm = DashScopeAppLLM(**opts)
    assert "2-year" in (await llm.acomplete("How long is the warranty?")).text
    with pytest.raises(BadRequestError):
        DashScopeAppLLM(**{**opts, "app_id": "missing-app"}).complete("hi")
    with pytest.raises(AuthenticationError):
        await DashScopeAppLLM(**{**opts, "api_key": "sk-invalid-2"}).acomplete("hi")
    emu.faults.queue("missing_final", route="apps")
    with pytest.raises(IncompleteStreamError):
        list(llm.stream_complete("How do I pair the lamp?"))


def test_key_never_leaks(opts: dict[str, Any]) -> None:
    llm = DashScopeAppLLM(**opts)
    assert KEY not in repr(llm) and KEY not in str(llm.to_dict()) and KEY not in llm.to_json()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_retriever_under_a_query_engine(opts: dict[str, Any], mode: str) -> None:
    policies = {"pipeline_ids": ["aurora-policies"]}
    retriever = DashScopeAppRetriever(APP, api_key=KEY, base_url=opts["base_url"],
                                      rag_options=policies)  # fmt: skip
    assert KEY not in repr(retriever)
    engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM())
    question = "What does the warranty cover?"
    response = engine.query(question) if mode == "sync" else await engine.aquery(question)
    nodes = response.source_nodes
    assert nodes and nodes[0].node.metadata["doc_id"] == "doc_aurora_warranty"
    assert [n.score for n in nodes] == [1.0 / r for r in range(1, len(nodes) + 1)]
    assert "warranty" in nodes[0].node.get_content().lower()
    assert "<ref>[1]</ref>" in nodes[0].node.metadata["answer"]


def test_retriever_rejects_unknown_options() -> None:
    with pytest.raises(TypeError, match="unknown arguments"):
        DashScopeAppRetriever(APP, api_key=KEY, top_k=3)
