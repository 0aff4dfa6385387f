"""``DashScopeEmbedding``: DashScope text embeddings as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field

from dashscope_core import BatchJob
from llamaindex_dashscope_ext._clients import Connection

__all__ = ["DEFAULT_EMBEDDING_MODEL", "DashScopeEmbedding"]

DEFAULT_EMBEDDING_MODEL = "text-embedding-v4"
# text-embedding-v3/v4 accept 10 texts per request (PROTOCOL.md "Embeddings"); core splits
# larger lists anyway, so this only sets how LlamaIndex groups nodes.
DEFAULT_BATCH_SIZE = 10
# With the Batch API one job should take a whole ingestion run: LlamaIndex hands
# _get_text_embeddings at most embed_batch_size texts at a time.
BATCH_API_BATCH_SIZE = 1_000_000


class DashScopeEmbedding(BaseEmbedding, Connection):
    """DashScope text embeddings: queries as ``text_type="query"``, nodes as ``"document"``.

    ``use_batch_api=True`` (corpus ingestion): node texts go through one DashScope batch job per
    ``get_text_embedding_batch`` call (half the price; minutes to hours), ``embed_batch_size``
    defaults to a size that keeps an ingestion run in one job, and ``batch_progress(job)`` is
    called after each poll; queries stay real-time.
    """

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="Embedding model.")
    embed_batch_size: int = Field(default=DEFAULT_BATCH_SIZE, gt=0, description="Texts per call.")
    dimension: int | None = Field(default=None, gt=0, description="Vector size (v3/v4 only).")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra DashScope parameters sent with every call."
    )
    use_batch_api: bool = Field(default=False, description="Embed texts through the Batch API.")
    batch_poll_interval: float = Field(default=10.0, ge=0, description="Seconds between polls.")
    batch_timeout: float | None = Field(default=None, gt=0, description="Longest batch wait.")
    batch_progress: Callable[[BatchJob], Any] | None = Field(
        default=None, exclude=True, description="Called with the BatchJob after each poll."
    )

    def __init__(
        self,
        model_name: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("use_batch_api"):
            kwargs.setdefault("embed_batch_size", BATCH_API_BATCH_SIZE)
        model = kwargs.pop("model", None)  # DashScopeLLM's (and LangChain's) name for it
        if model is not None and model_name is not None and model != model_name:
            raise ValueError(f"model_name: given twice, as {model_name!r} and model={model!r}")
        super().__init__(model_name=model_name or model or DEFAULT_EMBEDDING_MODEL, **kwargs)
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

    def _batch_args(self) -> dict[str, Any]:
        return {"model": self.model_name, "dimension": self.dimension,
                "progress": self.batch_progress, "interval": self.batch_poll_interval,
                "timeout": self.batch_timeout}  # fmt: skip

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if self.use_batch_api:
            return self._client.batches.embed(texts, **self._batch_args())
        return self._embed(texts, "document")

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        if self.use_batch_api:
            return await self._async_client().batches.embed(texts, **self._batch_args())
        return await self._aembed(texts, "document")
