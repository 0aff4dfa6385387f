"""Prediction API catalog endpoints: models, versions, collections, hardware, webhook secret.

Rules of this module:
- Lists are cursor pages (``prediction_http.page``); ``GET /hardware`` is a bare array.
- ``POST /models`` validates every field before creating (422), a duplicate is 409.
- Versions are newest first; trainings that finished are settled first so their versions show.
"""

from __future__ import annotations

from typing import Any

from dashscope_core.emulator.prediction_http import Problem, api_base, not_found, page, problems
from dashscope_core.emulator.prediction_models import HARDWARE, check_name
from dashscope_core.emulator.prediction_runs import state
from dashscope_core.emulator.predictions import find_model, registry
from dashscope_core.emulator.routing import JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.trainings import settle

__all__ = ["ROUTES"]

_VISIBILITY = ("public", "private")
_OPTIONAL = ("description", "github_url", "paper_url", "license_url", "cover_image_url")


@problems
async def list_models(request: Request, emu: Emulator) -> Response:
    """GET /models."""
    settle(emu)
    base = api_base(request)
    models = [m.to_json(base) for m in registry(emu).models.values()]
    return JSONResponse(page(request, models, state(emu).settings.page_size))


@problems
async def get_model(request: Request, emu: Emulator) -> Response:
    """GET /models/{owner}/{name}."""
    settle(emu)
    model = find_model(emu, request.params["owner"], request.params["name"])
    return JSONResponse(model.to_json(api_base(request)))


def _new_model_fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Problem(422, "Input validation failed", "The request body must be a JSON object.")
    try:
        fields: dict[str, Any] = {
            "owner": check_name(body.get("owner"), "owner"),
            "name": check_name(body.get("name"), "name"),
        }
    except ValueError as exc:
        raise Problem(422, "Input validation failed", str(exc)) from None
    if body.get("visibility") not in _VISIBILITY:
        raise Problem(422, "Input validation failed", "visibility: expected public or private")
    skus = [h["sku"] for h in HARDWARE]
    if body.get("hardware") not in skus:
        raise Problem(422, "Input validation failed", f"hardware: expected one of {skus}")
    for key in _OPTIONAL:
        if body.get(key) is not None and not isinstance(body[key], str):
            raise Problem(422, "Input validation failed", f"{key}: expected a string")
    fields.update({k: body[k] for k in ("visibility", "hardware")})
    fields.update({k: body[k] for k in _OPTIONAL if body.get(k) is not None})
    return fields


@problems
async def create_model(request: Request, emu: Emulator) -> Response:
    """POST /models ``{owner, name, visibility, hardware, description?, ...}``."""
    fields = _new_model_fields(request.json)
    owner, name = fields.pop("owner"), fields.pop("name")
    try:
        model = registry(emu).create_model(owner, name, **fields)
    except KeyError:
        raise Problem(409, "Conflict", f"A model named {owner}/{name} already exists.") from None
    return JSONResponse(model.to_json(api_base(request)), 201)


@problems
async def list_versions(request: Request, emu: Emulator) -> Response:
    """GET /models/{owner}/{name}/versions: newest first."""
    settle(emu)
    model = find_model(emu, request.params["owner"], request.params["name"])
    versions = [v.to_json() for v in reversed(model.versions)]
    return JSONResponse(page(request, versions, state(emu).settings.page_size))


@problems
async def get_version(request: Request, emu: Emulator) -> Response:
    """GET /models/{owner}/{name}/versions/{version_id}."""
    settle(emu)
    model = find_model(emu, request.params["owner"], request.params["name"])
    for version in model.versions:
        if version.id == request.params["version_id"]:
            return JSONResponse(version.to_json())
    raise not_found(f"Version {request.params['version_id']} of {model.ref}")


@problems
async def list_collections(request: Request, emu: Emulator) -> Response:
    """GET /collections."""
    items = [
        {"name": c.name, "slug": c.slug, "description": c.description}
        for c in registry(emu).collections.values()
    ]
    return JSONResponse(page(request, items, state(emu).settings.page_size))


@problems
async def get_collection(request: Request, emu: Emulator) -> Response:
    """GET /collections/{slug}: with its models."""
    reg = registry(emu)
    found = reg.collections.get(request.params["slug"])
    if found is None:
        raise not_found(f"Collection {request.params['slug']}")
    base = api_base(request)
    models = [reg.models[ref].to_json(base) for ref in found.models if ref in reg.models]
    body = {
        "name": found.name,
        "slug": found.slug,
        "description": found.description,
        "models": models,
    }
    return JSONResponse(body)


@problems
async def list_hardware(request: Request, emu: Emulator) -> Response:
    """GET /hardware: a bare array of ``{name, sku}``."""
    return JSONResponse([dict(h) for h in HARDWARE])


@problems
async def webhook_secret(request: Request, emu: Emulator) -> Response:
    """GET /webhooks/default/secret: ``{"key": "whsec_..."}``."""
    return JSONResponse({"key": state(emu).webhook_secret})


ROUTES: list[Route] = [
    Route("GET", "/models", list_models, "models.list"),
    Route("POST", "/models", create_model, "models.create"),
    Route("GET", "/models/{owner}/{name}", get_model, "models.get"),
    Route("GET", "/models/{owner}/{name}/versions", list_versions, "models.versions.list"),
    Route(
        "GET", "/models/{owner}/{name}/versions/{version_id}", get_version, "models.versions.get"
    ),
    Route("GET", "/collections", list_collections, "collections.list"),
    Route("GET", "/collections/{slug}", get_collection, "collections.get"),
    Route("GET", "/hardware", list_hardware, "hardware.list"),
    Route("GET", "/webhooks/default/secret", webhook_secret, "webhooks.secret"),
]
