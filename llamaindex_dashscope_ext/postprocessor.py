"""``DashScopeRerank``: DashScope reranking (qwen3-rerank) as a LlamaIndex node postprocessor."""

from __future__ import annotations

from typing import Any

import httpx
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index_instrumentation import get_dispatcher

from dashscope_core import RerankResponse
from llamaindex_dashscope_ext._clients import Connection

__all__ = ["DEFAULT_RERANK_MODEL", "DashScopeRerank"]

dispatcher = get_dispatcher(__name__)
DEFAULT_RERANK_MODEL = "qwen3-rerank"


class DashScopeRerank(BaseNodePostprocessor, Connection):
    """Rerank retrieved nodes with DashScope: the ``top_n`` best, scores in ``NodeWithScore``.

    Emits LlamaIndex's ``ReRankStartEvent`` / ``ReRankEndEvent`` and a ``RERANKING`` callback
    event like its own rerankers; ``apostprocess_nodes`` is natively async. More than 500 nodes
    (or 120,000 tokens) are split into several requests by the core client and merged by score.
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="Rerank model.")
    top_n: int | None = Field(default=3, ge=1, description="Nodes to keep (None: all).")
    instruct: str | None = Field(default=None, description="Task instruction (qwen3-rerank).")

    def __init__(
        self,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._connect(http_client, async_http_client)

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialisation."""
        return "DashScopeRerank"

    def _kwargs(self, nodes: list[NodeWithScore], query: QueryBundle) -> dict[str, Any]:
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        return {"model": self.model, "query": query.query_str, "documents": texts,
                "top_n": self.top_n, "instruct": self.instruct}  # fmt: skip

    def _start(
        self, nodes: list[NodeWithScore], query: QueryBundle | None
    ) -> tuple[QueryBundle, dict[str, Any]]:
        dispatcher.event(ReRankStartEvent(query=query, nodes=nodes, model_name=self.model,
                                          top_n=self.top_n or len(nodes)))  # fmt: skip
        if query is None:
            raise ValueError("query_bundle: reranking needs the query (pass query_str=...)")
        payload: dict[str, Any] = {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query.query_str,
            EventPayload.TOP_K: self.top_n,
        }
        return query, payload

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, payload = self._start(nodes, query_bundle)
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            answer = self._client.rerank.call(**self._kwargs(nodes, query))
            return _end(nodes, answer, event)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query, payload = self._start(nodes, query_bundle)
        with self.callback_manager.event(CBEventType.RERANKING, payload=payload) as event:
            answer = await self._async_client().rerank.call(**self._kwargs(nodes, query))
            return _end(nodes, answer, event)


def _end(nodes: list[NodeWithScore], answer: RerankResponse, event: Any) -> list[NodeWithScore]:
    ranked = [NodeWithScore(node=nodes[r.index].node, score=r.relevance_score)
              for r in answer.results]  # fmt: skip
    event.on_end(payload={EventPayload.NODES: ranked})
    dispatcher.event(ReRankEndEvent(nodes=ranked))
    return ranked
