"""Trainings: create from a model version, get, list, cancel; success adds a version.

Rules of this module:
- ``destination`` (``owner/name``) must name an existing model (404 otherwise, as the real
  service requires it to exist); it is checked before anything is stored.
- When a training has succeeded, ``settle()`` (called by every endpoint that shows versions or
  trainings) appends a new version to the destination, with the trained version's schema and
  predictor, and sets the training's ``output`` to ``{"version", "weights"}``.
"""

from __future__ import annotations

from typing import Any

from dashscope_core.emulator.prediction_http import (
    Problem,
    after_handler_faults,
    api_base,
    not_found,
    page,
    problems,
)
from dashscope_core.emulator.prediction_models import Plan
from dashscope_core.emulator.prediction_runs import Run, iso, state
from dashscope_core.emulator.predictions import find_model, find_run, registry, render_run
from dashscope_core.emulator.routing import JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.webhooks import check_webhook, start_sender

__all__ = ["ROUTES", "settle"]

CREATE_KIND = "trainings.create"
_EPOCHS = 3


def settle(emu: Emulator) -> None:
    """Turn every succeeded training into a new version at its destination (once)."""
    st = state(emu)
    now = st.now()
    for run in st.listed("training")[::-1]:
        if run.result is not None or run.destination is None:
            continue
        snap = run.snapshot(now)
        if snap.status != "succeeded":
            continue
        located = registry(emu).find_version(run.version)
        destination = registry(emu).models.get(run.destination)
        if located is None or destination is None:
            continue
        source = located[1]
        version = registry(emu).add_version(
            destination, source.openapi_schema, source.predictor, iso(snap.completed) or ""
        )
        run.result = {"version": version.id, "weights": f"{run.base}/outputs/{run.id}-weights.tar"}


def _plan(given: dict[str, Any]) -> Plan:
    logs = ["Preparing training data"]
    logs += [f"epoch {i}/{_EPOCHS}: loss={1.0 / i:.3f}" for i in range(1, _EPOCHS + 1)]
    return Plan(logs=[*logs, "Training complete"])


def _destination(emu: Emulator, body: dict[str, Any]) -> str:
    dest = body.get("destination")
    if not isinstance(dest, str) or dest.count("/") != 1 or "" in dest.split("/"):
        raise Problem(422, "Input validation failed", "destination: expected 'owner/name'")
    if dest not in registry(emu).models:
        raise not_found(f"Destination model {dest}")
    return dest


@problems
async def create_training(request: Request, emu: Emulator) -> Response:
    """POST /models/{owner}/{name}/versions/{version_id}/trainings."""
    st = state(emu)
    model = find_model(emu, request.params["owner"], request.params["name"])
    version = next((v for v in model.versions if v.id == request.params["version_id"]), None)
    if version is None:
        raise not_found(f"Version {request.params['version_id']} of {model.ref}")
    body = request.json if isinstance(request.json, dict) else None
    if body is None:
        raise Problem(422, "Input validation failed", "The request body must be a JSON object.")
    dest = _destination(emu, body)
    given = body.get("input", {})
    if not isinstance(given, dict):
        raise Problem(422, "Input validation failed", "input: expected an object")
    webhook, events = check_webhook(body.get("webhook"), body.get("webhook_events_filter"))
    base, scale = api_base(request), st.settings.time_scale
    run = Run(
        st.new_id("training"),
        "training",
        model.ref,
        version.id,
        given,
        _plan(given),
        st.now(),
        st.settings.start_delay * scale,
        st.settings.run_time * scale,
        webhook=webhook,
        events_filter=events,
        destination=dest,
        base=base,
    )
    st.add(run)
    start_sender(st, run, lambda r: _render(emu, r, base))
    after_handler_faults(emu).strike(request.route.kind)
    return JSONResponse(_render(emu, run, base), 201)


def _render(emu: Emulator, run: Run, base: str) -> dict[str, Any]:
    settle(emu)
    return render_run(run, state(emu).now(), base)


@problems
async def get_training(request: Request, emu: Emulator) -> Response:
    """GET /trainings/{id}."""
    run = find_run(emu, "training", request.params["id"])
    return JSONResponse(_render(emu, run, api_base(request)))


@problems
async def list_trainings(request: Request, emu: Emulator) -> Response:
    """GET /trainings: newest first, cursor pages."""
    settle(emu)
    st = state(emu)
    now, base = st.now(), api_base(request)
    items = [render_run(r, now, base) for r in st.listed("training")]
    return JSONResponse(page(request, items, st.settings.page_size))


@problems
async def cancel_training(request: Request, emu: Emulator) -> Response:
    """POST /trainings/{id}/cancel: a terminal training comes back unchanged."""
    st = state(emu)
    run = find_run(emu, "training", request.params["id"])
    settle(emu)
    run.cancel(st.now())
    return JSONResponse(_render(emu, run, api_base(request)))


ROUTES: list[Route] = [
    Route(
        "POST",
        "/models/{owner}/{name}/versions/{version_id}/trainings",
        create_training,
        CREATE_KIND,
    ),
    Route("GET", "/trainings", list_trainings, "trainings.list"),
    Route("GET", "/trainings/{id}", get_training, "trainings.get"),
    Route("POST", "/trainings/{id}/cancel", cancel_training, "trainings.cancel"),
]
