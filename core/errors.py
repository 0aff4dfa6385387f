"""Typed errors for every non-success, and the pure mapping from a response to an error.

``error_from_response(status, headers, body)`` serves HTTP errors, a ``code`` inside a 200 body and
``event:error`` frames (status from ``:HTTP_STATUS/NNN``) alike. A status table picks the class;
the body's ``code`` refines it (``Throttling*`` is always a ``RateLimitError``). Messages never
include request headers, so the API key cannot leak through an exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "BatchFailedError",
    "CancelledError",
    "ConflictError",
    "DashScopeError",
    "IncompleteStreamError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "PredictionFailedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ResponseTooLargeError",
    "TaskFailedError",
    "ToolChoiceNotHonoredError",
    "WaitTimeoutError",
    "error_from_response",
    "parse_retry_after",
]


class DashScopeError(Exception):
    """Base class of every error this library raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class APIStatusError(DashScopeError):
    """The server answered with an error status or an error body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code, request_id=request_id)
        self.body = body
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """400: a parameter the server rejected."""


class AuthenticationError(APIStatusError):
    """401: missing or invalid API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model, app or workspace."""


class NotFoundError(APIStatusError):
    """404: unknown model, app, task or prediction."""


class ConflictError(APIStatusError):
    """409: the request conflicts with the resource's state."""


class RequestTooLargeError(APIStatusError):
    """413: the request body is larger than the server accepts."""


class RateLimitError(APIStatusError):
    """429 or a ``Throttling*`` code: slow down or raise the quota."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; retried automatically before this is raised."""


class APIResponseValidationError(APIStatusError):
    """A 2xx answer whose body is not what the protocol promises (not JSON, wrong shape)."""


class ResponseTooLargeError(APIResponseValidationError):
    """A compressed answer that decodes to more than the client's ``max_decompressed_size``."""


class IncompleteStreamError(APIStatusError):
    """A stream ended before its final frame: the partial answer is not returned as complete."""


class ToolChoiceNotHonoredError(DashScopeError):
    """``tool_choice="required"`` with several tools: every attempt answered without a tool call
    (DashScope forces only a named tool; see ``dashscope_core._protocol.tool_forcing``)."""


class APIConnectionError(DashScopeError):
    """The request could not be sent or the connection broke."""

    def __init__(self, message: str, *, request_sent: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent
        """False when the failure happened before any byte of the request left (safe to replay)."""


class APITimeoutError(APIConnectionError):
    """The connect, read or stream-idle timeout elapsed."""


class CancelledError(DashScopeError):
    """A run, prediction or task was cancelled on the caller's request or at its deadline."""


class PredictionFailedError(DashScopeError):
    """A prediction or training finished with status ``failed``."""

    def __init__(self, message: str, *, prediction: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.prediction = prediction
        self.prediction_id: str | None = getattr(prediction, "id", None)


class TaskFailedError(DashScopeError):
    """A DashScope async task finished FAILED (or CANCELED / UNKNOWN while waiting)."""

    def __init__(self, message: str, *, task: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.task = task


class BatchFailedError(DashScopeError):
    """A batch finished ``failed`` (its input did not validate): ``code``/``message`` are its
    first ``errors.data`` item, ``errors`` all of them, ``batch`` the batch."""

    def __init__(self, message: str, *, batch: Any = None, errors: Any = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.batch = batch
        self.errors: list[Any] = list(errors or [])


class WaitTimeoutError(DashScopeError, TimeoutError):
    """``timeout=`` elapsed while waiting; the job goes on server-side (wait again later)."""

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
}

_HINTS: dict[type[APIStatusError], str] = {
    AuthenticationError: "check DASHSCOPE_API_KEY (or api_key=) and that the key matches the "
    "region of base_url (international keys need region='ap-southeast-1')",
    RateLimitError: "you are being throttled: retry later, lower concurrency, or raise max_retries",
    BadRequestError: "a request parameter was rejected: check the parameter named in the message",
    PermissionDeniedError: "the key has no access to this model, app or workspace",
}


_BY_CODE_PREFIX: tuple[tuple[str, type[APIStatusError]], ...] = (
    ("Throttling", RateLimitError),
    ("InvalidApiKey", AuthenticationError),
    ("AccessDenied", PermissionDeniedError),
    ("Model.NotExist", NotFoundError),
    ("NotFound", NotFoundError),
    ("InvalidParameter", BadRequestError),
    ("DataInspectionFailed", BadRequestError),
    ("BadRequest", BadRequestError),
    ("UnsupportedOperation", BadRequestError),
    ("InternalError", InternalServerError),
    ("ServiceUnavailable", InternalServerError),
    ("GatewayTimeout", InternalServerError),
)


def _class_for(status: int | None, code: str | None) -> type[APIStatusError]:
    if code and (
        status is None or status < 400 or code.startswith(("Throttling", "InvalidApiKey"))
    ):
        for prefix, cls in _BY_CODE_PREFIX:
            if code.startswith(prefix):
                return cls
    if status is None:
        return APIStatusError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return InternalServerError
    if 400 <= status < 500:
        return BadRequestError if code else APIStatusError
    return APIStatusError


def _parse_body(body: bytes | str | Mapping[str, Any] | None) -> Any:
    if body is None or isinstance(body, Mapping):
        return body
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan" and "inf" parse as floats but say nothing: ordinary backoff applies
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (when - (now or datetime.now(timezone.utc))).total_seconds()


def _retry_after(headers: Mapping[str, str] | None, now: datetime | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return parse_retry_after(value, now)
    return None


def _fields(
    parsed: Any, status: int | None, request_id: str | None
) -> tuple[str | None, str | None, int | None, str | None]:
    """code, message, status and request_id of a parsed error body (DashScope, RFC 7807, or
    OpenAI-compatible ``{"error": {...}}``)."""
    code: str | None = None
    message: str | None = None
    if isinstance(parsed, Mapping):
        request_id = request_id or parsed.get("request_id")
        if isinstance(parsed.get("error"), Mapping) and "code" not in parsed:
            parsed = parsed["error"]  # OpenAI-compatible mode: {"error": {"code", "message"}}
        raw_code = parsed.get("code")
        code = str(raw_code) if raw_code not in (None, "") else None
        message = parsed.get("message") or parsed.get("detail") or parsed.get("title")
        if status is None and isinstance(parsed.get("status"), int):
            status = parsed["status"]
    elif isinstance(parsed, str) and parsed.strip():
        message = parsed.strip()[:500]
    return code, message, status, request_id


def _header_request_id(headers: Mapping[str, str] | None) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() in ("x-request-id", "x-dashscope-request-id"):
            return value
    return None


def error_from_response(
    status: int | None,
    headers: Mapping[str, str] | None,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    request_id: str | None = None,
    now: datetime | None = None,
) -> APIStatusError:
    """Build the typed error for an error response, a 200 body with ``code``, or an error frame.

    Understands DashScope bodies (``{"code","message","request_id"}``), RFC 7807 problem
    documents from the prediction API (``{"status","detail","title"}``) and OpenAI-compatible
    mode's ``{"error": {"code","message","type","param"}, "request_id"}``.
    """
    parsed = _parse_body(body)
    code, message, status, request_id = _fields(parsed, status, request_id)
    request_id = request_id or _header_request_id(headers)
    cls = _class_for(status, code)
    text = str(message) if message else f"the server answered HTTP {status} without a message"
    hint = _HINTS.get(cls)
    if hint:
        text = f"{text} ({hint})"
    return cls(
        text,
        status_code=status,
        code=code,
        request_id=request_id,
        body=parsed,
        retry_after=_retry_after(headers, now),
    )
