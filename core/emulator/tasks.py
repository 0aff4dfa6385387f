"""DashScope async tasks: the task store, text-to-image submit, task get / cancel / list, outputs.

Rules of this module (shapes from PROTOCOL.md "Async tasks" and the recorded fixtures
``image-synthesis-nosse``, ``get-task-running-nosse``, ``get-task-image-synthesis-success-nosse``,
cnblogs' ``cancel-completed-task-nosse``):
- Submit needs ``X-DashScope-Async: enable``; without it 403 ``AccessDenied``. The reply is
  ``{"output": {"task_status": "PENDING", "task_id"}, "request_id"}``; ``tasks_submitted`` counts
  only stored tasks (a fault before the handler stores nothing). ``accept_task`` does this for
  every submit route (image edit and video synthesis live in their own modules).
- A model of another task family answers 400 "url error, please check url!" (PROTOCOL.md, the
  same rule as the generation endpoints); a model of no family answers 404 ``Model.NotExist``.
- A task is PENDING for ``settings.start_delay``, RUNNING for ``settings.run_time`` (the
  prediction API's knobs, ``predictions.settings(emu)``), then SUCCEEDED (or FAILED when
  scripted: ``emu.script.reply("image_synthesis", code=..., message=...)``).
- An unknown id answers 200 with ``task_status: "UNKNOWN"``; cancel works only while PENDING,
  otherwise 400 ``UnsupportedOperation``. Times read ``2024-03-01 17:38:24.817`` (UTC+8).
- Result URLs point at ``/outputs/<hash>.png`` (no auth, like the service's signed OSS links): a
  real PNG whose colour derives from the prompt; ``/outputs/<hash>_<w>x<h>_<n>s.mp4`` is a real
  H.264 MP4 of ``n`` seconds with that aspect ratio.
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

from dashscope_core.emulator.mp4 import mp4_for_name
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
from dashscope_core.profiles import get_profile

__all__ = [
    "ROUTES",
    "Task",
    "TaskBody",
    "accept_task",
    "add_task",
    "check_model",
    "invalid",
    "output_name",
    "task_body",
    "task_time",
]

SUBMIT_KIND = "image_synthesis"
_CANCEL_MESSAGE = "Failed to cancel the task, please confirm if the task is in PENDING status."
_SIZE = re.compile(r"^(\d{2,4})\*(\d{2,4})$")
_VIDEO_NAME = re.compile(r"^[0-9a-f]{24}_(\d{1,4})x(\d{1,4})_(\d{1,2})s\.mp4$")
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
    extra: dict[str, Any] = field(default_factory=dict)
    """A SUCCEEDED video task's output fields (``video_url``, prompts); such a task reports
    neither ``results`` nor ``task_metrics``, as image tasks do."""

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
            out.update(self.extra or {"results": list(self.results)})
        if status == "FAILED" and self.failure:
            out["code"], out["message"] = self.failure
        if not self.extra:
            out["task_metrics"] = {
                "TOTAL": total,
                "SUCCEEDED": total if status == "SUCCEEDED" else 0,
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
    extra: dict[str, Any] | None = None,
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
        extra=extra or {},
    )
    with st.lock:
        _tasks(emu)[task.id] = task
    emu.counters["tasks_submitted"] += 1
    return task


def invalid(message: str) -> ApiError:
    """400 ``InvalidParameter`` with ``message``."""
    return ApiError(400, "InvalidParameter", message)


@dataclass(frozen=True)
class TaskBody:
    """A submit request's ``model``, ``input`` and ``parameters``."""

    model: str
    input: dict[str, Any]
    parameters: dict[str, Any]

    def text(self, name: str, *, required: bool = False, limit: int = 0) -> str | None:
        """``input[name]`` as a string (None when absent and not required)."""
        value = self.input.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"input.{name}: required and must be a non-empty string")
        if limit and len(value) > limit:
            raise invalid(f"input.{name}: at most {limit} characters")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        """``parameters[name]``, a number within ``low``..``high``."""
        value = self.parameters.get(name, default)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not low <= value <= high:
            raise invalid(f"parameters.{name}: expected a number between {low} and {high}")
        return float(value)

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        """``parameters[name]``, an integer within ``low``..``high``."""
        value = self.parameters.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(f"parameters.{name}: expected an integer between {low} and {high}")
        return value

    def flag(self, name: str) -> bool | None:
        """``parameters[name]``, a boolean when present."""
        value = self.parameters.get(name)
        if value is not None and not isinstance(value, bool):
            raise invalid(f"parameters.{name}: expected a boolean")
        return value

    def size(self, default: str, low: int = 128, high: int = 4096) -> tuple[int, int]:
        """``parameters.size`` (``"width*height"``), each side within ``low``..``high``."""
        size = self.parameters.get("size", default)
        found = _SIZE.match(size) if isinstance(size, str) else None
        if found is None or not all(low <= int(side) <= high for side in found.groups()):
            raise invalid(
                f"parameters.size: expected 'width*height' with sides {low}..{high}, "
                f"e.g. '{default}'"
            )
        return int(found[1]), int(found[2])


