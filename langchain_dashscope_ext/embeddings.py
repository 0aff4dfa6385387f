"""``DashScopeEmbeddings``: text embeddings over the core client's ``embeddings`` namespace."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import AliasChoices, ConfigDict, Field, model_validator

from langchain_dashscope_ext._common import DashScopeSettings
from langchain_dashscope_ext._params import build_extra

__all__ = ["DashScopeEmbeddings"]


class DashScopeEmbeddings(DashScopeSettings, Embeddings):
    """DashScope text embeddings (``text-embedding-v4`` by default); batching is done by core.

    ``embed_documents`` sends ``text_type="document"``, ``embed_query`` ``text_type="query"``
    (DashScope tunes the vectors for asymmetric retrieval). ``dimension`` picks the output size
    (v3/v4: 64-1024, v4 also 1536/2048; default 1024).
    """

    model_config = ConfigDict(populate_by_name=True)

    model: str = Field(
        default="text-embedding-v4", validation_alias=AliasChoices("model", "model_name")
    )
    """Embedding model: ``text-embedding-v4`` (default), ``text-embedding-v3``, v2, v1."""
    dimension: int | None = Field(default=None, ge=1)
    """Vector size (None: the model's default)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other ``parameters`` to send (e.g. ``output_type``)."""

    @model_validator(mode="before")
    @classmethod
    def _build_extra(cls, values: Any) -> Any:
        return build_extra(cls, values)

    def _params(self, text_type: str) -> dict[str, Any]:
        return {"model": self.model, "text_type": text_type, "dimension": self.dimension,
                **self.model_kwargs}  # fmt: skip

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents (``text_type="document"``); vectors in input order."""
        if not texts:
            return []
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
        call = self.async_client.embeddings.call
        return (await call(texts=texts, **self._params("document"))).embeddings

    async def aembed_query(self, text: str) -> list[float]:
        """Embed a search query asynchronously."""
        call = self.async_client.embeddings.call
        return (await call(texts=[text], **self._params("query"))).embeddings[0]
