"""Base classes of the namespace twins: they only hold the client."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope


class SyncNamespace:
    """A group of calls on a ``DashScope`` client."""

    def __init__(self, client: DashScope) -> None:
        self._client = client


class AsyncNamespace:
    """A group of calls on an ``AsyncDashScope`` client."""

    def __init__(self, client: AsyncDashScope) -> None:
        self._client = client
