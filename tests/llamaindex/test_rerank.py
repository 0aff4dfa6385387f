"""LlamaIndex ``DashScopeRerank``: a node postprocessor over the emulator, sync and async,
with LlamaIndex's rerank instrumentation events."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeRerank

from .conftest import FAKE_KEY, Events

NODES = [
    NodeWithScore(node=TextNode(text="Bananas are yellow fruit.", id_="a"), score=0.9),
    NodeWithScore(node=TextNode(text="Paris is the capital of France.", id_="b"), score=0.2),
    NodeWithScore(node=TextNode(text="France borders Spain.", id_="c"), score=0.5),
]


def test_postprocess_sync_and_async_with_events(
    li_server: ServerHandle, emu: Emulator, mode: str, events: Events
) -> None:
    reranker = DashScopeRerank(api_key=FAKE_KEY, base_url=li_server.base_url, top_n=2)
    query = QueryBundle("capital of France")
    if mode == "sync":
        ranked = reranker.postprocess_nodes(NODES, query_bundle=query)
    else:
        ranked = asyncio.run(reranker.apostprocess_nodes(NODES, query_str="capital of France"))
    assert [n.node.node_id for n in ranked] == ["b", "c"]
    assert ranked[0].score is not None and ranked[0].score > (ranked[1].score or 0)
    assert NODES[1].score == 0.2  # the caller's nodes keep their scores
    start, end = events.of(ReRankStartEvent, ReRankEndEvent)
    assert isinstance(start, ReRankStartEvent) and start.model_name == "qwen3-rerank"
    assert start.top_n == 2 and isinstance(end, ReRankEndEvent) and end.nodes == ranked
    [sent] = emu.received("rerank")
    assert sent.json["input"]["documents"][1] == "Paris is the capital of France."


def test_in_a_query_engine(li_server: ServerHandle, emu: Emulator, li_settings: None) -> None:
    from llama_index.core import Document, VectorStoreIndex

    docs = [Document(text=n.node.get_content()) for n in NODES]
    reranker = DashScopeRerank(api_key=FAKE_KEY, base_url=li_server.base_url, top_n=1)
    engine = VectorStoreIndex.from_documents(docs).as_query_engine(
        similarity_top_k=3, node_postprocessors=[reranker]
    )
    response = engine.query("capital of France")
    assert [n.node.get_content() for n in response.source_nodes] == [
        "Paris is the capital of France."
    ]
    assert len(emu.received("rerank")) == 1


def test_missing_query_and_empty_nodes(li_server: ServerHandle, emu: Emulator) -> None:
    reranker = DashScopeRerank(api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(ValueError, match="query"):
        reranker.postprocess_nodes(NODES)
    assert reranker.postprocess_nodes([], query_str="q") == []
    assert emu.received("rerank") == []
    assert FAKE_KEY not in repr(reranker) and FAKE_KEY not in str(reranker.to_dict())
