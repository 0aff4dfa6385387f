"""A model version's OpenAPI ``Input`` (Cog style, PROTOCOL.md) as a pydantic model (pure).

Both framework packages build their prediction tools' argument schemas here.

Rules of this module:
- Properties keep ``x-order`` order; declaration order breaks ties and orders the unnumbered.
- ``allOf: [{"$ref"}]`` and ``$ref`` resolve against ``components.schemas``; an ``enum``
  becomes a ``Literal`` of its values (its JSON schema is ``{"enum": [...], "type": ...}``).
- ``default`` is the field's default; ``minimum``/``maximum`` become ``ge``/``le``
  (``exclusiveMinimum``/``exclusiveMaximum`` → ``gt``/``lt``); a required input has no default;
  an optional input without a default is ``T | None = None`` (``None`` is never sent).
- ``format: uri`` inputs accept http(s) URLs, ``data:`` URIs, or paths of local files, which
  validation turns into data URIs (``files.encode_input``; above 10 MB raises, never truncated).
- ``x-*`` keys never reach the generated JSON schema. Unknown arguments are rejected
  (``extra="forbid"``): a misspelt input is an error the caller sees, not silently dropped.
- A wire name that is no Python identifier (or clashes with pydantic) becomes a field with a
  trailing ``_`` and the wire name as alias; ``wire_input`` dumps by alias.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from dashscope_core._protocol.files import encode_input

__all__ = [
    "URI_HINT",
    "ToolSpec",
    "describe_output",
    "input_model",
    "input_schema",
    "is_iterator_output",
    "ordered_inputs",
    "output_schema",
    "resolve",
    "strip_extensions",
    "tool_name",
    "tool_spec",
    "wire_input",
]

URI_HINT = "a URL, a data: URI or a local file path"
_URL_PREFIXES = ("http://", "https://", "data:")
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
_RESERVED = frozenset(dir(BaseModel))
_NOT_NAME = re.compile(r"[^0-9A-Za-z_]+")
_BOUNDS = (
    ("minimum", "ge"),
    ("maximum", "le"),
    ("exclusiveMinimum", "gt"),
    ("exclusiveMaximum", "lt"),
    ("minLength", "min_length"),
    ("maxLength", "max_length"),
    ("minItems", "min_length"),
    ("maxItems", "max_length"),
)


def _components(openapi: Mapping[str, Any]) -> Mapping[str, Any]:
    found = openapi.get("components", {}).get("schemas", {})
    return found if isinstance(found, Mapping) else {}


def input_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """``components.schemas.Input`` of an OpenAPI document (``{}`` if absent)."""
    found = _components(openapi).get("Input", {})
    return dict(found) if isinstance(found, Mapping) else {}


def output_schema(openapi: Mapping[str, Any]) -> dict[str, Any]:
    """``components.schemas.Output`` with its ``$ref``/``allOf`` resolved (``{}`` if absent)."""
    found = _components(openapi).get("Output", {})
    return resolve(openapi, found) if isinstance(found, Mapping) else {}


def resolve(openapi: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` merged with the component schemas its ``allOf``/``$ref`` entries name."""
    merged: dict[str, Any] = {}
    parts = [*spec.get("allOf", []), *([spec] if "$ref" in spec else [])]
    for part in parts:
        ref = part.get("$ref") if isinstance(part, Mapping) else None
        if isinstance(ref, str):
            target = _components(openapi).get(ref.rsplit("/", 1)[-1], {})
            merged.update(resolve(openapi, target) if isinstance(target, Mapping) else {})
        elif isinstance(part, Mapping):
            merged.update(resolve(openapi, part))
    merged.update({k: v for k, v in spec.items() if k not in ("allOf", "$ref")})
    return merged


