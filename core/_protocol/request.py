"""The request a builder describes and the response a client hands back: plain data, no I/O."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from dashscope_core._protocol.body import check_json, encode_json
from dashscope_core._protocol.sse import SSEDecoder, SSEEvent
from dashscope_core.errors import APIResponseValidationError, APIStatusError, error_from_response

_LOCAL_FILES = (PurePath, bytes, bytearray, memoryview)
"""Values a resource replaces before sending (local media become ``oss://`` URLs)."""


@dataclass(frozen=True)
class RequestSpec:
    """Everything a client needs to send one request; built by pure ``build_*`` functions.

    The body is one of ``json`` (encoded here, at build time: a value JSON cannot carry raises
    a ValueError/TypeError naming its path before any request), ``content`` (raw bytes, or an
    iterator of bytes sent as it is read) or ``files``/``data`` (a multipart or form body;
    file objects are streamed from disk by httpx, never read into memory whole).
    """

    method: str
    path: str
    """Relative to the base URL (``/services/...``) or an absolute URL (a page's ``next``, a file
    output, an upload host). Only the API origin gets the key, the workspace, ``default_headers``
    and ``X-DashScope-*`` headers."""
    json: Any = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    """Ask for server-sent events (``X-DashScope-SSE: enable``, ``Accept: text/event-stream``)."""
    replay_safe: bool = True
    """False for requests that must not run twice (creates, app turns): they go out on a new
    connection and are retried only on 429 and on errors raised before anything was sent."""
    timeout: float | None = None
    """Seconds for each attempt of this request (connect to last byte); None: the client's."""
    content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None
    """A raw body; an iterator is read once, so such a request is never replayed once sent."""
    files: Any = None
    """``httpx`` ``files=``: ``{"file": (name, file object or bytes, content type)}``."""
    data: Mapping[str, Any] | None = None
    """Form fields: with ``files`` the other parts of the multipart body, else urlencoded."""
    download: bool = False
    """The body is content (a file), not an API answer: redirects are followed (headers are
    re-decided per host at each hop) and a 2xx body is never read as an error."""
    encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        given = [n for n in ("json", "content") if getattr(self, n) is not None]
        if self.files is not None or self.data is not None:
            given.append("files/data")
        if len(given) > 1:
            raise ValueError(f"{', '.join(given)}: a request has one body; pass one of them")
        if self.json is not None:
            object.__setattr__(self, "encoded", check_json(self.json, _LOCAL_FILES))

    @property
    def body(self) -> bytes | None:
        """``json`` encoded (compact UTF-8); at construction unless it held local files."""
        if self.encoded is None and self.json is not None:
            object.__setattr__(self, "encoded", encode_json(self.json))
        return self.encoded

    @property
    def rewindable(self) -> bool:
        """Whether the body can be sent again (an iterator ``content`` cannot)."""
        return self.content is None or isinstance(self.content, (bytes, bytearray, memoryview))


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
        return header(self.headers, "x-request-id")

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


_SCALARS = frozenset({str, int, float, bool})


def drop_none(value: Any) -> Any:
    """Remove ``None`` values from mappings, recursively: request bodies never carry nulls.

    A structure that contains itself (or nests past the recursion limit) is a ValueError naming
    where, as ``encode_json`` names it.
    """
    try:
        return _drop_none(value)
    except RecursionError:
        encode_json(value)  # raises the error that names the path
        raise ValueError("request body: nested too deeply to encode as JSON") from None


def _drop_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: v if type(v) in _SCALARS else _drop_none(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _SCALARS else _drop_none(v) for v in value]
    return value


def check_response(raw: RawResponse, *, download: bool = False) -> RawResponse:
    """Raise the typed error for an error status, a redirect (API calls are never redirected)
    or, in an API answer (not a ``download``), a ``code`` inside a 2xx JSON body."""
    if raw.status_code >= 300:
        raise status_error(raw)
    # cheap pre-check: only a body mentioning "code" is parsed a second time
    if not download and b'"code"' in raw.content and raw.content[:1] == b"{":
        try:
            body = json.loads(raw.content)
        except ValueError:
            return raw
        if isinstance(body, dict) and isinstance(body.get("code"), str) and body["code"]:
            raise error_from_response(raw.status_code, raw.headers, body)
    return raw


def status_error(raw: RawResponse) -> APIStatusError:
    """The typed error of a non-2xx answer (a 3xx reaching here is not followed)."""
    if raw.status_code >= 400:
        return error_from_response(raw.status_code, raw.headers, raw.content)
    location = header(raw.headers, "location")
    return APIStatusError(
        f"unexpected redirect (HTTP {raw.status_code} to {location!r}): API calls do not "
        "follow redirects; check base_url",
        status_code=raw.status_code,
        request_id=raw.request_id,
    )


MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def redirect_target(
    spec: RequestSpec, status: int, headers: Mapping[str, str], url: str, seen: list[str]
) -> str | None:
    """Where a download's redirect leads (absolute), or None: not a redirect to follow.

    Raises ``APIStatusError`` on a loop, past ``MAX_REDIRECTS`` hops, or to a non-HTTP URL.
    """
    location = header(headers, "location")
    if not spec.download or status not in _REDIRECTS or not location:
        return None
    target = urljoin(url, location.strip())
    problem = None
    if urlsplit(target).scheme not in ("http", "https"):
        problem = f"a redirect to a non-HTTP URL {target!r}"
    elif target in seen or target == url:
        problem = f"a redirect loop back to {target!r}"
    elif len(seen) >= MAX_REDIRECTS:
        problem = f"more than {MAX_REDIRECTS} redirects"
    if problem is not None:
        raise APIStatusError(f"download failed: {problem}", status_code=status)
    seen.append(target)
    return target


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` (any case) in a plain or httpx mapping, or None."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, value in headers.items():
        if key.lower() == lower:
            return value
    return None


def check_event(event: SSEEvent) -> SSEEvent:
    """Raise the typed error for an ``event:error`` frame or a frame announcing a 4xx/5xx."""
    if event.event == "error" or (event.status is not None and event.status >= 400):
        raise error_from_response(event.status or 500, None, event.data)
    return event


class EventReader:
    """A stream's SSE decoder plus the events decoded while it was opened (a pure stage: the
    clients feed it bytes). Every event is passed through ``check`` as it is handed out."""

    def __init__(self, check: Callable[[SSEEvent], SSEEvent] = check_event) -> None:
        self.decoder = SSEDecoder()
        self.check = check
        self.first: list[SSEEvent] = []

    def prime(self, chunk: bytes) -> bool:
        """Decode an opening chunk; True once there is an event (a first error frame raises)."""
        self.first = self.decoder.feed(chunk)
        if self.first:
            self.check(self.first[0])  # the retried part of a stream ends at its first event
        return bool(self.first)

    def prime_end(self) -> None:
        """The body ended before any event: whatever ``close()`` completes is the stream."""
        self.first = self.decoder.close()
        if self.first:
            self.check(self.first[0])

    def prime_json(self, raw: RawResponse) -> None:
        """A JSON answer to a stream request (an error, or a whole answer) as its one event."""
        check_response(raw)
        text = raw.content.decode("utf-8", errors="replace")
        self.first = [SSEEvent("result", text, None, None, raw.status_code)]

    def opening(self) -> Iterator[SSEEvent]:
        """The events decoded while opening, each checked as it is handed out."""
        return map(self.check, self.first)

    def events(self, chunk: bytes) -> list[SSEEvent]:
        """The events of a later chunk, not yet checked: pass each to ``check`` as it is
        handed out (an error frame raises when it is reached, after the events before it)."""
        return self.decoder.feed(chunk)

    def ending(self) -> Iterator[SSEEvent]:
        """The checked events completed at the end of the body."""
        return map(self.check, self.decoder.close())


def is_json(headers: Mapping[str, str]) -> bool:
    """Whether the answer is JSON (``application/json``, ``...+json``), not an event stream."""
    kind = (header(headers, "content-type") or "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


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
