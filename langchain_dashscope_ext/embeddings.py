"""``DashScopeEmbeddings``: text embeddings over the core client's ``embeddings`` namespace."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import AliasChoices, ConfigDict, Field, model_validator

from dashscope_core import BatchJob
from langchain_dashscope_ext._common import DashScopeSettings
from langchain_dashscope_ext._params import build_extra

__all__ = ["DashScopeEmbeddings"]


class DashScopeEmbeddings(DashScopeSettings, Embeddings):
    """DashScope text embeddings (``text-embedding-v4`` by default); batching is done by core.

    ``embed_documents`` sends ``text_type="document"``, ``embed_query`` ``text_type="query"``
    (DashScope tunes the vectors for asymmetric retrieval). ``dimension`` picks the output size
    (v3/v4: 64-1024, v4 also 1536/2048; default 1024).

    ``use_batch_api=True``: ``embed_documents`` goes through one DashScope batch job (half the
    price; minutes to hours) and waits for it, calling ``batch_progress(job)`` after each poll;
    queries stay real-time.
    """

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(
        default="text-embedding-v4", validation_alias=AliasChoices("model", "model_name")
    )
    """Embedding model: ``text-embedding-v4`` (default), ``text-embedding-v3``, v2, v1."""
    dimension: int | None = Field(default=None, ge=1)
    """Vector size (None: the model's default)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other ``parameters`` to send (e.g. ``output_type``; real-time calls only)."""
    use_batch_api: bool = False
    """Embed documents through the Batch API (half price, results in minutes to hours)."""
    batch_poll_interval: float = Field(default=10.0, ge=0)
    """Seconds between looks at a running batch job."""
    batch_timeout: float | None = Field(default=None, gt=0)
    """Longest wait for a batch job (``WaitTimeoutError`` after it; the job keeps running)."""
    batch_progress: Callable[[BatchJob], Any] | None = Field(default=None, exclude=True)
    """Called with the ``BatchJob`` (its ``request_counts``) after each poll."""

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        return build_extra(cls, values)

    def _params(self, text_type: str) -> dict[str, Any]:
        return {"model": self.model, "text_type": text_type, "dimension": self.dimension,
                **self.model_kwargs}  # fmt: skip

    def _batch_args(self) -> dict[str, Any]:
        return {"model": self.model, "dimension": self.dimension, "progress": self.batch_progress,
                "interval": self.batch_poll_interval, "timeout": self.batch_timeout}  # fmt: skip

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (``text_type="document"``); vectors in input order."""
        if not texts:
            return []
        if self.use_batch_api:
            return self.client.batches.embed(texts, **self._batch_args())
        response = self.client.embeddings.call(texts=texts, **self._params("document"))
        return response.embeddings

    def embed_query(self, text: str) -> list[float]:
        """Embed a search query (``text_type="query"``)."""
        response = self.client.embeddings.call(texts=[text], **self._params("query"))
        return response.embeddings[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents asynchronously (batches are sent concurrently by core)."""
        if not texts:
            return []
        if self.use_batch_api:
            return await self.async_client.batches.embed(texts, **self._batch_args())
        call = self.async_client.embeddings.call
        return (await call(texts=texts, **self._params("document"))).embeddings

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a search query asynchronously."""
        call = self.async_client.embeddings.call
        return (await call(texts=[text], **self._params("query"))).embeddings[0]
