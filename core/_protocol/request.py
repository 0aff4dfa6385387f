"""The request a builder describes and the response a client hands back: plain data, no I/O."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import APIResponseValidationError, error_from_response


@dataclass(frozen=True)
class RequestSpec:
    """Everything a client needs to send one request; built by pure ``build_*`` functions."""

    method: str
    path: str
    """Relative to the base URL (``/services/...``) or an absolute URL (a page's ``next``)."""
    json: Any = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    """Ask for server-sent events (``X-DashScope-SSE: enable``, ``Accept: text/event-stream``)."""
    replay_safe: bool = True
    """False for creates that must not run twice (prediction API POSTs): then only 429 and
    errors raised before the request was sent are retried."""
    timeout: float | None = None
    """Read timeout for this request only (seconds); None keeps the client's."""
    files: Mapping[str, Any] | None = None
    """Multipart file fields as httpx takes them (``{"file": (name, bytes | binary IO)}``):
    the body is ``multipart/form-data``, streamed from the file objects."""
    data: Mapping[str, str] | None = None
    """Form fields sent beside ``files``."""


@dataclass(frozen=True)
class RawResponse:
    """A finished HTTP response: status, headers and the whole body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str = ""

    @property
    def request_id(self) -> str | None:
        """The ``x-request-id`` header (DashScope repeats it in the body)."""
        for key, value in self.headers.items():
            if key.lower() == "x-request-id":
                return value
        return None

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON raises ``APIResponseValidationError``."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise APIResponseValidationError(
                f"expected a JSON body, got {self.content[:200]!r}",
                status_code=self.status_code,
                request_id=self.request_id,
            ) from exc


def drop_none(value: Any) -> Any:
    """Remove ``None`` values from mappings, recursively: request bodies never carry nulls."""
    if isinstance(value, Mapping):
        return {k: drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [drop_none(v) for v in value]
    return value


def check_response(raw: RawResponse) -> RawResponse:
    """Raise the typed error for an error status or a ``code`` inside a 2xx JSON body."""
    if raw.status_code >= 400:
        raise error_from_response(raw.status_code, raw.headers, raw.content)
    # cheap pre-check: only a body mentioning "code" is parsed a second time
    if b'"code"' in raw.content and raw.content[:1] == b"{":
        try:
            body = json.loads(raw.content)
        except ValueError:
            return raw
        if isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"]:
            raise error_from_response(raw.status_code, raw.headers, body)
    return raw


def check_event(event: SSEEvent) -> SSEEvent:
    """Raise the typed error for an ``event:error`` frame or a frame announcing a 4xx/5xx."""
    if event.event == "error" or (event.status is not None and event.status >= 400):
        raise error_from_response(event.status or 500, None, event.data)
    return event


_T = TypeVar("_T")


def response_parser(parse: Callable[[RawResponse], _T]) -> Callable[[RawResponse], _T]:
    """Decorate a ``parse_*`` function: a 2xx body that is not JSON or not the promised shape
    raises ``APIResponseValidationError`` (typed, with status and request_id), never a bare
    pydantic ``ValidationError``/``ValueError``."""

    @functools.wraps(parse)
    def parse_checked(raw: RawResponse) -> _T:
        try:
            return parse(raw)
        except APIResponseValidationError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            raise APIResponseValidationError(
                f"unexpected response body ({type(exc).__name__}): {raw.content[:200]!r}",
                status_code=raw.status_code,
                request_id=raw.request_id,
            ) from exc

    return parse_checked
