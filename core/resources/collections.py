"""Collections of models and the hardware list (PROTOCOL.md "Prediction API")."""

from __future__ import annotations

from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources.predictions import build_list
from dashscope_core.types.predictions import Collection, Page

__all__ = ["AsyncCollections", "Collections"]


def build_get(slug: str) -> RequestSpec:
    """GET /collections/{slug}."""
    return RequestSpec("GET", f"/collections/{check_segment(slug, argument='slug')}")


@response_parser
def parse_collection(raw: RawResponse) -> Collection:
    """A Collection with its models."""
    return Collection.model_validate_json(raw.content)


@response_parser
def parse_collections(raw: RawResponse) -> Page[Collection]:
    """A page of collections."""
    return Page[Collection].model_validate_json(raw.content)


class Collections(SyncNamespace):
    """Curated collections of models."""

    def get(self, slug: str) -> Collection:
        """One collection."""
        return parse_collection(self._client._send(build_get(slug)))

    def list(self, cursor: str | None = None) -> Page[Collection]:
        """One page of collections."""
        return parse_collections(self._client._send(build_list("/collections", cursor)))


class AsyncCollections(AsyncNamespace):
    """Async twin of ``Collections``."""

    async def get(self, slug: str) -> Collection:
        """One collection."""
        return parse_collection(await self._client._send(build_get(slug)))

    async def list(self, cursor: str | None = None) -> Page[Collection]:
        """One page of collections."""
        return parse_collections(await self._client._send(build_list("/collections", cursor)))
