"""The ASGI app: prefix, routing, auth, scripts and faults, then the endpoint handler.

Rules of this module:
- Each route has its prefix: native routes below ``/api/v1``; OpenAI-compatible mode below
  ``/compatible-mode/v1``, whose errors (auth, 404, faults, handler errors) are OpenAI-shaped:
  ``{"error": {"message", "type", "param", "code"}, "request_id"}``.
- Every reply carries ``x-request-id``, equal to the body's ``request_id`` on native routes
  (PROTOCOL.md); compatible-mode bodies are not given one (the recordings have none).
- Order per call: record the request → route (404/405) → auth (401) → rate limits (429, see
  ``ratelimits``) → fault → scripted error/json → JSON parse (400) → handler; the answer's
  usage is counted against the model's token limits; ``emulator.latency`` delays every reply.
  Faults and scripts are applied here, so they work for every endpoint module, including ones
  added later.
- A handler's 4xx ``ApiError`` (or a rate-limit 429) on a stream request answers HTTP 200 with
  one ``event:error`` frame (recorded ``parameter-error-sse``); other handler exceptions become
  500 ``InternalError``; ``AbortConnection`` propagates to the server,
  which drops the connection (through ``httpx.ASGITransport`` the client sees the exception).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, MutableMapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from dashscope_core._protocol.request_cost import limited_model, usage_of
from dashscope_core._protocol.sse import encode_event
from dashscope_core.emulator import (
    apps,
    compatible,
    compatible_batches,
    compatible_files,
    embeddings,
    files,
    generation,
    image_edit,
    multimodal,
    prediction_catalog,
    predictions,
    ratelimits,
    rerank,
    tasks,
    tokenizer,
    trainings,
    uploads,
    video_synthesis,
)
from dashscope_core.emulator.compatible import compatible_error
from dashscope_core.emulator.faults import Fault
from dashscope_core.emulator.routing import (
    API_PREFIX,
    COMPATIBLE_PREFIX,
    AbortConnection,
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    SSEEvent,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator, ReceivedRequest, Scripted

__all__ = [
    "API_PREFIX",
    "COMPATIBLE_PREFIX",
    "ROUTES",
    "EmulatorApp",
    "create_app",
    "error_response",
    "error_stream",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The extension point: each endpoint module exposes ROUTES; add one line per module.
ROUTES: list[Route] = [
    *generation.ROUTES,
    *embeddings.ROUTES,
    *rerank.ROUTES,
    *uploads.ROUTES,
    *multimodal.ROUTES,
    *apps.ROUTES,
    *predictions.ROUTES,
    *prediction_catalog.ROUTES,
    *trainings.ROUTES,
    *tasks.ROUTES,
    *tokenizer.ROUTES,
    *image_edit.ROUTES,
    *video_synthesis.ROUTES,
    *files.ROUTES,
    *compatible.ROUTES,
    *compatible_files.ROUTES,
    *compatible_batches.ROUTES,
    *ratelimits.ROUTES,
]

_STATUS_FAULTS = {
    "throttle": (429, "Throttling", "Requests rate limit exceeded, please try again later."),
    "server_error": (500, "InternalError", "An internal error has occured, please try again."),
    "unavailable": (503, "ServiceUnavailable", "The service is temporarily unavailable."),
}
_ERROR_EVENT = ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")


def error_response(exc: ApiError, request_id: str, compatible: bool = False) -> JSONResponse:
    """The error body for ``exc``: DashScope's ``{"code","message","request_id"}``, or with
    ``compatible`` OpenAI's ``{"error": {...}, "request_id"}`` (``compatible_error``)."""
    if compatible:
        return JSONResponse(compatible_error(exc, request_id), exc.status, dict(exc.headers))
    body = {"code": exc.code, "message": exc.message, "request_id": request_id}
    return JSONResponse(body, exc.status, dict(exc.headers))


def error_stream(exc: ApiError, request_id: str) -> StreamResponse:
    """A validation error on a stream: HTTP 200 and one ``event:error`` frame carrying
    ``:HTTP_STATUS/4xx`` (recorded ``parameter-error-sse``)."""
    body = {"code": exc.code, "message": exc.message, "request_id": request_id}
    return StreamResponse([SSEEvent(body, event="error", status=exc.status)])