def ordered_inputs(openapi: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, resolved spec)`` of every input, in ``x-order`` order."""
    props = input_schema(openapi).get("properties", {})
    if not isinstance(props, Mapping):
        raise ValueError("openapi_schema: components.schemas.Input.properties is not an object")
    items = [(name, resolve(openapi, spec)) for name, spec in props.items()]

    def key(pair: tuple[int, tuple[str, dict[str, Any]]]) -> tuple[float, int]:
        order = pair[1][1].get("x-order")
        number = order if isinstance(order, (int, float)) and not isinstance(order, bool) else None
        return (float("inf") if number is None else float(number), pair[0])

    return [item for _, item in sorted(enumerate(items), key=key)]


def strip_extensions(value: Any) -> Any:
    """``value`` without ``x-*`` keys at any depth (the JSON schema a model should see)."""
    if isinstance(value, Mapping):
        return {
            k: strip_extensions(v)
            for k, v in value.items()
            if not (isinstance(k, str) and k.startswith("x-"))
        }
    if isinstance(value, list):
        return [strip_extensions(v) for v in value]
    return value


def _uri_check(name: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value.startswith(_URL_PREFIXES):
            return value
        path = Path(value).expanduser()
        if not value.strip() or not path.is_file():
            raise ValueError(
                f"{name}: expected {URI_HINT}; {value!r} is neither a URL nor an existing file"
            )
        encoded: str = encode_input(path, field=name)
        return encoded

    return check


def _annotation(name: str, spec: Mapping[str, Any]) -> Any:
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        return Literal[tuple(enum)]
    kind = spec.get("type")
    if kind == "string" and spec.get("format") == "uri":
        return Annotated[str, AfterValidator(_uri_check(name))]
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "array":
        items = spec.get("items")
        inner = _annotation(name, items) if isinstance(items, Mapping) else Any
        return list[inner]  # type: ignore[valid-type]  # built at runtime from the schema
    if kind == "object":
        return dict[str, Any]
    return Any


def _is_uri(spec: Mapping[str, Any]) -> bool:
    items = spec.get("items")
    return spec.get("format") == "uri" or (
        isinstance(items, Mapping) and items.get("format") == "uri"
    )


def _field_info(spec: Mapping[str, Any], required: bool, alias: str | None) -> Any:
    description = spec.get("description")
    if _is_uri(spec):
        description = f"{description} ({URI_HINT})" if description else URI_HINT.capitalize()
    kwargs: dict[str, Any] = {
        "description": description,
        "title": spec.get("title"),
        "alias": alias,
    }
    for wire, option in _BOUNDS:
        bound = spec.get(wire)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            kwargs[option] = bound
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if required:
        return Field(**kwargs)
    return Field(default=spec.get("default"), **kwargs)


def _field_name(name: str) -> tuple[str, str | None]:
    plain = name.isidentifier() and not keyword.iskeyword(name)
    if plain and not name.startswith(("_", "model_")) and name not in _RESERVED:
        return name, None
    cleaned = _NOT_NAME.sub("_", name).strip("_") or "input"
    if cleaned[0].isdigit():
        cleaned = f"input_{cleaned}"
    return f"{cleaned}_", name


def _class_name(title: str) -> str:
    words = [w for w in _NOT_NAME.split(title) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Prediction"


def input_model(
    openapi: Mapping[str, Any], title: str = "PredictionInput", description: str | None = None
) -> type[BaseModel]:
    """A pydantic model of the version's inputs (see the module rules)."""
    if not isinstance(openapi, Mapping):
        raise TypeError(f"openapi_schema: expected a mapping, got {type(openapi).__name__}")
    required = set(input_schema(openapi).get("required", []) or [])
    fields: dict[str, Any] = {}
    for wire, spec in ordered_inputs(openapi):
        name, alias = _field_name(wire)
        annotation = _annotation(wire, spec)
        is_required = wire in required and "default" not in spec
        if not is_required and spec.get("default") is None:
            annotation = annotation | None
        fields[name] = (annotation, _field_info(spec, is_required, alias))
    config = ConfigDict(extra="forbid", populate_by_name=True)
    model: type[BaseModel] = create_model(
        _class_name(title), __config__=config, __doc__=description, **fields
    )
    return model


def wire_input(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``values`` (field names or wire names) and return the wire ``input``.

    Raises pydantic's ``ValidationError`` (a ``ValueError``) naming each bad input.
    """
    dumped: dict[str, Any] = model.model_validate(dict(values)).model_dump(
        by_alias=True, exclude_none=True
    )
    return dumped


def is_iterator_output(openapi: Mapping[str, Any]) -> bool:
    """Whether the version's output is an iterator (streamed pieces to join)."""
    return output_schema(openapi).get("x-cog-array-type") == "iterator"


def describe_output(openapi: Mapping[str, Any]) -> str:
    """A short phrase saying what the version returns, for a tool description."""
    out = output_schema(openapi)
    kind = out.get("type")
    found = out.get("items")
    items: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if is_iterator_output(openapi):
        return "text (streamed, joined into one answer)"
    if kind == "array" and items.get("format") == "uri":
        return "a list of file URLs"
    if kind == "string" and out.get("format") == "uri":
        return "a file URL"
    if kind == "array":
        return f"a list of {items.get('type', 'value')}s"
    names = {
        "string": "text",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "object": "a JSON object",
    }
    return names.get(kind, "a JSON value") if isinstance(kind, str) else "a JSON value"


def tool_name(identifier: str) -> str:
    """A tool name from ``owner/name[:version]``: ``owner_name``, safe for function calling."""
    ref = identifier.split(":", 1)[0]
    cleaned = re.sub(r"[^0-9A-Za-z_-]+", "_", ref).strip("_")
    return cleaned[:64] or "prediction"


@dataclass(frozen=True)
class ToolSpec:
    """Everything a framework needs to expose one model version as a tool."""

    identifier: str
    """``owner/name:version``: runs are pinned to the version the schema came from."""
    name: str
    description: str
    args_schema: type[BaseModel]
    iterator: bool
    """The output is an iterator whose pieces are joined into one text."""


def tool_spec(
    owner: str,
    name: str,
    version_id: str,
    openapi: Mapping[str, Any] | None,
    *,
    model_description: str | None = None,
    tool_name_: str | None = None,
    description: str | None = None,
) -> ToolSpec:
    """The ``ToolSpec`` of ``owner/name:version_id`` from its OpenAPI document."""
    if not openapi:
        raise ValueError(f"model: {owner}/{name}:{version_id} has no openapi_schema to build from")
    if tool_name_ is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool_name_):
        raise ValueError(f"name: expected 1-64 letters, digits, '_' or '-', got {tool_name_!r}")
    ref = f"{owner}/{name}"
    if description is None:
        what = (model_description or f"Runs the model {ref}").strip().rstrip(".")
        description = f"{what}. Runs {ref} and returns {describe_output(openapi)}."
    schema = input_model(openapi, title=f"{ref} input", description=f"Inputs of {ref}.")
    return ToolSpec(
        f"{ref}:{version_id}",
        tool_name_ or tool_name(ref),
        description,
        schema,
        is_iterator_output(openapi),
    )
