"""Batch text embedding: the async-task form of the embeddings endpoint.

Rules of this module (DashScope "text embedding batch API": ``POST`` the embeddings path with
``X-DashScope-Async: enable``, a ``batch_embedding`` model of the profile table
(``text-embedding-async-v1``/``-v2``), ``input.url`` a text file with one text per line; the
task's ``output.url`` is the result file):
- The emulator never downloads: a ``data:`` URL (base64 or percent-encoded) gives its lines;
  any other http(s) URL counts as a file of one line, the URL itself.
- The task follows the async-task timeline of ``tasks.py`` (PENDING, RUNNING, SUCCEEDED); once
  SUCCEEDED its output carries ``url`` (no ``results``) and ``usage.total_tokens``.
- The result file (``GET /embedding-results/{task_id}.txt``, no auth, like an OSS link) holds one
  JSON line per text: ``{"text_index": i, "embedding": [...]}`` (1536 dimensions).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator._text import count_tokens
from dashscope_core.emulator.prediction_http import api_base
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.tasks import Task, add_task
from dashscope_core.profiles import get_profile

__all__ = ["RESULT_ROUTE", "is_batch", "submit_batch"]

DIMENSION = 1536
_NAMESPACE = "embeddings_batch"


@dataclass
class BatchTask(Task):
    """A batch embedding task: its output names the result file instead of listing results."""

    url: str = ""

    def output(self, now: float) -> dict[str, Any]:
        """``GET /tasks/{id}``'s output, with ``url`` once SUCCEEDED."""
        out = super().output(now)
        out.pop("results", None)
        if out["task_status"] == "SUCCEEDED":
            out["url"] = self.url
        return out


def is_batch(request: Request) -> bool:
    """The call asks for the async (batch) form."""
    return request.headers.get("x-dashscope-async", "").strip().lower() == "enable"


def _lines(url: str) -> list[str]:
    if url.startswith("data:"):
        meta, sep, payload = url[5:].partition(",")
        if not sep:
            raise ApiError(400, "InvalidParameter", "input.url: malformed data URL.")
        raw = base64.b64decode(payload) if meta.endswith(";base64") else payload.encode()
        text = urllib.parse.unquote(raw.decode("utf-8", "replace"))
        return [line for line in text.splitlines() if line.strip()]
    if url.startswith(("http://", "https://")):
        return [url]
    raise ApiError(400, "InvalidParameter", "input.url should be an http(s) or data URL.")


def _check(body: Any) -> tuple[str, list[str]]:
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing.')
    model = body.get("model")
    if not isinstance(model, str) or get_profile(model).task != "batch_embedding":
        raise ApiError(400, "InvalidParameter", f"Model {model!r} does not support async calls.")
    url = body["input"].get("url")
    if not isinstance(url, str) or not url:
        raise ApiError(400, "InvalidParameter", 'Required parameter "input.url" missing.')
    lines = _lines(url)
    if not lines:
        raise ApiError(400, "InvalidParameter", "The input file has no text.")
    return str(model), lines


async def submit_batch(request: Request, emu: Emulator) -> Response:
    """Store a batch task; answer PENDING with its id."""
    model, lines = _check(request.json)
    usage = {"total_tokens": sum(count_tokens(line) for line in lines)}
    task = add_task(emu, model, request.request_id, [], usage)
    url = f"{api_base(request)}/embedding-results/{task.id}.txt"
    tasks: dict[str, Task] = emu.namespace("tasks")["tasks"]
    tasks[task.id] = BatchTask(**vars(task), url=url)
    emu.namespace(_NAMESPACE)[task.id] = lines
    body = {"output": {"task_status": "PENDING", "task_id": task.id}, "request_id": task.request_id}
    return JSONResponse(body)


async def get_result(request: Request, emu: Emulator) -> Response:
    """The result file of a batch task: one JSON line per input text."""
    from dashscope_core.emulator.embeddings import embed  # the endpoint module imports this one

    name = request.params["name"]
    lines = emu.namespace(_NAMESPACE).get(name.removesuffix(".txt"))
    if lines is None or not name.endswith(".txt"):
        raise ApiError(404, "NotFound", f"The file {name} was not found.")
    rows = [{"text_index": i, "embedding": embed(t, DIMENSION)} for i, t in enumerate(lines)]
    data = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in rows).encode()
    headers = {"content-length": str(len(data))}
    return StreamResponse([data], headers=headers, media_type="text/plain; charset=utf-8")


RESULT_ROUTE = Route("GET", "/embedding-results/{name}", get_result, "embeddings.results", False)