class EmulatorApp:
    """ASGI app serving ``routes`` under ``/api/v1`` with the state of ``emulator``."""

    def __init__(self, emulator: Emulator | None = None, routes: Iterable[Route] | None = None):
        self.emulator = emulator or Emulator()
        self.routes = list(ROUTES if routes is None else routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        request_id = self.emulator.next_request_id()
        compatible = str(scope["path"]).startswith(COMPATIBLE_PREFIX + "/")
        fault: Fault | None = None
        try:
            response, fault = await self._respond(scope, body, request_id)
        except ApiError as exc:
            response = error_response(exc, request_id, compatible)
        except AbortConnection:
            raise
        except Exception as exc:  # a handler bug answers 500 like the real service
            message = f"{type(exc).__name__}: {exc}"
            error = ApiError(500, "InternalError", message)
            response = error_response(error, request_id, compatible)
        if self.emulator.latency:
            await asyncio.sleep(self.emulator.latency)
        await _send(send, response, fault, request_id, compatible)

    def _request(self, scope: Scope, body: bytes, request_id: str) -> tuple[Request, bool]:
        """Parse and record the request; 404/405 for unknown routes. Also: is the JSON bad?"""
        method: str = scope["method"]
        path: str = scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        route, params = self._route(method, path)
        prefixes = [r.prefix for r in self.routes if path.startswith(r.prefix + "/")]
        prefix = route.prefix if route is not None else (prefixes or [API_PREFIX])[0]
        sub = path[len(prefix) :] if path.startswith(prefix + "/") else path
        # multipart bodies (the file API's uploads) are the handler's to parse
        form = headers.get("content-type", "").lower().startswith("multipart/")
        payload, bad_json = (None, False) if form else _parse_json(body)
        kind = route.kind if route else None
        self.emulator.record(ReceivedRequest(method, sub, kind, headers, payload, body, request_id))
        if route is None:
            raise _not_found(method, sub, [r for r in self.routes if r.prefix == prefix])
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        request = Request(
            method=method, path=sub, params=params, query=query, headers=headers, body=body,
            json=payload, sse=_wants_sse(headers), request_id=request_id, route=route,
        )  # fmt: skip
        return request, bad_json

    async def _respond(
        self, scope: Scope, body: bytes, request_id: str
    ) -> tuple[Response, Fault | None]:
        request, bad_json = self._request(scope, body, request_id)
        route, emu = request.route, self.emulator
        if route.auth:
            _authorize(emu, request)
        model = limited_model(request.json)
        admitted_at = 0.0 if model is None else emu.clock()
        refused = None if model is None else emu.rate_limits.admit(model, admitted_at)
        if refused is not None:  # a refused native stream is a 200 with one error frame
            if request.sse and route.prefix == API_PREFIX:
                return error_stream(refused, request_id), None
            raise refused
        fault = emu.faults.take(route.kind)
        _apply_early_fault(fault)
        scripted = emu.script.take(route.kind)
        if scripted is not None and scripted.action != "reply":
            return _scripted_response(scripted, request_id), fault
        if bad_json:
            raise ApiError(400, "InvalidParameter", "The request body is not valid JSON.")
        if scripted is not None:
            request = replace(request, script=scripted)
        try:
            response = await route.handler(request, emu)
        except ApiError as exc:
            if not request.sse or exc.status >= 500 or route.prefix != API_PREFIX:
                raise
            return error_stream(exc, request_id), fault
        metered = response if model is None else _metered(response, emu, model, admitted_at)
        return metered, fault

    def _route(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            if not path.startswith(route.prefix + "/"):
                continue
            params = route.match(path[len(route.prefix) :])
            if params is not None and route.method == method:
                return route, params
        return None, {}


def create_app(emulator: Emulator | None = None) -> EmulatorApp:
    """The emulator's ASGI app (usable in-process through ``httpx.ASGITransport``)."""
    return EmulatorApp(emulator)


def _not_found(method: str, sub: str, routes: Iterable[Route]) -> ApiError:
    """404 for an unknown path, 405 for a known path with another method."""
    if any(route.match(sub) is not None for route in routes):
        return ApiError(405, "MethodNotAllowed", f"Method {method} is not allowed for this URL.")
    return ApiError(404, "NotFound", f"The requested URL {sub} was not found.")


def _authorize(emu: Emulator, request: Request) -> None:
    key = request.api_key
    if not key:
        raise ApiError(401, "InvalidApiKey", "No API-key provided.")
    if not emu.accepts(key):
        raise ApiError(401, "InvalidApiKey", "Invalid API-key provided.")


def _apply_early_fault(fault: Fault | None) -> None:
    if fault is None:
        return
    if fault.kind == "drop":
        raise AbortConnection("fault injected: drop")
    if fault.kind in _STATUS_FAULTS:
        status, code, message = _STATUS_FAULTS[fault.kind]
        headers = {"retry-after": _seconds(fault.retry_after)} if status == 429 else {}
        raise ApiError(status, code, message, headers)


def _metered(response: Response, emu: Emulator, model: str, admitted_at: float) -> Response:
    """``response``, booking its usage against ``model``'s token limits once it is known."""
    if isinstance(response, JSONResponse):
        emu.rate_limits.record(model, usage_of(response.body)[0] or 0, admitted_at)
        return response

    async def events() -> AsyncIterator[SSEEvent | bytes]:
        last: Any = None
        try:
            async for item in _aiter(response.events):
                if isinstance(item, SSEEvent) and item.data != "[DONE]":  # compatible mode's end
                    last = item.data
                yield item
        finally:
            emu.rate_limits.record(model, usage_of(last)[0] or 0, admitted_at)

    return replace(response, events=events())


def _scripted_response(scripted: Scripted, request_id: str) -> JSONResponse:
    data = scripted.data
    if scripted.action == "error":
        retry = data.get("retry_after")
        headers = {} if retry is None else {"retry-after": _seconds(retry)}
        raise ApiError(data["status"], data["code"], data["message"], headers)
    body = data["body"]
    if isinstance(body, dict) and "request_id" not in body:
        body = {**body, "request_id": request_id}
    return JSONResponse(body, data["status"], dict(data["headers"]))


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _wants_sse(headers: dict[str, str]) -> bool:
    return (
        headers.get("x-dashscope-sse", "").strip().lower() == "enable"
        or "text/event-stream" in headers.get("accept", "").lower()
    )


def _parse_json(body: bytes) -> tuple[Any, bool]:
    if not body.strip():
        return None, False
    try:
        return json.loads(body.decode("utf-8-sig")), False
    except (UnicodeDecodeError, ValueError):
        return None, True


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AbortConnection("client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _start(status: int, headers: dict[str, str], request_id: str) -> Message:
    merged = {**{k.lower(): v for k, v in headers.items()}, "x-request-id": request_id}
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items()]
    return {"type": "http.response.start", "status": status, "headers": raw}


async def _send(
    send: Send, response: Response, fault: Fault | None, request_id: str, compatible: bool
) -> None:
    if fault is not None and fault.kind == "slow_first_byte":
        await asyncio.sleep(fault.delay)
    if isinstance(response, StreamResponse):
        await _send_stream(send, response, fault, request_id)
        return
    if fault is not None and fault.kind == "error_event":
        code, message = _ERROR_EVENT
        response = error_response(ApiError(429, code, message), request_id)
    body = response.body
    if isinstance(body, dict) and "request_id" not in body and not compatible:
        body = {**body, "request_id": request_id}
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {
        "content-type": "application/json",
        **response.headers,
        "content-length": str(len(raw)),
    }
    await send(_start(response.status, headers, request_id))
    kind = fault.kind if fault is not None else ""
    if kind == "stall":
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        await asyncio.sleep(fault.delay if fault is not None else 0)
    if kind in ("cut_stream", "missing_final"):
        await send({"type": "http.response.body", "body": raw[: len(raw) // 2], "more_body": True})
        raise AbortConnection(f"fault injected: {kind}")
    await send({"type": "http.response.body", "body": raw, "more_body": False})


async def _send_stream(
    send: Send, response: StreamResponse, fault: Fault | None, request_id: str
) -> None:
    headers = {"content-type": response.media_type, **response.headers}
    await send(_start(response.status, headers, request_id))
    kind = fault.kind if fault is not None else ""
    after = fault.after if fault is not None else 0
    sent = 0
    async for item, last in _lookahead(response.events):
        if kind == "missing_final" and last:
            break
        if kind in ("cut_stream", "error_event") and (sent >= after or last):
            if kind == "cut_stream":
                raise AbortConnection("fault injected: cut_stream")
            code, message = _ERROR_EVENT
            error = {"code": code, "message": message, "request_id": request_id}
            item = SSEEvent(error, event="error", status=429)
            last = True
        if kind == "stall" and sent == after and fault is not None:
            await asyncio.sleep(fault.delay)
        await send({"type": "http.response.body", "body": _encode(item, sent), "more_body": True})
        sent += 1
        if last:
            break
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _encode(item: SSEEvent | bytes, sent: int) -> bytes:
    if isinstance(item, bytes):
        return item
    event_id = item.id if item.id is not None else str(sent + 1)
    return encode_event(item.data_text(), event=item.event, id=event_id, status=item.status)


async def _lookahead(
    events: Any,
) -> AsyncIterator[tuple[SSEEvent | bytes, bool]]:
    """Yield ``(item, is_last)`` from a sync or async iterable."""
    iterator = _aiter(events)
    try:
        current = await anext(iterator)
    except StopAsyncIteration:
        return
    async for following in iterator:
        yield current, False
        current = following
    yield current, True


async def _aiter(events: Any) -> AsyncIterator[SSEEvent | bytes]:
    if hasattr(events, "__aiter__"):
        async for item in events:
            yield item
    else:
        for item in events:
            yield item
