"""OpenAI-compatible batches below ``/compatible-mode/v1/batches`` (PROTOCOL.md "Batch API";
recorded ``create-batch-compatible-nosse``, ``get-*-batch-compatible-nosse``,
``list-batches-empty-compatible-nosse``, ``get-file-content-compatible-nosse``).

Rules of this module:
- Create checks its arguments at once (400 ``InvalidParameter``: unknown input file or one
  whose purpose is not ``batch``, endpoint, ``completion_window`` 24h..336h / 1d..14d,
  metadata of strings) and answers ``validating`` with zero counts, as recorded.
- The lifecycle is a function of the clock (``emu.clock``; timings in ``BatchSettings``):
  ``validating`` → ``in_progress`` (lines run at an even pace) → ``finalizing`` → ``completed``.
  An input that does not validate ends ``failed`` with ``errors.data[] {code, message, param,
  line}`` (``empty_file``, ``too_many_lines``, ``file_too_large``, ``invalid_json_line``,
  ``missing_custom_id``, ``duplicate_custom_id``, ``invalid_url``, ``missing_model``,
  ``mismatched_model``, ``model_not_found``). Past ``completion_window`` an unfinished batch is
  ``expired``: its unrun lines go to the error file as ``batch_expired``. A cancel makes it
  ``cancelling`` for ``finalizing`` seconds, then ``cancelled`` with the lines run so far; a
  finished batch cannot be cancelled (400).
- Lines run through the emulator's own engines (``compatible.execute``): answers go to the
  output file, refusals to the error file (``response.status_code`` 4xx and ``error``), one
  JSON line each, ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
  "error"}``. Work is done lazily when a batch is looked at, so no background task is needed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashscope_core._protocol.batch import BEIJING, LIST_TIME_FORMAT
from dashscope_core.emulator._compat_state import (
    CompatState,
    compat_file,
    compat_state,
    list_page,
    route,
)
from dashscope_core.emulator.compatible import TEST_MODEL, compatible_error, execute
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import get_profile

__all__ = ["ENDPOINTS", "ROUTES", "EmulatedBatch"]

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/chat/ds-test")
MAX_LINES = 50_000
MAX_BYTES = 500 * 1000 * 1000
_WINDOW = re.compile(r"^([1-9][0-9]*)([hd])$")
_MAX_ERRORS = 100


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


@dataclass
class EmulatedBatch:
    """One batch, its input lines and what has run so far."""

    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    window: float
    metadata: dict[str, str] | None
    created: float
    lines: list[bytes]
    errors: list[dict[str, Any]]
    validating: float
    running: float
    finalizing: float
    cancelled_at: float | None = None
    ran: int = 0
    completed: int = 0
    failed: int = 0
    outputs: list[bytes] = field(default_factory=list)
    failures: list[bytes] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None
    written: bool = False
    """The result files were made (the batch reached a terminal status)."""

    @property
    def started(self) -> float:
        """When ``in_progress`` starts."""
        return self.created + self.validating

    @property
    def done_at(self) -> float:
        """When the batch completes (if nothing stops it)."""
        return self.started + self.running + self.finalizing

    def status(self, now: float) -> str:
        """The status at ``now``."""
        if self.errors:
            return "validating" if now < self.started else "failed"
        if self.cancelled_at is not None:
            return "cancelling" if now < self.cancelled_at + self.finalizing else "cancelled"
        if now >= self.created + self.window and self.done_at > self.created + self.window:
            return "expired"
        if now < self.started:
            return "validating"
        if now < self.started + self.running:
            return "in_progress"
        return "finalizing" if now < self.done_at else "completed"

    def due(self, now: float) -> int:
        """Lines that have run by ``now`` (frozen at a cancel or at expiry)."""
        if self.errors:
            return 0
        stop = min(now, self.created + self.window)
        if self.cancelled_at is not None:
            stop = min(stop, self.cancelled_at)
        if stop < self.started:
            return 0
        if self.running <= 0 or stop >= self.started + self.running:
            return len(self.lines)
        return math.floor(len(self.lines) * (stop - self.started) / self.running)


def _window_seconds(value: Any) -> float:
    match = _WINDOW.match(value) if isinstance(value, str) else None
    hours = int(match[1]) * (24 if match[2] == "d" else 1) if match else 0
    if not 24 <= hours <= 336:
        raise _bad("completion_window should be between 24h and 336h (or 1d and 14d).")
    return hours * 3600.0


def _supported(model: str, endpoint: str) -> bool:
    """Whether the Batch API serves ``model`` on ``endpoint`` (the profile table's ``batch``)."""
    if endpoint == "/v1/chat/ds-test":
        return model == TEST_MODEL
    profile = get_profile(model)
    kind = "embedding" if endpoint == "/v1/embeddings" else "chat"
    return profile.known and profile.batch and profile.kind == kind


def _line_error(number: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": number}


def _check_line(raw: bytes, number: int, endpoint: str, seen: set[str]) -> tuple[Any, Any]:
    """(custom_id, model) of a line, or raise ``ValueError`` holding its error dict."""
    try:
        line = json.loads(raw)
    except ValueError:
        line = None
    if not isinstance(line, dict):
        raise ValueError(_line_error(number, "invalid_json_line", "Line is not a JSON object."))
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise ValueError(_line_error(number, "missing_custom_id", "custom_id is required.",
                                     "custom_id"))  # fmt: skip
    if custom_id in seen:
        message = (
            f"The custom_id '{custom_id}' for this request is a duplicate of another request. "
            "The custom_id parameter must be unique for each request in a batch."
        )
        raise ValueError(_line_error(number, "duplicate_custom_id", message, "custom_id"))
    seen.add(custom_id)
    if line.get("method") != "POST" or line.get("url") != endpoint:
        message = f"method must be POST and url must be the batch endpoint {endpoint}."
        raise ValueError(_line_error(number, "invalid_url", message, "url"))
    body = line.get("body")
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model:
        raise ValueError(_line_error(number, "missing_model", "body.model is required.", "model"))
    return custom_id, model


def _validate(content: bytes, endpoint: str) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The input's lines and its validation errors (an empty list when it is valid)."""
    lines = [line for line in content.removeprefix(b"\xef\xbb\xbf").split(b"\n") if line.strip()]
    if not lines:
        return [], [_line_error(0, "empty_file", "The input file is empty.")]
    if len(content) > MAX_BYTES:
        return [], [_line_error(0, "file_too_large", f"The input file exceeds {MAX_BYTES} bytes.")]
    if len(lines) > MAX_LINES:
        return [], [_line_error(0, "too_many_lines", f"The input file has more than {MAX_LINES} "
                                "lines.")]  # fmt: skip
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    first_model: str | None = None
    for number, raw in enumerate(lines, 1):
        try:
            _, model = _check_line(raw, number, endpoint, seen)
        except ValueError as exc:
            errors.append(exc.args[0])
            continue
        if first_model is None and not _supported(model, endpoint):
            message = f"The provided model '{model}' is not supported by the Batch API."
            errors.append(_line_error(number, "model_not_found", message, "model"))
        elif first_model is not None and model != first_model:
            message = (f"The model '{model}' for this request does not match the rest of the "
                       "batch. Each batch must contain requests for a single model.")  # fmt: skip
            errors.append(_line_error(number, "mismatched_model", message, "model"))
        first_model = first_model or model
        if len(errors) >= _MAX_ERRORS:
            break
    return lines, errors


def _line_id(batch: EmulatedBatch, index: int) -> str:
    digest = hashlib.sha256(f"{batch.id}:{index}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _run_line(batch: EmulatedBatch, index: int, request: Request, emulator: Emulator) -> None:
    line = json.loads(batch.lines[index])
    rid = _line_id(batch, index)
    record: dict[str, Any] = {"id": rid, "custom_id": line["custom_id"]}
    try:
        body = execute(batch.endpoint, line["body"], request, emulator, rid)
    except ApiError as exc:
        refusal = compatible_error(exc, rid)
        record["response"] = {"status_code": exc.status, "request_id": rid, "body": refusal}
        record["error"] = {"code": refusal["error"]["code"], "message": exc.message}
        batch.failures.append(_dumps(record))
        batch.failed += 1
        return
    record["response"] = {"status_code": 200, "request_id": rid, "body": body}
    batch.outputs.append(_dumps({**record, "error": None}))
    batch.completed += 1


def _expire_rest(batch: EmulatedBatch) -> None:
    message = "This request could not be executed before the completion window expired."
    for index in range(batch.ran, len(batch.lines)):
        custom_id = json.loads(batch.lines[index])["custom_id"]
        record = {"id": _line_id(batch, index), "custom_id": custom_id, "response": None,
                  "error": {"code": "batch_expired", "message": message}}  # fmt: skip
        batch.failures.append(_dumps(record))
        batch.failed += 1


def _write_files(batch: EmulatedBatch, state: CompatState, status: str, now: float) -> None:
    if status == "expired":
        _expire_rest(batch)
    if batch.outputs:
        name = f"{batch.id}_output.jsonl"
        batch.output_file_id = state.files.add(b"".join(batch.outputs), name, "batch_output",
                                               now).id  # fmt: skip
    if batch.failures:
        name = f"{batch.id}_error.jsonl"
        batch.error_file_id = state.files.add(b"".join(batch.failures), name, "batch_error",
                                              now).id  # fmt: skip
    batch.outputs, batch.failures = [], []  # the files hold them now
    batch.written = True


def _advance(batch: EmulatedBatch, state: CompatState, request: Request, emu: Emulator) -> str:
    """Run the lines due by now; write the result files once the batch is terminal."""
    now = state.now()
    status = batch.status(now)
    due = batch.due(now)
    while batch.ran < due:
        _run_line(batch, batch.ran, request, emu)
        batch.ran += 1
    if status in ("completed", "expired", "cancelled") and not batch.written:
        _write_files(batch, state, status, now)
    return status


def _render(batch: EmulatedBatch, status: str, now: float) -> dict[str, Any]:
    def at(when: float | None, reached: bool) -> int | None:
        return int(when) if reached and when is not None else None

    cancelled = batch.cancelled_at
    running = not batch.errors and now >= batch.started and (
        cancelled is None or cancelled >= batch.started)  # fmt: skip
    run_end = batch.started + batch.running
    validated = not batch.errors and status != "validating"
    return {
        "id": batch.id, "object": "batch", "endpoint": batch.endpoint,
        "errors": {"object": "list", "data": batch.errors} if status == "failed" else None,
        "input_file_id": batch.input_file_id, "completion_window": batch.completion_window,
        "status": status, "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id, "created_at": int(batch.created),
        "in_progress_at": at(batch.started, running),
        "expires_at": None,  # as recorded: null while running and once completed
        "finalizing_at": at(run_end, status in ("finalizing", "completed")),
        "completed_at": at(batch.done_at, status == "completed"),
        "failed_at": at(batch.started, status == "failed"),
        "expired_at": at(batch.created + batch.window, status == "expired"),
        "cancelling_at": at(cancelled, cancelled is not None),
        "cancelled_at": at((cancelled or 0) + batch.finalizing, status == "cancelled"),
        "request_counts": {"total": len(batch.lines) if validated else 0,
                           "completed": batch.completed, "failed": batch.failed},
        "metadata": batch.metadata,
    }  # fmt: skip


def _batches(state: CompatState) -> dict[str, EmulatedBatch]:
    found: dict[str, EmulatedBatch] = state.batches
    return found


def _look(batch: EmulatedBatch, request: Request, emulator: Emulator) -> dict[str, Any]:
    state = compat_state(emulator)
    with state.lock:
        status = _advance(batch, state, request, emulator)
        return _render(batch, status, state.now())


def _find(request: Request, emulator: Emulator) -> EmulatedBatch:
    batch = _batches(compat_state(emulator)).get(request.params["batch_id"])
    if batch is None:
        raise ApiError(404, "NotFound", f"The batch {request.params['batch_id']} does not exist.")
    return batch


def _check_create(body: Any, state: CompatState) -> tuple[str, str, str, float, Any]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    file_id, endpoint = body.get("input_file_id"), body.get("endpoint")
    if not isinstance(file_id, str) or not file_id:
        raise _bad('Required parameter "input_file_id" missing.')
    stored = compat_file(state, file_id)
    if stored.purpose != "batch":
        raise _bad(f"The file {file_id} has purpose {stored.purpose!r}; batches need 'batch'.")
    if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
        raise _bad(f"endpoint should be one of {list(ENDPOINTS)}.")
    window = str(body.get("completion_window", "24h"))
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):  # fmt: skip
        raise _bad("metadata should be an object of strings.")
    return file_id, endpoint, window, _window_seconds(window), metadata


async def create(request: Request, emulator: Emulator) -> Response:
    """``POST /batches``: a new batch, ``validating``."""
    state = compat_state(emulator)
    file_id, endpoint, window, seconds, metadata = _check_create(request.json, state)
    lines, errors = _validate(compat_file(state, file_id).content, endpoint)
    knobs, scale, now = state.settings, state.settings.time_scale, state.now()
    running = max(knobs.min_running, knobs.per_line * len(lines)) * scale
    digest = hashlib.sha256(f"batch:{emulator.seed}:{request.request_id}".encode()).digest()
    batch_id = f"batch_{uuid.UUID(bytes=digest[:16], version=4)}"
    batch = EmulatedBatch(batch_id, endpoint, file_id, window, seconds, metadata, now, lines,
                          errors, knobs.validating * scale, running,
                          knobs.finalizing * scale)  # fmt: skip
    with state.lock:
        _batches(state)[batch.id] = batch
    return JSONResponse(_render(batch, "validating", now))  # as recorded, whatever the timing


async def get(request: Request, emulator: Emulator) -> Response:
    """``GET /batches/{batch_id}``."""
    return JSONResponse(_look(_find(request, emulator), request, emulator))


async def cancel(request: Request, emulator: Emulator) -> Response:
    """``POST /batches/{batch_id}/cancel``: ``cancelling``, then ``cancelled``."""
    batch = _find(request, emulator)
    state = compat_state(emulator)
    with state.lock:
        status = _advance(batch, state, request, emulator)
        if status in ("completed", "failed", "expired", "cancelled", "cancelling"):
            raise _bad(f"The batch {batch.id} cannot be cancelled: it is {status}.")
        batch.cancelled_at = state.now()
    return JSONResponse(_look(batch, request, emulator))


def _list_time(query: dict[str, str], name: str) -> float | None:
    value = query.get(name)
    if not value:
        return None
    try:
        return datetime.strptime(value, LIST_TIME_FORMAT).replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        raise _bad(f"{name} should be written yyyyMMddHHmmss.") from None


def _matches(item: dict[str, Any], query: dict[str, str], after: float | None,
             before: float | None) -> bool:  # fmt: skip
    statuses = [s for s in query.get("status", "").split(",") if s]
    files = [f for f in query.get("input_file_ids", "").split(",") if f]
    name = query.get("ds_name")
    return ((not statuses or item["status"] in statuses)
            and (not files or item["input_file_id"] in files)
            and (not name or (item["metadata"] or {}).get("ds_name") == name)
            and (after is None or item["created_at"] >= after)
            and (before is None or item["created_at"] <= before))  # fmt: skip


async def list_batches(request: Request, emulator: Emulator) -> Response:
    """``GET /batches``: newest first, filtered (lists comma-joined, times yyyyMMddHHmmss)."""
    state = compat_state(emulator)
    after = _list_time(request.query, "create_after")
    before = _list_time(request.query, "create_before")
    items = [_look(b, request, emulator) for b in reversed(list(_batches(state).values()))]
    items = [item for item in items if _matches(item, request.query, after, before)]
    return JSONResponse(list_page(items, request.query, state.settings.page_size))


ROUTES = [
    route("POST", "/batches", create, "batches"),
    route("GET", "/batches", list_batches, "batches"),
    route("GET", "/batches/{batch_id}", get, "batches"),
    route("POST", "/batches/{batch_id}/cancel", cancel, "batches"),
]
