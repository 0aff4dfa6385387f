"""Core clients for the LlamaIndex classes: the connection fields, one async client per loop."""

from __future__ import annotations

from typing import Any

import httpx
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, SecretStr

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._loop_clients import LoopClients

__all__ = ["AsyncClients", "Connection", "client_options"]


def client_options(owner: Any) -> dict[str, Any]:
    """Core client arguments from the fields of an LLM or embedding model."""
    key = owner.api_key.get_secret_value() if owner.api_key is not None else None
    names = ("base_url", "region", "workspace", "timeout", "max_retries", "default_headers")
    return {"api_key": key, **{name: getattr(owner, name) for name in names}}


class AsyncClients:
    """One ``AsyncDashScope`` per event loop (core ``LoopClients``), or one over a caller's
    ``http_client``: pooled connections cannot move between loops."""

    def __init__(
        self, options: dict[str, Any], http_client: httpx.AsyncClient | None = None
    ) -> None:
        self._options = options
        self._by_loop = LoopClients(lambda: AsyncDashScope(**options))
        self._http_client = http_client
        self._shared: AsyncDashScope | None = None

    def get(self) -> AsyncDashScope:
        """The client for the running loop (or the one over the caller's ``http_client``)."""
        if self._http_client is not None:
            if self._shared is None:
                self._shared = AsyncDashScope(http_client=self._http_client, **self._options)
            return self._shared
        return self._by_loop.get()

    async def close_current(self) -> None:
        """Close and forget the running loop's client."""
        await self._by_loop.aclose_current()


class Connection(BaseModel):
    """Mixin: where and as whom to call DashScope (fields), and the core clients built from them."""

    timeout: float | None = Field(default=None, gt=0.0, description="Request timeout (seconds).")
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    base_url: str | None = Field(default=None, description="API base URL (default: region's).")
    region: str | None = Field(default=None, description="cn-beijing, ap-southeast-1, ...")
    workspace: str | None = Field(default=None, description="X-DashScope-WorkSpace id.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="Default: env DASHSCOPE_API_KEY."
    )
    default_headers: dict[str, str] | None = Field(default=None, description="Extra headers.")

    _client: DashScope = PrivateAttr()
    _aclients: AsyncClients = PrivateAttr()

    def _connect(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """Build the sync client and the per-loop async clients from the fields."""
        options = client_options(self)
        self._client = DashScope(http_client=http_client, **options)
        self._aclients = AsyncClients(options, async_http_client)

    def _async_client(self) -> AsyncDashScope:
        return self._aclients.get()

    def close(self) -> None:
        """Close the sync client's connections (custom ``http_client``s are left open)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the async client of the running event loop."""
        await self._aclients.close_current()
