"""The prediction API's model registry: models, versions, deployments, collections, hardware.

Rules of this module:
- A version pairs a Cog OpenAPI schema with a ``predictor(input, ctx) -> Plan``; the plan says
  what the run produces (output, streamed tokens, log lines, error, duration) and the run
  machinery (``prediction_runs``) spreads it over time.
- Ids are deterministic: a version id is the sha256 hex of ``owner/name:n``.
- Built-in models live under the ``emulator`` owner; users add their own with
  ``Registry.register_model`` (see ``dashscope_core.emulator.predictions.registry``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator.prediction_schema import Prop, cog_schema

__all__ = [
    "HARDWARE",
    "Collection",
    "Deployment",
    "Model",
    "Plan",
    "Predictor",
    "Registry",
    "RunContext",
    "Version",
    "version_id_for",
]

HARDWARE: list[dict[str, str]] = [
    {"name": "CPU", "sku": "cpu"},
    {"name": "Nvidia T4 GPU", "sku": "gpu-t4"},
    {"name": "Nvidia L40S GPU", "sku": "gpu-l40s"},
    {"name": "Nvidia A100 (80GB) GPU", "sku": "gpu-a100-large"},
    {"name": "2x Nvidia A100 (80GB) GPU", "sku": "gpu-a100-large-2x"},
    {"name": "Nvidia H100 GPU", "sku": "gpu-h100"},
]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
BUILTIN_CREATED_AT = "2024-01-01T00:00:00.000000Z"


@dataclass(frozen=True)
class Plan:
    """What one run produces, before timing is applied."""

    output: Any = None
    """Final output (ignored for iterator models: the joined ``tokens`` list is the output)."""
    tokens: Sequence[str] = ()
    """Iterator output, appended one item at a time while processing."""
    logs: Sequence[str] = ()
    """Log lines, spread evenly over the processing time."""
    error: str | None = None
    """Set to make the run fail with this message."""
    duration: float | None = None
    """Processing seconds; ``None`` uses the settings' ``run_time``."""


@dataclass(frozen=True)
class RunContext:
    """What a predictor may use besides its input."""

    run_id: str
    file_url: Callable[[str], str]
    """Absolute URL of the emulator file ``name`` (``name`` ends with ``.png``)."""


Predictor = Callable[[dict[str, Any], RunContext], Plan]


@dataclass
class Version:
    """One model version: an OpenAPI schema and the predictor behind it."""

    id: str
    openapi_schema: dict[str, Any]
    predictor: Predictor
    created_at: str = BUILTIN_CREATED_AT
    cog_version: str = "0.9.4"

    @property
    def streams(self) -> bool:
        """Whether the output is an iterator (so the version offers an SSE stream)."""
        out = self.openapi_schema.get("components", {}).get("schemas", {}).get("Output", {})
        return bool(out.get("x-cog-array-type") == "iterator")

    def to_json(self) -> dict[str, Any]:
        """The wire Version."""
        return {
            "id": self.id,
            "created_at": self.created_at,
            "cog_version": self.cog_version,
            "openapi_schema": self.openapi_schema,
        }


