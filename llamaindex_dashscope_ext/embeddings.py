"""``DashScopeEmbedding``: DashScope text embeddings as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr

from dashscope_core import DashScope
from llamaindex_dashscope_ext._clients import AsyncClients, client_options

__all__ = ["DEFAULT_EMBEDDING_MODEL", "DashScopeEmbedding"]

DEFAULT_EMBEDDING_MODEL = "text-embedding-v4"
# text-embedding-v3/v4 accept 10 texts per request (PROTOCOL.md "Embeddings"); core splits
# larger lists anyway, so this only sets how LlamaIndex groups nodes.
DEFAULT_BATCH_SIZE = 10


class DashScopeEmbedding(BaseEmbedding):
    """DashScope text embeddings: queries as ``text_type="query"``, nodes as ``"document"``."""

    model_name: str = Field(default=DEFAULT_EMBEDDING_MODEL, description="Embedding model.")
    embed_batch_size: int = Field(default=DEFAULT_BATCH_SIZE, gt=0, description="Texts per call.")
    dimension: int | None = Field(default=None, gt=0, description="Vector size (v3/v4 only).")
    timeout: float | None = Field(default=None, gt=0.0, description="Request timeout (seconds).")
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    base_url: str | None = Field(default=None, description="API base URL (default: region's).")
    region: str | None = Field(default=None, description="cn-beijing, ap-southeast-1, ...")
    workspace: str | None = Field(default=None, description="X-DashScope-WorkSpace id.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="Default: env DASHSCOPE_API_KEY."
    )
    default_headers: dict[str, str] | None = Field(default=None, description="Extra headers.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra DashScope parameters sent with every call."
    )

    _client: DashScope = PrivateAttr()
    _aclients: AsyncClients = PrivateAttr()
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name=model_name, **kwargs)
        options = client_options(self)
        self._client = DashScope(http_client=http_client, **options)
        self._aclients = AsyncClients(options)
        self._async_http_client = async_http_client

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
        client = self._aclients.get(self._async_http_client)
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

    def close(self) -> None:
        """Close the sync client's connections."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the async client of the running event loop."""
        await self._aclients.close_current()
