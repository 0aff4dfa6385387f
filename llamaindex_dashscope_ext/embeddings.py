"""``DashScopeEmbedding``: DashScope text embeddings as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field

from llamaindex_dashscope_ext._clients import Connection

__all__ = ["DEFAULT_EMBEDDING_MODEL", "DashScopeEmbedding"]

DEFAULT_EMBEDDING_MODEL = "text-embedding-v4"
# text-embedding-v3/v4 accept 10 texts per request (PROTOCOL.md "Embeddings"); core splits
# larger lists anyway, so this only sets how LlamaIndex groups nodes.
DEFAULT_BATCH_SIZE = 10


class DashScopeEmbedding(BaseEmbedding, Connection):
    """DashScope text embeddings: queries as ``text_type="query"``, nodes as ``"document"``."""

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="Embedding model.")
    embed_batch_size: int = Field(default=DEFAULT_BATCH_SIZE, gt=0, description="Texts per call.")
    dimension: int | None = Field(default=None, gt=0, description="Vector size (v3/v4 only).")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra DashScope parameters sent with every call."
    )

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name=model_name, **kwargs)
        self._connect(http_client, async_http_client)

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialisation."""
        return "DashScopeEmbedding"

    def _params(self, texts: list[str], text_type: str) -> dict[str, Any]:
        return {**self.additional_kwargs, "model": self.model_name, "texts": texts,
                "text_type": text_type, "dimension": self.dimension}  # fmt: skip

    def _embed(self, texts: list[str], text_type: str) -> list[Embedding]:
        return self._client.embeddings.call(**self._params(texts, text_type)).embeddings

    async def _aembed(self, texts: list[str], text_type: str) -> list[Embedding]:
        client = self._async_client()
        return (await client.embeddings.call(**self._params(texts, text_type))).embeddings

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query], "query")[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed([query], "query"))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text], "document")[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed([text], "document"))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts, "document")

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(texts, "document")