def task_body(request: Request) -> TaskBody:
    """The checked envelope of a submit: async header (403), then ``model``/``input`` (400)."""
    if request.headers.get("x-dashscope-async", "").strip().lower() != "enable":
        raise ApiError(403, "AccessDenied", "current user api does not support synchronous calls")
    body = request.json if isinstance(request.json, dict) else {}
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("model: required")
    if not isinstance(body.get("input"), dict):
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing.')
    params = body.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise invalid("parameters: expected an object")
    return TaskBody(model, body["input"], params or {})


def check_model(model: str, *families: str) -> None:
    """404 for a model of no task family, 400 "url error" for a model of another family."""
    found = task_family(model)
    if found is None:
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    if found not in families:
        raise invalid("url error, please check url!")


_FAMILIES = {"text2image": "text2image", "image_edit": "image2image",
             "image2image": "image2image", "text2video": "video", "image2video": "video",
             "keyframes2video": "image2video"}  # fmt: skip
"""The submit route of each synthesis task of the profile table."""


def task_family(model: str) -> str | None:
    """Which submit route serves ``model``: "image2image", "video", "image2video",
    "text2image", or None (not an image or video model of the profile table)."""
    task = get_profile(model).task
    return None if task is None else _FAMILIES.get(task)


def output_name(*parts: object) -> str:
    """A stable 24-hex file name for the parts (prompt, seed, index...)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


def accept_task(
    request: Request,
    emu: Emulator,
    model: str,
    results: list[dict[str, Any]],
    usage: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Response:
    """Store the task (FAILED when scripted with a ``code``) and answer PENDING."""
    data = request.script.data if request.script is not None else {}
    failure = (data["code"], data.get("message", "")) if "code" in data else None
    task = add_task(emu, model, request.request_id, results, usage, failure, extra)
    try:
        after_handler_faults(emu).strike(request.route.kind)
    except Problem as exc:
        raise ApiError(500, "InternalError", str(exc)) from None
    body = {
        "output": {"task_status": "PENDING", "task_id": task.id},
        "request_id": request.request_id,
    }
    return JSONResponse(body)


async def submit_image_synthesis(request: Request, emu: Emulator) -> Response:
    """POST /services/aigc/text2image/image-synthesis (``X-DashScope-Async: enable``)."""
    body = task_body(request)
    check_model(body.model, "text2image")
    prompt = body.text("prompt", required=True)
    n = body.integer("n", 4, 1, 4)
    body.size("1024*1024", 10, 9999)
    params = body.parameters
    key = f"{prompt}|{params.get('seed')}|{params.get('style')}|{params.get('size', '1024*1024')}"
    base = api_base(request)
    results = [{"url": f"{base}/outputs/{output_name(key, i)}.png"} for i in range(n)]
    return accept_task(request, emu, body.model, results, {"image_count": n})


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
        raise invalid(f"{name}: expected an integer between 1 and {high}")
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


async def get_output(request: Request, emu: Emulator) -> Response:
    """GET /outputs/{name}: ``.png`` images, ``.mp4`` videos, ``-weights.tar`` archives."""
    name = request.params["name"]
    video = _VIDEO_NAME.match(name)
    if name.endswith(".png") and len(name) > 4:
        data, media = png_for_name(name[:-4]), "image/png"
    elif video is not None and all(int(g) > 0 for g in video.groups()):
        ratio, seconds = (int(video[1]), int(video[2])), int(video[3])
        data, media = mp4_for_name(name, ratio, seconds), "video/mp4"
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
    Route("GET", "/outputs/{name}", get_output, "outputs", auth=False),
]
