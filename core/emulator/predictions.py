"""Prediction API endpoints: create (by version, model or deployment), get, list, cancel, stream.

Rules of this module:
- Input is validated against the version's OpenAPI ``Input`` before anything is stored; a 422
  problem lists Cog's ``invalid_fields``. Unknown versions, models, deployments and ids are 404.
- A run is stored (and ``predictions_created`` counted) only once validation passed; framework
  faults strike before the handler, ``after_handler_faults`` after it (see ``prediction_http``).
- ``Prefer: wait[=N]`` holds the 201 until the run is terminal or N seconds passed.
- Streams (``urls.stream``, iterator models only) send ``output`` / ``logs`` / ``error`` /
  ``done`` events and ``: ping`` keep-alives; ``Settings.sse_chunk_max`` splits the bytes into
  random small pieces (hostile chunking), deterministic per emulator seed and prediction id.

Python API: ``registry(emu).register_model(...)`` adds models, ``settings(emu)`` tunes timing,
``after_handler_faults(emu).queue(...)`` injects post-create faults, and
``emu.counters["predictions_created"]`` counts what was really created.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator
from typing import Any

from dashscope_core.emulator.prediction_http import (
    Problem,
    after_handler_faults,
    api_base,
    not_found,
    page,
    problems,
    wait_seconds,
)
from dashscope_core.emulator.prediction_models import Model, Registry, RunContext, Version
from dashscope_core.emulator.prediction_runs import TERMINAL, Run, Settings, iso, state
from dashscope_core.emulator.prediction_schema import apply_defaults, validate_input
from dashscope_core.emulator.routing import JSONResponse, Request, Response, Route, StreamResponse
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.webhooks import check_webhook, start_sender

__all__ = ["ROUTES", "registry", "render_run", "settings"]

_VERSION_REF = re.compile(r"^(?:(?P<owner>[^/:\s]+)/(?P<name>[^/:\s]+):)?(?P<id>[0-9a-f]{64})$")
CREATE_KIND = "predictions.create"


def registry(emulator: Emulator) -> Registry:
    """The model registry of ``emulator`` (register your own models here)."""
    return state(emulator).registry


def settings(emulator: Emulator) -> Settings:
    """The prediction API's timing and paging knobs of ``emulator``."""
    return state(emulator).settings


def render_run(run: Run, now: float, base: str) -> dict[str, Any]:
    """The wire Prediction / Training of ``run`` at ``now``, URLs under ``base``."""
    snap = run.snapshot(now)
    url = f"{base}/{run.kind}s/{run.id}"
    urls = {"get": url, "cancel": f"{url}/cancel"}
    if run.iterator:
        urls["stream"] = f"{url}/stream"
    metrics: dict[str, float] = {}
    if snap.completed is not None and snap.started is not None:
        metrics = {
            "predict_time": round(snap.completed - snap.started, 6),
            "total_time": round(snap.completed - run.created, 6),
        }
    body = {
        "id": run.id,
        "model": run.model,
        "version": run.version,
        "input": run.input,
        "logs": "\n".join(snap.logs),
        "output": run.output(snap),
        "data_removed": False,
        "error": snap.error,
        "status": snap.status,
        "source": "api",
        "created_at": iso(run.created),
        "started_at": iso(snap.started),
        "completed_at": iso(snap.completed),
        "urls": urls,
        "metrics": metrics,
    }
    if run.deployment is not None:
        body["deployment"] = run.deployment
    if run.destination is not None:
        body["destination"] = run.destination
    return body


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.json, dict):
        raise Problem(422, "Input validation failed", "The request body must be a JSON object.")
    return request.json


def check_input(version: Version, given: Any) -> dict[str, Any]:
    """``given`` if valid for ``version``, else a 422 problem listing every invalid field."""
    invalid = validate_input(version.openapi_schema, given)
    if invalid:
        detail = "".join(f"- {p['field']}: {p['description']}\n" for p in invalid)
        raise Problem(422, "Input validation failed", detail, invalid_fields=invalid)
    assert isinstance(given, dict)
    return given


