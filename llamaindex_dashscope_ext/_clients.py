"""Core clients for the LlamaIndex classes: options from their fields, one async client per loop."""

from __future__ import annotations

from typing import Any

import httpx

from dashscope_core import AsyncDashScope
from dashscope_core._loop_clients import LoopClients

__all__ = ["AsyncClients", "client_options"]


def client_options(owner: Any) -> dict[str, Any]:
    """Core client arguments from the fields of an LLM or embedding model."""
    key = owner.api_key.get_secret_value() if owner.api_key is not None else None
    names = ("base_url", "region", "workspace", "timeout", "max_retries", "default_headers")
    return {"api_key": key, **{name: getattr(owner, name) for name in names}}


class AsyncClients:
    """One ``AsyncDashScope`` per event loop (core ``LoopClients``), or one over a caller's
    ``http_client``: pooled connections cannot move between loops."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        self._by_loop = LoopClients(lambda: AsyncDashScope(**options))
        self._shared: AsyncDashScope | None = None

    def get(self, http_client: httpx.AsyncClient | None = None) -> AsyncDashScope:
        """The client for the running loop (or the one over a caller's ``http_client``)."""
        if http_client is not None:
            if self._shared is None:
                self._shared = AsyncDashScope(http_client=http_client, **self._options)
            return self._shared
        return self._by_loop.get()

    async def close_current(self) -> None:
        """Close and forget the running loop's client."""
        await self._by_loop.aclose_current()
