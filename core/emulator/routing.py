"""The endpoint contract: requests, responses, routes and errors handlers use.

An endpoint module exposes ``ROUTES: list[Route]``; each route names an HTTP method, a path
pattern relative to its ``prefix`` (``/api/v1``, or ``/compatible-mode/v1`` for the
OpenAI-compatible routes, whose errors are OpenAI-shaped) with ``{param}`` placeholders, a
``kind`` (the name scripts and faults target, e.g. ``"generation"``) and an async handler
``async def handler(request: Request, emulator: Emulator) -> Response``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from dashscope_core.emulator.state import Emulator, Scripted

__all__ = [
    "API_PREFIX",
    "COMPATIBLE_PREFIX",
    "SSE_MEDIA_TYPE",
    "AbortConnection",
    "ApiError",
    "FormPart",
    "Handler",
    "JSONResponse",
    "Request",
    "Response",
    "Route",
    "SSEEvent",
    "StreamResponse",
]

API_PREFIX = "/api/v1"
COMPATIBLE_PREFIX = "/compatible-mode/v1"
"""OpenAI-compatible mode (PROTOCOL.md "Base URLs"): chat completions, embeddings, batches."""
SSE_MEDIA_TYPE = "text/event-stream;charset=UTF-8"
"""Content type of DashScope streams (recorded ``single-generation-message-sse``)."""


class AbortConnection(Exception):
    """Raised inside the app: close the TCP connection now, sending nothing more."""


class ApiError(Exception):
    """A DashScope error reply: ``{"code", "message", "request_id"}`` under ``status``."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class FormPart:
    """One part of a ``multipart/form-data`` body."""

    name: str
    filename: str | None
    data: bytes


@dataclass(frozen=True)
class Request:
    """A parsed request as handlers see it."""

    method: str
    path: str
    """Path below the route's prefix, e.g. ``/services/aigc/text-generation/generation``."""
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased header names."""
    body: bytes
    json: Any
    """Parsed JSON body (``None`` when the body is empty)."""
    sse: bool
    """A stream was asked for (``X-DashScope-SSE: enable`` / ``Accept: text/event-stream``)."""
    request_id: str
    route: Route
    script: Scripted | None = None
    """The scripted reply queued for this call (``emulator.script``), if any."""

    @property
    def api_key(self) -> str:
        """The bearer token ("" when absent)."""
        auth = self.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def form(self) -> list[FormPart]:
        """The parts of a ``multipart/form-data`` body (the standard library's MIME parser);
        400 ``InvalidParameter`` for another body."""
        content_type = self.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise ApiError(400, "InvalidParameter", "Content-Type: expected multipart/form-data")
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        if not message.is_multipart():
            raise ApiError(400, "InvalidParameter", "The multipart/form-data body has no parts.")
        parts = []
        for part in message.iter_parts():
            assert isinstance(part, Message)
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            parts.append(FormPart(str(name or ""), part.get_filename(), data))
        return parts


@dataclass
class JSONResponse:
    """A complete JSON reply."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SSEEvent:
    """One stream event; ``id`` is numbered 1.. by the framework when left ``None``."""

    data: Any
    """A JSON-able value, or an already encoded string."""
    event: str = "result"
    status: int = 200
    id: str | None = None

    def data_text(self) -> str:
        """The ``data:`` payload as text."""
        if isinstance(self.data, str):
            return self.data
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))


StreamItem: TypeAlias = "SSEEvent | bytes"


@dataclass
class StreamResponse:
    """A streamed reply: SSE events (encoded with DashScope framing) or raw byte chunks."""

    events: AsyncIterable[SSEEvent | bytes] | Iterable[SSEEvent | bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = SSE_MEDIA_TYPE


Response: TypeAlias = "JSONResponse | StreamResponse"
Handler: TypeAlias = "Callable[[Request, Emulator], Awaitable[Response]]"


@dataclass(frozen=True)
class Route:
    """One endpoint: ``Route("POST", "/apps/{app_id}/completion", handler, kind="apps")``."""

    method: str
    path: str
    handler: Handler
    kind: str
    """Name that scripts and faults target (``emulator.script.reply(kind, ...)``)."""
    auth: bool = True
    """Require ``Authorization: Bearer <accepted key>``."""
    prefix: str = API_PREFIX
    """The URL prefix ``path`` is below: ``/api/v1`` (native), ``/compatible-mode/v1``
    (OpenAI-compatible mode, OpenAI-shaped errors), ``/compatible-api/v1`` (OpenAI-style twins)."""
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` matches this route's pattern, else ``None``."""
        found = self.pattern.match(path)
        return None if found is None else found.groupdict()
