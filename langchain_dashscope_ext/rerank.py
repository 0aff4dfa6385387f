"""``DashScopeRerank``: DashScope reranking (qwen3-rerank) as a LangChain document compressor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field

from dashscope_core import RerankResponse
from langchain_dashscope_ext._common import DashScopeSettings

__all__ = ["DashScopeRerank"]


class DashScopeRerank(DashScopeSettings, BaseDocumentCompressor):
    """Rerank retrieved documents with DashScope (``qwen3-rerank`` by default), sync and async.

    Returns the ``top_n`` most relevant documents, best first, each a copy with
    ``metadata["relevance_score"]``. More than 500 documents (or 120,000 tokens) are split into
    several requests by the core client and merged by score.
    """

    model: str = "qwen3-rerank"
    """Rerank model (``qwen3-rerank``, ``gte-rerank-v2``, ``qwen3-vl-rerank``)."""
    top_n: int | None = Field(default=3, ge=1)
    """Documents to keep; None keeps all, reordered."""
    instruct: str | None = None
    """Task instruction (qwen3-rerank), e.g. "Retrieve semantically similar text."."""

    def _kwargs(self, documents: Sequence[Document], query: str, top_n: int | None) -> Any:
        texts = [d.page_content for d in documents]
        return {"model": self.model, "query": query, "documents": texts, "top_n": top_n,
                "instruct": self.instruct}  # fmt: skip

    def rerank(
        self, documents: Sequence[str | Document], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """``[{"index", "relevance_score"}]`` best first (``top_n=-1``: the field's value)."""
        docs = [d if isinstance(d, Document) else Document(page_content=d) for d in documents]
        n = self.top_n if top_n == -1 else top_n
        return _scores(self.client.rerank.call(**self._kwargs(docs, query, n)))

    async def arerank(
        self, documents: Sequence[str | Document], query: str, *, top_n: int | None = -1
    ) -> list[dict[str, Any]]:
        """Async ``rerank``."""
        docs = [d if isinstance(d, Document) else Document(page_content=d) for d in documents]
        n = self.top_n if top_n == -1 else top_n
        return _scores(await self.async_client.rerank.call(**self._kwargs(docs, query, n)))

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The ``top_n`` most relevant documents, best first, with their relevance score."""
        answer = self.client.rerank.call(**self._kwargs(documents, query, self.top_n))
        return _scored(documents, answer)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Async ``compress_documents`` (split requests go out concurrently)."""
        answer = await self.async_client.rerank.call(**self._kwargs(documents, query, self.top_n))
        return _scored(documents, answer)


def _scores(answer: RerankResponse) -> list[dict[str, Any]]:
    return [{"index": r.index, "relevance_score": r.relevance_score} for r in answer.results]


def _scored(documents: Sequence[Document], answer: RerankResponse) -> list[Document]:
    """Copies of the ranked documents (the caller's are not changed), score in metadata."""
    ranked = []
    for result in answer.results:
        doc = documents[result.index]
        metadata = {**doc.metadata, "relevance_score": result.relevance_score}
        ranked.append(doc.model_copy(update={"metadata": metadata}))
    return ranked
