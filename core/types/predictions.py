"""Wire models of the prediction API (PROTOCOL.md "Prediction API"): wire names, extras kept."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default

__all__ = [
    "Collection",
    "Hardware",
    "Model",
    "Page",
    "Prediction",
    "PredictionUrls",
    "Training",
    "Version",
]

T = TypeVar("T")


class PredictionUrls(WireModel):
    """``urls``: where to poll, cancel and stream a prediction."""

    get: str | None = None
    cancel: str | None = None
    stream: str | None = None


class Prediction(WireModel):
    """A prediction: ``status`` is starting, processing, succeeded, failed or canceled.

    Every field may be missing: a create answered with the request body echoed back (no
    ``id``, the seed client's own tests) still parses.
    """

    id: str | None = None
    model: str | None = None
    version: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    """Whatever the model returns: a string, a list (iterator outputs), a dict, file URLs."""
    logs: str | None = None
    """Newline-joined log text; tqdm lines give progress (``parse_progress``)."""
    error: Any = None
    status: str = "starting"
    metrics: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    urls: PredictionUrls = Field(default_factory=PredictionUrls)
    source: str | None = None
    data_removed: bool | None = None

    _nulls = null_means_default("status", "urls")


class Training(Prediction):
    """A training: a prediction that writes a new version to ``destination``."""

    destination: str | None = None


class Version(WireModel):
    """A model version; its inputs are ``openapi_schema.components.schemas.Input``."""

    id: str | None = None
    created_at: str | None = None
    cog_version: str | None = None
    openapi_schema: dict[str, Any] | None = None


class Model(WireModel):
    """A model ``owner/name`` with its latest version."""

    owner: str | None = None
    name: str | None = None
    url: str | None = None
    description: str | None = None
    visibility: str | None = None
    github_url: str | None = None
    paper_url: str | None = None
    license_url: str | None = None
    cover_image_url: str | None = None
    run_count: int | None = None
    default_example: Prediction | None = None
    latest_version: Version | None = None


class Collection(WireModel):
    """A named collection of models."""

    slug: str | None = None
    name: str | None = None
    description: str | None = None
    models: list[Model] | None = None


class Hardware(WireModel):
    """A hardware option (``/hardware`` answers a bare array of these)."""

    name: str | None = None
    sku: str | None = None


class Page(WireModel, Generic[T]):
    """One page of a list: ``next`` is an absolute URL to follow as is, or None on the last."""

    previous: str | None = None
    next: str | None = None
    results: list[T] = Field(default_factory=list)

    _nulls = null_means_default("results")

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]  # iterate items, not fields
        return iter(self.results)

    def __getitem__(self, index: int) -> T:
        return self.results[index]
