"""Cog-style OpenAPI schemas for emulated models, and input validation against them.

Rules of this module:
- Schemas look like what Cog generates: ``components.schemas.Input`` with properties carrying
  ``x-order`` (declaration order) and a ``title``; an enum input is its own component schema
  referenced through ``allOf: [{"$ref": "#/components/schemas/<name>"}]``; file inputs are
  ``{"type": "string", "format": "uri"}``.
- Validation reports every problem at once as Cog's ``invalid_fields`` entries
  (``{"type", "field": "input.<name>", "description"}``); extra inputs are ignored like Cog does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Prop",
    "apply_defaults",
    "cog_schema",
    "input_schema",
    "iterator_output",
    "resolve",
    "validate_input",
]

_MISSING: Any = object()
_URI_PREFIXES = ("http://", "https://", "data:")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@dataclass(frozen=True)
class Prop:
    """One model input, rendered into ``Input.properties`` by ``cog_schema``."""

    name: str
    type: str = "string"
    description: str | None = None
    default: Any = _MISSING
    minimum: float | None = None
    maximum: float | None = None
    format: str | None = None
    enum: Sequence[Any] | None = None
    items: Mapping[str, Any] | None = None
    required: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def render(self, order: int) -> dict[str, Any]:
        """The property's schema (without the enum component itself)."""
        spec: dict[str, Any] = {}
        if self.enum is not None:
            spec["allOf"] = [{"$ref": f"#/components/schemas/{self.name}"}]
        else:
            spec["type"] = self.type
            spec["title"] = self.name.replace("_", " ").title()
        optional = {
            "format": self.format,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "items": dict(self.items) if self.items else None,
        }
        spec.update({k: v for k, v in optional.items() if v is not None})
        if self.default is not _MISSING:
            spec["default"] = self.default
        spec["x-order"] = order
        if self.description is not None:
            spec["description"] = self.description
        spec.update(self.extra)
        return spec


def iterator_output(concatenate: bool = True) -> dict[str, Any]:
    """The ``Output`` schema of a model streaming string tokens."""
    out: dict[str, Any] = {
        "type": "array",
        "items": {"type": "string"},
        "title": "Output",
        "x-cog-array-type": "iterator",
    }
    if concatenate:
        out["x-cog-array-display"] = "concatenate"
    return out


def cog_schema(props: Sequence[Prop], output: Mapping[str, Any]) -> dict[str, Any]:
    """A Cog OpenAPI document for ``props`` (in order) and ``output``."""
    schemas: dict[str, Any] = {
        "Input": {
            "type": "object",
            "title": "Input",
            "properties": {p.name: p.render(i) for i, p in enumerate(props)},
        },
        "Output": {"title": "Output", **dict(output)},
    }
    required = [p.name for p in props if p.required]
    if required:
        schemas["Input"]["required"] = required
    for p in props:
        if p.enum is not None:
            schemas[p.name] = {
                "enum": list(p.enum),
                "type": p.type,
                "title": p.name,
                "description": "An enumeration.",
            }
    return {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {},
        "components": {"schemas": schemas},
    }


def input_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """``components.schemas.Input`` of an OpenAPI document (``{}`` if absent)."""
    found = openapi.get("components", {}).get("schemas", {}).get("Input", {})
    return dict(found) if isinstance(found, Mapping) else {}


def resolve(openapi: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` merged with the schemas its ``allOf`` / ``$ref`` entries point at."""
    merged: dict[str, Any] = {}
    refs = [spec] if "$ref" in spec else []
    for part in [*spec.get("allOf", []), *refs]:
        ref = part.get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        target = openapi.get("components", {}).get("schemas", {}).get(name, {})
        merged.update(target)
    merged.update({k: v for k, v in spec.items() if k not in ("allOf", "$ref")})
    return merged


def apply_defaults(openapi: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` completed with the schema's defaults."""
    props = input_schema(openapi).get("properties", {})
    full = {name: spec["default"] for name, spec in props.items() if "default" in spec}
    full.update(given)
    return full


def _problem(kind: str, name: str, description: str) -> dict[str, str]:
    return {"type": kind, "field": f"input.{name}", "description": description}


def _check_type(name: str, spec: Mapping[str, Any], value: Any) -> dict[str, str] | None:
    kind = spec.get("type")
    allowed = _TYPES.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        return None
    bad_bool = isinstance(value, bool) and kind != "boolean"
    if bad_bool or not isinstance(value, allowed):
        return _problem("invalid_type", name, f"expected {kind}")
    if spec.get("format") == "uri" and not str(value).startswith(_URI_PREFIXES):
        return _problem("format", name, "expected a URL or a data URI")
    return None


def _check_value(name: str, spec: Mapping[str, Any], value: Any) -> dict[str, str] | None:
    if "enum" in spec and value not in spec["enum"]:
        choices = ", ".join(repr(v) for v in spec["enum"])
        return _problem("enum", name, f"must be one of the following: {choices}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = spec.get("minimum"), spec.get("maximum")
        if low is not None and value < low:
            return _problem("minimum", name, f"must be greater than or equal to {low}")
        if high is not None and value > high:
            return _problem("maximum", name, f"must be less than or equal to {high}")
    return None


def validate_input(openapi: Mapping[str, Any], given: Any) -> list[dict[str, str]]:
    """Cog ``invalid_fields`` for ``given`` against the document's ``Input``; ``[]`` if valid."""
    if not isinstance(given, Mapping):
        return [
            {"type": "invalid_type", "field": "input", "description": "input: expected an object"}
        ]
    schema = input_schema(openapi)
    problems = [
        _problem("required", name, "field required")
        for name in schema.get("required", [])
        if name not in given
    ]
    for name, raw in schema.get("properties", {}).items():
        if name not in given:
            continue
        spec = resolve(openapi, raw)
        problem = _check_type(name, spec, given[name]) or _check_value(name, spec, given[name])
        if problem is not None:
            problems.append(problem)
    return problems
