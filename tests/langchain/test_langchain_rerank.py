"""LangChain ``DashScopeRerank``: a document compressor over the emulator, sync and async."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.documents import Document

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import NotFoundError
from langchain_dashscope_ext import DashScopeRerank

KEY = "sk-test-langchain"
DOCS = [
    Document(page_content="Bananas are yellow fruit.", metadata={"id": "a"}),
    Document(page_content="Paris is the capital of France.", metadata={"id": "b"}),
    Document(page_content="France borders Spain and Italy.", metadata={"id": "c"}),
]


def _reranker(server: ServerHandle, **fields: object) -> DashScopeRerank:
    return DashScopeRerank(api_key=KEY, base_url=server.base_url, max_retries=0, **fields)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_compress_documents_keeps_top_n_best_first(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    reranker = _reranker(server, top_n=2, instruct="Retrieve passages that answer the query.")
    query = "capital of France"
    if mode == "sync":
        ranked = reranker.compress_documents(DOCS, query)
    else:
        ranked = asyncio.run(reranker.acompress_documents(DOCS, query))
    assert [d.metadata["id"] for d in ranked] == ["b", "c"]
    assert ranked[0].metadata["relevance_score"] > ranked[1].metadata["relevance_score"]
    assert "relevance_score" not in DOCS[1].metadata  # the caller's documents are not changed
    [sent] = emu.received("rerank")
    assert sent.json["model"] == "qwen3-rerank"
    assert sent.json["parameters"] == {
        "top_n": 2,
        "instruct": "Retrieve passages that answer the query.",
    }


def test_rerank_scores_and_empty_input(server: ServerHandle, emu: Emulator) -> None:
    reranker = _reranker(server, top_n=None)
    scores = reranker.rerank(["capital of France", "nothing"], "capital of France")
    assert [s["index"] for s in scores] == [0, 1]
    assert reranker.compress_documents([], "q") == []
    assert len(emu.received("rerank")) == 1


def test_errors_are_typed(server: ServerHandle, emu: Emulator) -> None:
    with pytest.raises(NotFoundError):
        _reranker(server, model="gte-rerank").compress_documents(DOCS, "q")


def test_key_is_secret(server: ServerHandle) -> None:
    reranker = _reranker(server)
    assert KEY not in repr(reranker) and KEY not in str(reranker.model_dump())
