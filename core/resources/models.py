"""Models and their versions (PROTOCOL.md "Prediction API")."""

from __future__ import annotations

from typing import Any

from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources.predictions import build_list
from dashscope_core.types.predictions import Model, Page, Version

__all__ = ["AsyncModels", "AsyncVersions", "Models", "Versions"]

VISIBILITIES = frozenset({"public", "private"})


def _model_path(owner: str, name: str) -> str:
    return (
        f"/models/{check_segment(owner, argument='owner')}/{check_segment(name, argument='name')}"
    )


def build_get(owner: str, name: str) -> RequestSpec:
    """GET /models/{owner}/{name}."""
    return RequestSpec("GET", _model_path(owner, name))


def build_create(
    owner: str, name: str, *, visibility: str, hardware: str, **optional: str | None
) -> RequestSpec:
    """POST /models; ``optional``: description, github_url, paper_url, license_url, ..."""
    _model_path(owner, name)
    if visibility not in VISIBILITIES:
        raise ValueError(f"visibility: expected 'public' or 'private', got {visibility!r}")
    if not isinstance(hardware, str) or not hardware:
        raise ValueError("hardware: expected a hardware sku such as 'cpu' (see hardware.list())")
    body = drop_none(
        {"owner": owner, "name": name, "visibility": visibility, "hardware": hardware, **optional}
    )
    return RequestSpec("POST", "/models", json=body, replay_safe=False)


def build_version_get(owner: str, name: str, version_id: str) -> RequestSpec:
    """GET /models/{owner}/{name}/versions/{id}."""
    vid = check_segment(version_id, argument="version_id")
    return RequestSpec("GET", f"{_model_path(owner, name)}/versions/{vid}")


@response_parser
def parse_model(raw: RawResponse) -> Model:
    """A Model."""
    return Model.model_validate_json(raw.content)


@response_parser
def parse_models(raw: RawResponse) -> Page[Model]:
    """A page of models."""
    return Page[Model].model_validate_json(raw.content)


@response_parser
def parse_version(raw: RawResponse) -> Version:
    """A Version (with its OpenAPI schema)."""
    return Version.model_validate_json(raw.content)


@response_parser
def parse_versions(raw: RawResponse) -> Page[Version]:
    """A page of versions, newest first."""
    return Page[Version].model_validate_json(raw.content)


class Versions(SyncNamespace):
    """A model's versions."""

    def list(self, owner: str, name: str, cursor: str | None = None) -> Page[Version]:
        """One page of versions of ``owner/name``."""
        spec = build_list(f"{_model_path(owner, name)}/versions", cursor)
        return parse_versions(self._client._send(spec))

    def get(self, owner: str, name: str, version_id: str) -> Version:
        """One version."""
        return parse_version(self._client._send(build_version_get(owner, name, version_id)))


class AsyncVersions(AsyncNamespace):
    """Async twin of ``Versions``."""

    async def list(self, owner: str, name: str, cursor: str | None = None) -> Page[Version]:
        """One page of versions of ``owner/name``."""
        spec = build_list(f"{_model_path(owner, name)}/versions", cursor)
        return parse_versions(await self._client._send(spec))

    async def get(self, owner: str, name: str, version_id: str) -> Version:
        """One version."""
        return parse_version(await self._client._send(build_version_get(owner, name, version_id)))


class Models(SyncNamespace):
    """Models: get, list, create; ``versions`` for their versions."""

    @property
    def versions(self) -> Versions:
        """The versions of a model."""
        return Versions(self._client)

    def get(self, owner: str, name: str) -> Model:
        """One model (with ``latest_version``)."""
        return parse_model(self._client._send(build_get(owner, name)))

    def list(self, cursor: str | None = None) -> Page[Model]:
        """One page of public models."""
        return parse_models(self._client._send(build_list("/models", cursor)))

    def create(
        self, owner: str, name: str, *, visibility: str, hardware: str, **optional: Any
    ) -> Model:
        """Create a model (description, github_url, paper_url, license_url, cover_image_url)."""
        spec = build_create(owner, name, visibility=visibility, hardware=hardware, **optional)
        return parse_model(self._client._send(spec))


class AsyncModels(AsyncNamespace):
    """Async twin of ``Models``."""

    @property
    def versions(self) -> AsyncVersions:
        """The versions of a model."""
        return AsyncVersions(self._client)

    async def get(self, owner: str, name: str) -> Model:
        """One model (with ``latest_version``)."""
        return parse_model(await self._client._send(build_get(owner, name)))

    async def list(self, cursor: str | None = None) -> Page[Model]:
        """One page of public models."""
        return parse_models(await self._client._send(build_list("/models", cursor)))

    async def create(
        self, owner: str, name: str, *, visibility: str, hardware: str, **optional: Any
    ) -> Model:
        """Create a model (description, github_url, paper_url, license_url, cover_image_url)."""
        spec = build_create(owner, name, visibility=visibility, hardware=hardware, **optional)
        return parse_model(await self._client._send(spec))