@dataclass
class Model:
    """A model and its versions (newest last)."""

    owner: str
    name: str
    description: str | None = None
    visibility: str = "public"
    hardware: str = "cpu"
    run_count: int = 0
    versions: list[Version] = field(default_factory=list)
    links: dict[str, str | None] = field(default_factory=dict)
    """``github_url``, ``paper_url``, ``license_url``, ``cover_image_url``."""

    @property
    def ref(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    @property
    def latest(self) -> Version | None:
        """The newest version, if any."""
        return self.versions[-1] if self.versions else None

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The wire Model (``url`` under ``base_url``)."""
        links = {
            k: self.links.get(k)
            for k in ("github_url", "paper_url", "license_url", "cover_image_url")
        }
        latest = self.latest
        return {
            "url": f"{base_url}/models/{self.ref}",
            "owner": self.owner,
            "name": self.name,
            "description": self.description,
            "visibility": self.visibility,
            **links,
            "hardware": self.hardware,
            "run_count": self.run_count,
            "default_example": None,
            "latest_version": latest.to_json() if latest else None,
        }


@dataclass(frozen=True)
class Deployment:
    """A named deployment serving one model version."""

    owner: str
    name: str
    model: str
    version: str | None = None
    """Pinned version id; ``None`` follows the model's latest."""


@dataclass
class Collection:
    """A curated list of models."""

    slug: str
    name: str
    description: str
    models: list[str] = field(default_factory=list)


def version_id_for(ref: str, n: int) -> str:
    """The deterministic 64-hex id of version ``n`` of model ``ref``."""
    return hashlib.sha256(f"{ref}:{n}".encode()).hexdigest()


def check_name(value: Any, argument: str) -> str:
    """``value`` if it is a valid owner/model name, else ``ValueError`` naming ``argument``."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{argument}: expected lowercase letters, digits, '-', '_' or '.'")
    return value


class Registry:
    """Models, deployments and collections of one emulator (built-ins installed on creation)."""

    def __init__(self, *, builtins: bool = True) -> None:
        self.models: dict[str, Model] = {}
        self.deployments: dict[str, Deployment] = {}
        self.collections: dict[str, Collection] = {}
        if builtins:
            from dashscope_core.emulator.prediction_builtins import install  # needs this module

            install(self)

    def register_model(
        self,
        ref: str,
        inputs: Sequence[Prop] | Mapping[str, Any],
        predictor: Predictor,
        *,
        output: Mapping[str, Any] | None = None,
        description: str | None = None,
        visibility: str = "public",
        hardware: str = "cpu",
    ) -> Model:
        """Add (or add a version to) model ``ref`` = ``owner/name``; returns the model.

        ``inputs`` is a list of ``Prop`` (rendered Cog-style) or a complete OpenAPI document.
        """
        owner, _, name = ref.partition("/")
        model = self.models.get(ref) or self.create_model(
            check_name(owner, "ref"),
            check_name(name, "ref"),
            description=description,
            visibility=visibility,
            hardware=hardware,
        )
        if isinstance(inputs, Mapping):
            schema = dict(inputs)
        else:
            schema = cog_schema(list(inputs), output or {"type": "string"})
        self.add_version(model, schema, predictor)
        return model

    def create_model(self, owner: str, name: str, **fields: Any) -> Model:
        """Create an empty model; ``KeyError`` if it exists."""
        ref = f"{owner}/{name}"
        if ref in self.models:
            raise KeyError(ref)
        links = {k: fields.pop(k) for k in list(fields) if k.endswith("_url")}
        model = Model(owner, name, links=links, **fields)
        self.models[ref] = model
        return model

    def add_version(
        self,
        model: Model,
        schema: dict[str, Any],
        predictor: Predictor,
        created_at: str = BUILTIN_CREATED_AT,
    ) -> Version:
        """Append a new version to ``model``."""
        version = Version(
            version_id_for(model.ref, len(model.versions)), schema, predictor, created_at
        )
        model.versions.append(version)
        return version

    def find_version(self, version_id: str) -> tuple[Model, Version] | None:
        """The model and version with id ``version_id``."""
        for model in self.models.values():
            for version in model.versions:
                if version.id == version_id:
                    return model, version
        return None

    def register_deployment(self, ref: str, model: str, version: str | None = None) -> Deployment:
        """Add deployment ``ref`` = ``owner/name`` serving ``model`` (``owner/name``)."""
        owner, _, name = ref.partition("/")
        deployment = Deployment(check_name(owner, "ref"), check_name(name, "ref"), model, version)
        self.deployments[ref] = deployment
        return deployment

    def register_collection(
        self, slug: str, name: str, description: str, models: Sequence[str]
    ) -> Collection:
        """Add a collection listing ``models`` (``owner/name`` each)."""
        collection = Collection(slug, name, description, list(models))
        self.collections[slug] = collection
        return collection
