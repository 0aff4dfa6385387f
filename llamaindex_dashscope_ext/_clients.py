"""Core clients for the LlamaIndex classes: options from their fields, one async client per loop."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import httpx

from dashscope_core import AsyncDashScope

__all__ = ["AsyncClients", "client_options"]


def client_options(owner: Any) -> dict[str, Any]:
    """Core client arguments from the fields of an LLM or embedding model."""
    key = owner.api_key.get_secret_value() if owner.api_key is not None else None
    names = ("base_url", "region", "workspace", "timeout", "max_retries", "default_headers")
    return {"api_key": key, **{name: getattr(owner, name) for name in names}}


class AsyncClients:
    """One ``AsyncDashScope`` per event loop: pooled connections cannot move between loops."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncDashScope] = (
            weakref.WeakKeyDictionary()
        )
        self._shared: AsyncDashScope | None = None

    def get(self, http_client: httpx.AsyncClient | None = None) -> AsyncDashScope:
        """The client for the running loop (or the one over a caller's ``http_client``)."""
        if http_client is not None:
            if self._shared is None:
                self._shared = AsyncDashScope(http_client=http_client, **self._options)
            return self._shared
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        if client is None:
            client = self._by_loop[loop] = AsyncDashScope(**self._options)
        return client

    async def close_current(self) -> None:
        """Close and forget the running loop's client."""
        client = self._by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()
