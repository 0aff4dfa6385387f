"""ChatDashScopeApp, DashScopeAppRetriever and DashScopeAppTool against the emulator (loopback)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.tools import ToolException

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import AuthenticationError, BadRequestError, IncompleteStreamError
from langchain_dashscope_ext import ChatDashScopeApp, DashScopeAppRetriever, DashScopeAppTool

APP = "demo-rag-app"
KEY = "sk-langchain-apps"


@pytest.fixture
def opts(server: ServerHandle, emu: Emulator) -> dict[str, Any]:
    return {"app_id": APP, "api_key": KEY, "base_url": server.base_url, "max_retries": 0}


def test_three_turns_by_server_session(opts: dict[str, Any], emu: Emulator) -> None:
    chat = ChatDashScopeApp(**opts)
    first = chat.invoke("How do I pair the lamp?")
    sid = first.response_metadata["session_id"]
    bound = chat.bind(session_id=sid)
    bound.invoke([HumanMessage("ignored earlier turn"), HumanMessage("How long is the warranty?")])
    third = ChatDashScopeApp(**opts, session_id=sid).invoke("What did I ask first?")
    assert "How do I pair the lamp?" in third.content
    assert third.response_metadata["session_id"] == sid
    sent = [r.json["input"] for r in emu.received("apps")]
    assert sent[1] == {"prompt": "How long is the warranty?", "session_id": sid}


async def test_three_turns_by_client_history_async(opts: dict[str, Any], emu: Emulator) -> None:
    chat = ChatDashScopeApp(**opts)
    history: list[Any] = [SystemMessage("You are the Aurora assistant.")]
    for question in ["My name is Bob.", "How do I reset the lamp?", "What is my name?"]:
        history.append(HumanMessage(question))
        history.append(await chat.ainvoke(history))
    assert "Bob" in history[-1].content
    wire = emu.received("apps")[-1].json["input"]["messages"]
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "user", "assistant", "user"]


def test_runnable_with_message_history(opts: dict[str, Any]) -> None:
    stores: dict[str, InMemoryChatMessageHistory] = {}
    prompt = ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | ChatDashScopeApp(**opts),
        lambda sid: stores.setdefault(sid, InMemoryChatMessageHistory()),
        input_messages_key="question",
        history_messages_key="history",
    )
    config: Any = {"configurable": {"session_id": "user-1"}}
    chain.invoke({"question": "What is the return policy?"}, config=config)
    chain.invoke({"question": "How long is the warranty?"}, config=config)
    third = chain.invoke({"question": "What did I ask first?"}, config=config)
    assert "What is the return policy?" in third.content
    assert len(stores["user-1"].messages) == 6


def test_citations_thoughts_and_usage_in_metadata(opts: dict[str, Any]) -> None:
    plain = ChatDashScopeApp(**opts).invoke("How long is the warranty?")
    assert plain.response_metadata["thoughts"] == []
    refs = plain.response_metadata["doc_references"]
    assert refs[0]["doc_id"] == "doc_aurora_warranty" and "<ref>[1]</ref>" in plain.content
    assert plain.usage_metadata and plain.usage_metadata["total_tokens"] > 0
    thoughtful = ChatDashScopeApp(**opts, has_thoughts=True).invoke("How long is the warranty?")
    assert thoughtful.response_metadata["thoughts"][0]["action_type"] == "agentRag"


def test_rag_options_field_and_per_call(opts: dict[str, Any]) -> None:
    question = "lamp battery warranty reset pair return"
    chat = ChatDashScopeApp(**opts, rag_options={"pipeline_ids": ["aurora-policies"]})
    docs = {d["doc_id"] for d in chat.invoke(question).response_metadata["doc_references"]}
    assert docs and docs <= {"doc_aurora_warranty", "doc_aurora_returns"}
    narrowed = chat.invoke(question, rag_options={"tags": ["specs"]})
    assert {d["doc_id"] for d in narrowed.response_metadata["doc_references"]} == {
        "doc_aurora_specs"
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_deltas_join_to_the_answer(opts: dict[str, Any], mode: str) -> None:
    chat = ChatDashScopeApp(**opts, has_thoughts=True)
    question = "How do I reset the lamp?"
    whole = chat.invoke(question)
    if mode == "sync":
        chunks = list(chat.stream(question))
    else:
        chunks = [c async for c in chat.astream(question)]
    # mid-stream chunks carry only the provider (merge-safe; it selects the block translator)
    provider = {"model_provider": "dashscope"}
    assert len(chunks) > 2 and all(c.response_metadata == provider for c in chunks[:-1])
    joined = chunks[0]
    for chunk in chunks[1:]:
        joined = joined + chunk
    assert joined.content == whole.content
    meta = chunks[-1].response_metadata
    assert meta["doc_references"] == whole.response_metadata["doc_references"]
    assert meta["thoughts"] == whole.response_metadata["thoughts"]
    assert joined.usage_metadata == whole.usage_metadata


def test_streaming_field_and_errors(opts: dict[str, Any], emu: Emulator) -> None:
    reply = ChatDashScopeApp(**opts, streaming=True).invoke("How do I pair the lamp?")
    assert isinstance(reply, AIMessage) and reply.response_metadata["session_id"]
    with pytest.raises(BadRequestError):
        ChatDashScopeApp(**{**opts, "app_id": "missing-app"}).invoke("hi")
    with pytest.raises(AuthenticationError):
        ChatDashScopeApp(**{**opts, "api_key": "sk-invalid-1"}).invoke("hi")
    emu.faults.queue("missing_final", route="apps")
    with pytest.raises(IncompleteStreamError):
        list(ChatDashScopeApp(**opts).stream("How do I pair the lamp?"))


def test_key_never_leaks(opts: dict[str, Any]) -> None:
    chat = ChatDashScopeApp(**opts)
    assert KEY not in repr(chat) and KEY not in dumps(chat)
    assert chat.lc_secrets == {"api_key": "DASHSCOPE_API_KEY"}
    assert chat._get_ls_params()["ls_provider"] == "dashscope"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_retriever_returns_cited_passages(opts: dict[str, Any], mode: str) -> None:
    retriever = DashScopeAppRetriever(**opts)
    question = "What does the warranty cover?"
    if mode == "sync":
        docs = retriever.invoke(question)
    else:
        docs = await retriever.ainvoke(question)
    assert docs and docs[0].metadata["doc_id"] == "doc_aurora_warranty"
    assert docs[0].metadata["index_id"] == "1" and "warranty" in docs[0].page_content.lower()
    assert "<ref>[1]</ref>" in docs[0].metadata["answer"]
    assert {"doc_name", "title", "images"} <= set(docs[0].metadata)


async def test_tool_keeps_its_session_and_lists_sources(opts: dict[str, Any]) -> None:
    tool = DashScopeAppTool(**opts, name="aurora_docs", description="Aurora lamp docs",
                            keep_session=True)  # fmt: skip
    answer = tool.invoke("What is the return policy?")
    assert "\n\nSources:\n[1] Returns and refunds (Aurora Returns" in answer
    follow = await tool.ainvoke({"query": "What did I ask first?"})
    assert "What is the return policy?" in follow and tool.session_id
    fresh = DashScopeAppTool(**opts).invoke("What did I ask first?")
    assert "first question in this conversation" in fresh


def test_tool_errors_are_tool_exceptions(opts: dict[str, Any]) -> None:
    tool = DashScopeAppTool(**{**opts, "app_id": "missing-app"})
    with pytest.raises(ToolException, match="missing-app"):
        tool.invoke("hi")