def new_run(
    emu: Emulator, kind: str, model: Model, version: Version, given: dict[str, Any], base: str
) -> Run:
    """A run of ``version`` on ``given`` with the settings' timing (not stored yet)."""
    st = state(emu)
    run_id = st.new_id(kind)
    ctx = RunContext(run_id, lambda name: f"{base}/outputs/{name}")
    plan = version.predictor(apply_defaults(version.openapi_schema, given), ctx)
    scale = st.settings.time_scale
    duration = plan.duration if plan.duration is not None else st.settings.run_time
    return Run(
        run_id,
        kind,
        model.ref,
        version.id,
        given,
        plan,
        st.now(),
        st.settings.start_delay * scale,
        duration * scale,
        iterator=kind == "prediction" and version.streams,
    )


async def hold(emu: Emulator, run: Run, seconds: float) -> None:
    """Wait until ``run`` is terminal or ``seconds`` passed (``Prefer: wait``)."""
    st = state(emu)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    # polling, not an Event: the state is a function of the clock, nothing fires on change
    while run.snapshot(st.now()).status not in TERMINAL and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(st.settings.poll_interval)


async def _create(
    request: Request, emu: Emulator, model: Model, version: Version, deployment: str | None
) -> Response:
    st = state(emu)
    body = _body(request)
    given = check_input(version, body.get("input"))
    webhook, events = check_webhook(body.get("webhook"), body.get("webhook_events_filter"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Problem(422, "Input validation failed", "stream: expected a boolean")
    if stream and not version.streams:
        raise Problem(422, "Streaming not supported", f"{model.ref} does not support streaming")
    wait = wait_seconds(request, st.settings.prefer_wait_max)
    base = api_base(request)
    run = new_run(emu, "prediction", model, version, given, base)
    run.stream, run.webhook, run.events_filter, run.deployment = stream, webhook, events, deployment
    st.add(run)
    model.run_count += 1
    start_sender(st, run, lambda r: render_run(r, st.now(), base))
    after_handler_faults(emu).strike(request.route.kind)
    if wait is not None:
        await hold(emu, run, wait)
    return JSONResponse(render_run(run, st.now(), base), 201)


def find_model(emu: Emulator, owner: str, name: str) -> Model:
    """Model ``owner/name`` or a 404 problem."""
    model = registry(emu).models.get(f"{owner}/{name}")
    if model is None:
        raise not_found(f"Model {owner}/{name}")
    return model


def latest_of(model: Model) -> Version:
    """The model's latest version or a 404 problem."""
    if model.latest is None:
        raise not_found(f"A version of {model.ref}")
    return model.latest


@problems
async def create_prediction(request: Request, emu: Emulator) -> Response:
    """POST /predictions ``{version, input, ...}``; version is ``id`` or ``owner/name:id``."""
    ref = _body(request).get("version")
    found = _VERSION_REF.match(ref) if isinstance(ref, str) else None
    if found is None:
        raise Problem(
            422, "Input validation failed", "version: expected a 64-hex version id or owner/name:id"
        )
    located = registry(emu).find_version(found["id"])
    if located is None or (
        found["owner"] and located[0].ref != f"{found['owner']}/{found['name']}"
    ):
        raise not_found(f"Version {ref}")
    return await _create(request, emu, located[0], located[1], None)


@problems
async def create_model_prediction(request: Request, emu: Emulator) -> Response:
    """POST /models/{owner}/{name}/predictions: runs the latest version."""
    model = find_model(emu, request.params["owner"], request.params["name"])
    return await _create(request, emu, model, latest_of(model), None)


@problems
async def create_deployment_prediction(request: Request, emu: Emulator) -> Response:
    """POST /deployments/{owner}/{name}/predictions: runs the deployment's version."""
    ref = f"{request.params['owner']}/{request.params['name']}"
    deployment = registry(emu).deployments.get(ref)
    if deployment is None:
        raise not_found(f"Deployment {ref}")
    model = find_model(emu, *deployment.model.split("/", 1))
    version = latest_of(model)
    if deployment.version is not None:
        version = next((v for v in model.versions if v.id == deployment.version), version)
    return await _create(request, emu, model, version, ref)


def find_run(emu: Emulator, kind: str, run_id: str) -> Run:
    """The run ``run_id`` of ``kind`` or a 404 problem."""
    run = state(emu).runs.get(run_id)
    if run is None or run.kind != kind:
        raise not_found(f"{kind.title()} {run_id}")
    return run


@problems
async def get_prediction(request: Request, emu: Emulator) -> Response:
    """GET /predictions/{id}."""
    run = find_run(emu, "prediction", request.params["id"])
    return JSONResponse(render_run(run, state(emu).now(), api_base(request)))


@problems
async def list_predictions(request: Request, emu: Emulator) -> Response:
    """GET /predictions: newest first, cursor pages."""
    st = state(emu)
    now, base = st.now(), api_base(request)
    runs = st.listed("prediction")
    body = page(request, [render_run(r, now, base) for r in runs], st.settings.page_size)
    return JSONResponse(body)


@problems
async def cancel_prediction(request: Request, emu: Emulator) -> Response:
    """POST /predictions/{id}/cancel: a terminal prediction comes back unchanged."""
    st = state(emu)
    run = find_run(emu, "prediction", request.params["id"])
    run.cancel(st.now())
    return JSONResponse(render_run(run, st.now(), api_base(request)))


def _event(name: str, data: str, event_id: str) -> bytes:
    """One SSE event as the real stream writes it: ``field: value`` (so a value's own leading
    space survives the one space a decoder strips)."""
    lines = [f"event: {name}", f"id: {event_id}", *(f"data: {line}" for line in data.split("\n"))]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _frames(run: Run, snap_tokens: list[str], snap_logs: list[str], sent: list[int]) -> list[bytes]:
    frames: list[tuple[str, str]] = [("output", t) for t in snap_tokens[sent[0] :]]
    frames += [("logs", line) for line in snap_logs[sent[1] :]]
    sent[0], sent[1] = len(snap_tokens), len(snap_logs)
    out = []
    for name, data in frames:
        sent[2] += 1
        out.append(_event(name, data, f"{run.id}:{sent[2]}"))
    return out


def _final(run: Run, status: str, error: str | None, sent: list[int]) -> list[bytes]:
    frames = []
    if status == "failed":
        sent[2] += 1
        frames.append(_event("error", json.dumps({"detail": error}), f"{run.id}:{sent[2]}"))
    done = {"reason": "canceled"} if status == "canceled" else {}
    sent[2] += 1
    frames.append(_event("done", json.dumps(done), f"{run.id}:{sent[2]}"))
    return frames


def _chunks(data: bytes, rng: random.Random, largest: int | None) -> list[bytes]:
    if not largest:
        return [data]
    pieces, i = [], 0
    while i < len(data):
        step = rng.randint(1, largest)
        pieces.append(data[i : i + step])
        i += step
    return pieces


async def _stream(emu: Emulator, run: Run) -> AsyncIterator[bytes]:
    st = state(emu)
    loop = asyncio.get_running_loop()
    rng = random.Random(f"{emu.seed}:{run.id}")
    sent = [0, 0, 0]  # tokens, log lines, event ids
    quiet_since = loop.time()
    while True:
        snap = st.runs[run.id].snapshot(st.now())
        frames = _frames(run, snap.tokens, snap.logs, sent)
        terminal = snap.status in TERMINAL
        if terminal:
            frames += _final(run, snap.status, snap.error, sent)
        if not frames and loop.time() - quiet_since >= st.settings.keepalive:
            frames = [b": ping\n\n"]
        for frame in frames:
            for piece in _chunks(frame, rng, st.settings.sse_chunk_max):
                yield piece
            quiet_since = loop.time()
        if terminal:
            return
        await asyncio.sleep(st.settings.poll_interval)


@problems
async def stream_prediction(request: Request, emu: Emulator) -> Response:
    """GET /predictions/{id}/stream (the ``urls.stream`` of iterator models)."""
    run = find_run(emu, "prediction", request.params["id"])
    if not run.iterator:
        raise not_found(f"A stream for prediction {run.id}")
    return StreamResponse(_stream(emu, run), headers={"cache-control": "no-store"})


ROUTES: list[Route] = [
    Route("POST", "/predictions", create_prediction, CREATE_KIND),
    Route("POST", "/models/{owner}/{name}/predictions", create_model_prediction, CREATE_KIND),
    Route(
        "POST", "/deployments/{owner}/{name}/predictions", create_deployment_prediction, CREATE_KIND
    ),
    Route("GET", "/predictions", list_predictions, "predictions.list"),
    Route("GET", "/predictions/{id}", get_prediction, "predictions.get"),
    Route("POST", "/predictions/{id}/cancel", cancel_prediction, "predictions.cancel"),
    Route("GET", "/predictions/{id}/stream", stream_prediction, "predictions.stream", auth=False),
]
