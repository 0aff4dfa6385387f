"""``GenClient``: a sync or async client on the emulator behind one interface (shared by
tests/core; the interface is ``_twin.Twin``'s)."""

from __future__ import annotations

from typing import Any

from _twin import Twin

GEN_API_KEY = "sk-generation-tests"


class GenClient(Twin):
    """A sync or async client on ``base_url``: ``run`` awaits when needed."""

    def __init__(self, mode: str, base_url: str, api_key: str = GEN_API_KEY, **options: Any):
        super().__init__(mode, api_key=api_key, base_url=base_url, **options)

    def derive(self, api_key: str = GEN_API_KEY, **options: Any) -> GenClient:
        """Another wrapper of the same mode with another key or client options (close it)."""
        return GenClient(self.mode, self.client.base_url, api_key, **options)
