"""DashScope async tasks: image synthesis submit, task get / cancel / list, and result files.

Rules of this module (shapes from PROTOCOL.md "Async tasks" and the recorded fixtures
``image-synthesis-nosse``, ``get-task-running-nosse``, ``get-task-image-synthesis-success-nosse``):
- Submit needs ``X-DashScope-Async: enable``; without it 403 ``AccessDenied``. The reply is
  ``{"output": {"task_status": "PENDING", "task_id"}, "request_id"}``; ``tasks_submitted`` counts
  only stored tasks (a fault before the handler stores nothing).
- A task is PENDING for ``settings.start_delay``, RUNNING for ``settings.run_time`` (the
  prediction API's knobs, ``predictions.settings(emu)``), then SUCCEEDED (or FAILED when
  scripted: ``emu.script.reply("image_synthesis", code=..., message=...)``).
- An unknown id answers 200 with ``task_status: "UNKNOWN"``; cancel works only while PENDING,
  otherwise 400 ``UnsupportedOperation``. Times read ``2024-03-01 17:38:24.817`` (UTC+8).
- Result URLs point at ``/files/<hash>.png``: a real PNG whose colour derives from the prompt.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import tarfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from dashscope_core.emulator.png import png_for_name
from dashscope_core.emulator.prediction_http import Problem, after_handler_faults, api_base
from dashscope_core.emulator.prediction_runs import state
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator

__all__ = ["ROUTES", "Task", "add_task", "task_time"]

SUBMIT_KIND = "image_synthesis"
_CANCEL_MESSAGE = (
    "Failed to cancel the task, please confirm if the task exists or its status is PENDING."
)
_IMAGE_MODELS = ("wanx", "wan2", "flux", "stable-diffusion")
_SIZE = re.compile(r"^(\d{2,4})\*(\d{2,4})$")
_CHINA = timezone(timedelta(hours=8))


def task_time(ts: float) -> str:
    """DashScope's task timestamp format, e.g. ``2024-03-01 17:38:24.817``."""
    return datetime.fromtimestamp(ts, tz=_CHINA).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass
class Task:
    """One async task and its timeline."""

    id: str
    model: str
    request_id: str
    submitted: float
    pending: float
    running: float
    results: list[dict[str, Any]]
    usage: dict[str, Any] = field(default_factory=dict)
    failure: tuple[str, str] | None = None
    canceled_at: float | None = None

    def status(self, now: float) -> str:
        """PENDING, RUNNING, SUCCEEDED, FAILED or CANCELED at ``now``."""
        if self.canceled_at is not None:
            return "CANCELED"
        at = now - self.submitted
        if at < self.pending:
            return "PENDING"
        if at < self.pending + self.running:
            return "RUNNING"
        return "FAILED" if self.failure else "SUCCEEDED"

    def output(self, now: float) -> dict[str, Any]:
        """The ``output`` object of ``GET /tasks/{id}``."""
        status = self.status(now)
        out: dict[str, Any] = {
            "task_id": self.id,
            "task_status": status,
            "submit_time": task_time(self.submitted),
        }
        total = len(self.results)
        if status == "CANCELED":
            out["end_time"] = task_time(self.canceled_at or now)
        elif status != "PENDING":
            out["scheduled_time"] = task_time(self.submitted + self.pending)
        if status in ("SUCCEEDED", "FAILED"):
            out["end_time"] = task_time(self.submitted + self.pending + self.running)
        if status == "SUCCEEDED":
            out["results"] = list(self.results)
        if status == "FAILED" and self.failure:
            out["code"], out["message"] = self.failure
        done = total if status == "SUCCEEDED" else 0
        out["task_metrics"] = {
            "TOTAL": total,
            "SUCCEEDED": done,
            "FAILED": total if status == "FAILED" else 0,
        }
        return out


def _tasks(emu: Emulator) -> dict[str, Task]:
    tasks: dict[str, Task] = emu.namespace("tasks").setdefault("tasks", {})
    return tasks


def add_task(
    emu: Emulator,
    model: str,
    request_id: str,
    results: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    failure: tuple[str, str] | None = None,
) -> Task:
    """Store a new task (for any async endpoint) and count it in ``tasks_submitted``."""
    st = state(emu)
    scale = st.settings.time_scale
    digest = hashlib.sha256(f"task:{emu.seed}:{request_id}".encode()).digest()
    task = Task(
        str(uuid.UUID(bytes=digest[:16], version=4)),
        model,
        request_id,
        st.now(),
        st.settings.start_delay * scale,
        st.settings.run_time * scale,
        results,
        usage or {},
        failure,
    )
    with st.lock:
        _tasks(emu)[task.id] = task
    emu.counters["tasks_submitted"] += 1
    return task


def _invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _check_submit(request: Request) -> tuple[str, str, int]:
    if request.headers.get("x-dashscope-async", "").strip().lower() != "enable":
        raise ApiError(403, "AccessDenied", "current user api does not support synchronous calls")
    body = request.json if isinstance(request.json, dict) else {}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("model: required")
    if not model.startswith(_IMAGE_MODELS):
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    prompt = (
        (body.get("input") or {}).get("prompt") if isinstance(body.get("input"), dict) else None
    )
    if not isinstance(prompt, str) or not prompt.strip():
        raise _invalid("input.prompt: required and must be a non-empty string")
    params = body.get("parameters") or {}
    n = params.get("n", 4) if isinstance(params, dict) else 4
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4:
        raise _invalid("parameters.n: expected an integer between 1 and 4")
    size = params.get("size", "1024*1024") if isinstance(params, dict) else "1024*1024"
    if not isinstance(size, str) or not _SIZE.match(size):
        raise _invalid("parameters.size: expected 'width*height', e.g. '1024*1024'")
    return model, f"{prompt}|{params.get('seed')}|{params.get('style')}|{size}", n


