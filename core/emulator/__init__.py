"""A local DashScope-compatible server: deterministic, scriptable, with fault injection.

Quick start::

    from dashscope_core.emulator import Emulator, serve

    with serve(Emulator(seed=1)) as server:          # a free loopback port, background thread
        server.emulator.script.generation(text="Hi!")
        ...  # point a client at server.base_url ("http://127.0.0.1:PORT/api/v1")
        server.emulator.faults.queue("throttle")      # the next call answers 429 + Retry-After
        assert server.emulator.received("generation")[0].json["model"] == "qwen-plus"

In-process (no socket): ``httpx.AsyncClient(transport=httpx.ASGITransport(create_app(emu)))``.

OpenAI-compatible mode is served below ``/compatible-mode/v1`` (chat completions, embeddings,
files, batches); ``batch_settings(emu)`` holds the batch timings (``time_scale=0``: batches
finish at the first look). One clock, ``emu.clock``, drives every timeline (tasks, predictions,
batches, cache TTLs, upload expiries, rate-limit windows): ``emu.clock.advance(3600)`` makes an
hour pass at once, ``emu.clock.source = fake`` pins it.
From a shell: ``dashscope-emulator --port 8089`` or ``python -m dashscope_core.emulator``.

Adding an endpoint (the extension point)
----------------------------------------
1. Write ``core/emulator/<family>.py`` exposing ``ROUTES: list[Route]``::

       from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route
       from dashscope_core.emulator.state import Emulator

       async def complete(request: Request, emulator: Emulator) -> Response:
           app_id = request.params["app_id"]            # from the path pattern
           if request.script is not None:               # emu.script.reply("apps", text=...)
               ...
           sessions = emulator.namespace("apps")        # per-emulator state, cleared by reset()
           if request.sse:                               # X-DashScope-SSE / Accept header
               return StreamResponse(events)              # SSEEvent(data=...) or raw bytes
           return JSONResponse({"output": {...}, "usage": {...}, "request_id": request.request_id})

       ROUTES = [Route("POST", "/apps/{app_id}/completion", complete, kind="apps")]

2. Add one line ``*<family>.ROUTES,`` to ``ROUTES`` in ``core/emulator/app.py``.

The framework does the rest for every route: the ``/api/v1`` prefix, 404/405, bearer-key auth
(``Route(auth=False)`` to skip), ``x-request-id`` = body ``request_id``, recording into
``emulator.requests`` / ``emulator.counters``, queued and random faults (``emulator.faults``,
see ``faults``), scripted errors and verbatim JSON replies (``emulator.script.error`` /
``.json``), 400 on malformed JSON, 500 ``InternalError`` on handler exceptions, SSE framing
(``id:N`` / ``event:result`` / ``:HTTP_STATUS/200``, ids numbered from 1). Handlers raise
``ApiError(status, code, message)`` for DashScope errors; ``raise AbortConnection()`` drops the
connection. Scripted ``reply`` items reach the handler as ``request.script`` (kind-specific data).
"""

from dashscope_core.emulator._compat_state import BatchSettings
from dashscope_core.emulator._compat_state import settings as batch_settings
from dashscope_core.emulator._serve import ServerHandle, aserve, serve
from dashscope_core.emulator._server import Server
from dashscope_core.emulator.app import API_PREFIX, ROUTES, EmulatorApp, create_app
from dashscope_core.emulator.faults import FAULT_KINDS, Fault, Faults
from dashscope_core.emulator.routing import (
    AbortConnection,
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    SSEEvent,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator, ReceivedRequest, Script, Scripted

__all__ = [
    "API_PREFIX",
    "FAULT_KINDS",
    "ROUTES",
    "AbortConnection",
    "ApiError",
    "BatchSettings",
    "Emulator",
    "EmulatorApp",
    "Fault",
    "Faults",
    "JSONResponse",
    "ReceivedRequest",
    "Request",
    "Response",
    "Route",
    "SSEEvent",
    "Script",
    "Scripted",
    "Server",
    "ServerHandle",
    "StreamResponse",
    "aserve",
    "batch_settings",
    "create_app",
    "serve",
]
