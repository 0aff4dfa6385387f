"""HTTP helpers of the prediction API: RFC 7807 problems, absolute URLs, cursor pages,
``Prefer: wait`` and faults that strike after a create handler has run.

Rules of this module:
- Errors of the prediction API are RFC 7807 (``application/problem+json``):
  ``{"status", "title", "detail"}`` (PROTOCOL.md "Prediction API"), not DashScope's
  ``{"code", "message"}``; validation errors add Cog's ``invalid_fields``.
- URLs handed out (``urls.get``, ``next``) are absolute, built from the request's ``Host``.
- Cursors are opaque (base64 of an offset); a bad cursor is a 400 problem.
- The framework's faults strike before the handler (so a faulted create creates nothing);
  ``after_handler_faults(emu)`` queues faults that strike after the run was stored.
"""

from __future__ import annotations

import base64
import functools
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator.routing import AbortConnection, JSONResponse, Request, Response
from dashscope_core.emulator.state import Emulator

__all__ = [
    "AFTER_HANDLER_KINDS",
    "AfterHandlerFaults",
    "Problem",
    "after_handler_faults",
    "api_base",
    "page",
    "problems",
    "wait_seconds",
]

PROBLEM_TYPE = "application/problem+json"
AFTER_HANDLER_KINDS = ("error_after_handler", "drop_after_handler")
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait(?:\s*=\s*([^,;\s]*))?(?:$|[,;\s])", re.I)


class Problem(Exception):
    """An RFC 7807 error reply."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.body = {"status": status, "title": title, "detail": detail, **extra}

    def response(self) -> JSONResponse:
        """The reply carrying this problem."""
        return JSONResponse(self.body, self.status, {"content-type": PROBLEM_TYPE})


def not_found(what: str) -> Problem:
    """404 for a missing resource."""
    return Problem(404, "Not found", f"{what} could not be found.")


Handler = Callable[[Request, Emulator], Any]


def problems(handler: Handler) -> Handler:
    """Turn ``Problem`` raised by ``handler`` into its RFC 7807 reply."""

    @functools.wraps(handler)
    async def wrapper(request: Request, emulator: Emulator) -> Response:
        try:
            response: Response = await handler(request, emulator)
        except Problem as problem:
            return problem.response()
        return response

    return wrapper


def api_base(request: Request) -> str:
    """``http://<Host>/api/v1``: the base of every URL handed out."""
    return f"http://{request.headers.get('host', '127.0.0.1')}/api/v1"


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o={offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text.startswith("o=") and text[2:].isdigit():
            return int(text[2:])
    except (ValueError, UnicodeDecodeError):
        pass
    raise Problem(400, "Invalid cursor", f"cursor: {cursor!r} is not a cursor this API issued")


def page(request: Request, items: Sequence[Any], size: int) -> dict[str, Any]:
    """``{"previous", "next", "results"}`` for the page at the request's ``?cursor=``."""
    start = _offset(request.query.get("cursor"))
    url = api_base(request) + request.path
    results = list(items[start : start + size])
    nxt = f"{url}?cursor={_cursor(start + size)}" if start + size < len(items) else None
    prev = None
    if start > 0:
        back = max(0, start - size)
        prev = f"{url}?cursor={_cursor(back)}" if back else url
    return {"previous": prev, "next": nxt, "results": results}


def wait_seconds(request: Request, cap: float) -> float | None:
    """Seconds a ``Prefer: wait[=N]`` header asks to hold the reply (``None``: no wait)."""
    prefer = request.headers.get("prefer")
    if not prefer:
        return None
    found = _PREFER_WAIT.search(prefer)
    if found is None:
        return None
    raw = found.group(1)
    if raw is None or raw == "":
        return cap
    try:
        seconds = float(raw)
    except ValueError:
        raise Problem(400, "Invalid Prefer header", f"Prefer: wait={raw} is not a number") from None
    if seconds < 1:
        raise Problem(400, "Invalid Prefer header", "Prefer: wait must be at least 1 second")
    return min(seconds, cap)


@dataclass(frozen=True)
class _AfterFault:
    kind: str
    route: str | None


class AfterHandlerFaults:
    """Faults that strike after a create handler stored its run (queue per route kind).

    ``error_after_handler``: the reply becomes a 500 problem though the run exists;
    ``drop_after_handler``: the connection closes without a reply though the run exists.
    """

    def __init__(self) -> None:
        self._queue: list[_AfterFault] = []
        self._lock = threading.Lock()
        self.injected = 0

    def queue(
        self, kind: str = "error_after_handler", *, route: str | None = None, times: int = 1
    ) -> AfterHandlerFaults:
        """Strike the next ``times`` creates (of route kind ``route``, or any)."""
        if kind not in AFTER_HANDLER_KINDS:
            raise ValueError(f"kind: expected one of {AFTER_HANDLER_KINDS}, got {kind!r}")
        with self._lock:
            self._queue.extend([_AfterFault(kind, route)] * times)
        return self

    def clear(self) -> None:
        """Drop queued faults."""
        with self._lock:
            self._queue.clear()

    def strike(self, route: str) -> None:
        """Called after a create of ``route`` stored its run: apply the next queued fault."""
        with self._lock:
            index = next(
                (i for i, f in enumerate(self._queue) if f.route is None or f.route == route), None
            )
            if index is None:
                return
            fault = self._queue.pop(index)
            self.injected += 1
        if fault.kind == "drop_after_handler":
            raise AbortConnection("fault injected: drop_after_handler")
        raise Problem(500, "Internal Server Error", "fault injected: error_after_handler")


def after_handler_faults(emulator: Emulator) -> AfterHandlerFaults:
    """The after-handler fault queue of ``emulator`` (forgotten by ``emulator.reset()``)."""
    return emulator.get_or_create("predictions.after_faults", AfterHandlerFaults)