async def submit_image_synthesis(request: Request, emu: Emulator) -> Response:
    """POST /services/aigc/text2image/image-synthesis (``X-DashScope-Async: enable``)."""
    model, key, n = _check_submit(request)
    base = api_base(request)
    names = [hashlib.sha256(f"{key}|{i}".encode()).hexdigest()[:24] for i in range(n)]
    results = [{"url": f"{base}/files/{name}.png"} for name in names]
    data = request.script.data if request.script is not None else {}
    failure = (data["code"], data.get("message", "")) if "code" in data else None
    task = add_task(emu, model, request.request_id, results, {"image_count": n}, failure)
    try:
        after_handler_faults(emu).strike(request.route.kind)
    except Problem as exc:
        raise ApiError(500, "InternalError", str(exc)) from None
    body = {
        "output": {"task_status": "PENDING", "task_id": task.id},
        "request_id": request.request_id,
    }
    return JSONResponse(body)


async def get_task(request: Request, emu: Emulator) -> Response:
    """GET /tasks/{id}: an unknown id is 200 ``UNKNOWN``."""
    task = _tasks(emu).get(request.params["id"])
    if task is None:
        out = {"task_id": request.params["id"], "task_status": "UNKNOWN"}
        return JSONResponse({"request_id": request.request_id, "output": out})
    now = state(emu).now()
    body: dict[str, Any] = {"request_id": request.request_id, "output": task.output(now)}
    if task.status(now) == "SUCCEEDED" and task.usage:
        body["usage"] = dict(task.usage)
    return JSONResponse(body)


async def cancel_task(request: Request, emu: Emulator) -> Response:
    """POST /tasks/{id}/cancel: only a PENDING task can be canceled."""
    st = state(emu)
    task = _tasks(emu).get(request.params["id"])
    if task is None or task.status(st.now()) != "PENDING":
        raise ApiError(400, "UnsupportedOperation", _CANCEL_MESSAGE)
    task.canceled_at = st.now()
    return JSONResponse({"request_id": request.request_id})


def _int_query(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise _invalid(f"{name}: expected an integer between 1 and {high}")
    return int(raw)


def _list_item(task: Task, now: float) -> dict[str, Any]:
    end = task.submitted + task.pending + task.running
    return {
        "task_id": task.id,
        "status": task.status(now),
        "model_name": task.model,
        "request_id": task.request_id,
        "region": "cn-beijing",
        "gmt_create": int(task.submitted * 1000),
        "start_time": int((task.submitted + task.pending) * 1000),
        "end_time": int(end * 1000),
        "api_key_id": "emulator",
    }


async def list_tasks(request: Request, emu: Emulator) -> Response:
    """GET /tasks?page_no=&page_size=&status=&model_name=&task_id=: newest first."""
    page_no = _int_query(request, "page_no", 1, 10**6)
    page_size = _int_query(request, "page_size", 10, 100)
    now = state(emu).now()
    wanted = {
        k: request.query[k] for k in ("status", "model_name", "task_id") if request.query.get(k)
    }
    items = [_list_item(t, now) for t in reversed(list(_tasks(emu).values()))]
    items = [i for i in items if all(str(i[k]) == v for k, v in wanted.items())]
    start = (page_no - 1) * page_size
    body = {
        "request_id": request.request_id,
        "data": items[start : start + page_size],
        "total": len(items),
        "total_page": math.ceil(len(items) / page_size),
        "page_no": page_no,
        "page_size": page_size,
    }
    return JSONResponse(body)


def _weights(name: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        data = f"emulated weights of {name}\n".encode()
        info = tarfile.TarInfo("weights.txt")
        info.size, info.mtime = len(data), 1704067200
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


async def get_file(request: Request, emu: Emulator) -> Response:
    """GET /files/{name}: ``<hash>.png`` images and ``<training>-weights.tar`` archives."""
    name = request.params["name"]
    if name.endswith(".png") and len(name) > 4:
        data, media = png_for_name(name[:-4]), "image/png"
    elif name.endswith("-weights.tar"):
        data, media = _weights(name), "application/x-tar"
    else:
        raise ApiError(404, "NotFound", f"The file {name} was not found.")
    headers = {"content-length": str(len(data)), "cache-control": "public, max-age=3600"}
    return StreamResponse([data], headers=headers, media_type=media)


ROUTES: list[Route] = [
    Route("POST", "/services/aigc/text2image/image-synthesis", submit_image_synthesis, SUBMIT_KIND),
    Route("GET", "/tasks", list_tasks, "tasks.list"),
    Route("GET", "/tasks/{id}", get_task, "tasks.get"),
    Route("POST", "/tasks/{id}/cancel", cancel_task, "tasks.cancel"),
    Route("GET", "/files/{name}", get_file, "files", auth=False),
]
