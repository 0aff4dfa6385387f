"""How ``AsyncDashScope`` puts bytes on the wire: an httpx ``AsyncClient`` or aiohttp directly.

Why two senders: at 64 requests in flight httpx's own pool (httpcore) serves a small fraction of
aiohttp's calls/s on loopback, and even ``httpx_aiohttp.AiohttpTransport`` stays well below
0.7x of raw aiohttp because every call still builds httpx ``Request``/``Response`` objects
(see bench/README.md for the numbers). So when the ``aiohttp`` extra is installed and no
``http_client`` is injected, ``AsyncDashScope`` talks to an ``aiohttp.ClientSession``
directly; an injected ``httpx.AsyncClient`` (any transport, including ``ASGITransport`` and
``HttpxAiohttpClient``) is always honoured, and without aiohttp the httpx client is the default.

Both senders give the client the same three things, and map transport failures the same way
(``mapped_transport_errors`` in ``_client``): a whole response (``send``), an opened stream
(``open``: status, headers, an async iterator of body bytes, ``aclose``), and ``aclose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

import httpx

from dashscope_core._protocol.request import RawResponse, check_event
from dashscope_core._protocol.sse import SSEDecoder, SSEEvent
from dashscope_core.errors import APIConnectionError, APIResponseValidationError, APITimeoutError

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "AiohttpSender",
    "HttpxSender",
    "OpenStream",
    "Primed",
    "async_sender",
    "idle_bounded",
    "make_timeout",
    "map_aiohttp",
    "mapped_transport_errors",
    "multipart_body",
    "set_read_timeout",
]


_HTTPX_UNSENT = (httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128)


def make_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """The client timeout from a number of seconds, an ``httpx.Timeout`` or None (default)."""
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return DEFAULT_TIMEOUT
    if value <= 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {value}")
    return httpx.Timeout(value, connect=min(10.0, value))


def async_sender(
    http_client: httpx.AsyncClient | None, timeout: httpx.Timeout
) -> HttpxSender | AiohttpSender:
    """The injected client, else aiohttp directly when installed (see above), else httpx."""
    if http_client is not None:
        if not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client: expected an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        return HttpxSender(http_client)
    if find_spec("aiohttp") is not None:
        return AiohttpSender(max_connections=DEFAULT_LIMITS.max_connections or 256)
    return HttpxSender(httpx.AsyncClient(timeout=timeout, limits=DEFAULT_LIMITS))


class _Mapped:
    """A stateless ``with`` block that re-raises what ``mapper`` maps (a class, not a
    ``@contextmanager``: these wrap every request, and a generator per use costs ~1 µs)."""

    __slots__ = ("_mapper",)

    def __init__(self, mapper: Callable[[Exception], None]) -> None:
        self._mapper = mapper

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Exception):
            self._mapper(exc)  # raises the typed error, or returns to let ``exc`` through


def _map_transport(exc: Exception) -> None:
    if isinstance(exc, httpx.TransportError):
        cause = exc.__cause__
        if isinstance(cause, Exception) and type(cause).__module__.startswith("aiohttp"):
            # httpx_aiohttp maps every aiohttp.ClientConnectionError (a server that hung up
            # mid-response too) to httpx.ConnectTimeout: classify by the aiohttp cause instead
            _map_aiohttp(cause)
            raise cause from None
        timeout = isinstance(exc, httpx.TimeoutException)
        raise _transport_error(exc, timeout, isinstance(exc, _HTTPX_UNSENT)) from exc
    if isinstance(exc, httpx.DecodingError):  # a body that claims gzip/deflate/br and is not
        raise APIResponseValidationError(
            f"the response body could not be decoded: {exc}", status_code=None
        ) from exc


_MAPPED_TRANSPORT = _Mapped(_map_transport)


def mapped_transport_errors() -> _Mapped:
    """Re-raise httpx transport errors as ``APIConnectionError`` / ``APITimeoutError``."""
    return _MAPPED_TRANSPORT


def _transport_error(exc: Exception, timeout: bool, unsent: bool) -> APIConnectionError:
    """The typed error; ``unsent``: failed before any request byte left (connect, pool)."""
    kind = APITimeoutError if timeout else APIConnectionError
    what = "request timed out" if timeout else "connection error"
    return kind(f"{what} ({type(exc).__name__}): {exc}", request_sent=not unsent)


class Primed:
    """The decoder of a stream being opened and the first events it produced (checked)."""

    def __init__(self, check: Callable[[SSEEvent], SSEEvent] = check_event) -> None:
        self.decoder = SSEDecoder()
        self.check = check
        self.first: list[SSEEvent] = []

    def feed(self, chunk: bytes) -> bool:
        """Decode ``chunk``; True once there is an event to yield (a first error frame raises)."""
        self.first = self.decoder.feed(chunk)
        if self.first:
            self.check(self.first[0])  # later events are checked as they are yielded
        return bool(self.first)

    def close(self) -> None:
        """The body ended before any event: whatever ``close()`` completes is the stream."""
        self.first = self.decoder.close()
        if self.first:
            self.check(self.first[0])

    def opening(self) -> Iterator[SSEEvent]:
        """The events decoded while opening, each checked as it is yielded."""
        return map(self.check, self.first)

    def events(self, chunk: bytes) -> Iterator[SSEEvent]:
        """The checked events of a later chunk (an error frame raises when it is reached)."""
        return map(self.check, self.decoder.feed(chunk))

    def ending(self) -> Iterator[SSEEvent]:
        """The checked events completed at the end of the body."""
        return map(self.check, self.decoder.close())


def idle_bounded(chunks: AsyncIterator[bytes], seconds: float | None) -> AsyncIterator[bytes]:
    """``chunks``, raising ``APITimeoutError`` when one takes longer than ``seconds`` (if set).

    Transport-independent (httpcore, aiohttp, ASGI): the stream idle timeout of the async client.
    """
    return chunks if seconds is None else _idle_bounded(chunks, seconds)


async def _next_within(iterator: AsyncIterator[bytes], seconds: float) -> bytes:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(seconds):
            return await anext(iterator)
    return await asyncio.wait_for(anext(iterator), seconds)  # pragma: no cover (3.10)


async def _idle_bounded(chunks: AsyncIterator[bytes], seconds: float) -> AsyncIterator[bytes]:
    iterator = aiter(chunks)
    while True:
        try:
            chunk = await _next_within(iterator, seconds)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise APITimeoutError(
                f"no stream data for {seconds} s (stream_idle_timeout)", request_sent=True
            ) from exc
        yield chunk


class OpenStream:
    """A response whose headers arrived and whose body is read chunk by chunk."""

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        url: str,
        chunks: AsyncIterator[bytes],
        closer: Callable[[], Awaitable[None]],
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.url = url
        self.chunks = chunks
        self._closer = closer

    async def read(self) -> bytes:
        """The rest of the body."""
        return b"".join([chunk async for chunk in self.chunks])

    async def aclose(self) -> None:
        """Release the connection (closed, not pooled, if the body was not read to the end)."""
        await self._closer()


class HttpxSender:
    """Sends through an ``httpx.AsyncClient`` (injected, or the default without aiohttp)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: dict[str, Any]) -> RawResponse:
        """Send and read the whole response."""
        response = await self.client.request(**request)
        return RawResponse(response.status_code, response.headers, response.content, request["url"])

    async def open(self, request: dict[str, Any], idle_timeout: float | None) -> OpenStream:
        """Send and return once the headers arrived."""
        response = await self.client.send(self.client.build_request(**request), stream=True)
        set_read_timeout(response, idle_timeout)
        return OpenStream(
            response.status_code, response.headers, request["url"], response.aiter_bytes(),
            response.aclose,
        )  # fmt: skip

    async def aclose(self) -> None:
        """Close the httpx client."""
        await self.client.aclose()

    def discard(self) -> None:
        """Forget the client of a closed loop (httpx pools close their sockets when collected)."""


def multipart_body(request: dict[str, Any]) -> dict[str, Any]:
    """``request`` with its ``files``/``data`` encoded by httpx as a streamed multipart body
    (for the senders that do not take httpx's ``files=``): headers plus a re-iterable stream
    that rewinds file objects, so a retried upload sends the whole file again."""
    form = httpx.Request(request["method"], request["url"],
                         files=request.pop("files"), data=request.pop("data", None))  # fmt: skip
    headers = dict(request["headers"])
    for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
        if name in form.headers:
            headers[name] = form.headers[name]
    return {**request, "headers": headers, "content": form.stream}


def set_read_timeout(response: httpx.Response, seconds: float | None) -> None:
    """Bound each body read of a streamed httpcore response by ``seconds``.

    httpcore looks the request's ``timeout`` extension up when body iteration starts, so
    switching ``read`` after the headers arrived bounds every wait between stream chunks
    while the wait for the headers keeps the client's read timeout.
    """
    if seconds is not None:
        timeouts = response.request.extensions.get("timeout")
        if isinstance(timeouts, dict):
            timeouts["read"] = seconds


class AiohttpSender:
    """Sends through one ``aiohttp.ClientSession`` per event loop (created on first use)."""

    def __init__(self, *, max_connections: int) -> None:
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            import aiohttp

            self._drop_session()
            connector = aiohttp.TCPConnector(limit=self._limit, enable_cleanup_closed=False)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
            self._loop = loop
        return self._session

    def discard(self) -> None:
        """Close the session's sockets without awaiting (its loop is closed): no warnings."""
        self._drop_session()

    def _drop_session(self) -> None:
        # a session from an earlier (maybe closed) loop cannot be awaited here: drop its sockets
        old, self._session = self._session, None
        if old is not None and not old.closed and old.connector is not None:
            with contextlib.suppress(Exception):
                old.connector._close()  # the sync half of connector.close()
            old.detach()

    def _kwargs(self, request: dict[str, Any]) -> dict[str, Any]:
        if "files" in request:
            request = multipart_body(request)
            request["content"] = _aiter_stream(request["content"])
        timeout = request["timeout"]
        key = (timeout.connect, timeout.read)
        client_timeout = self._timeouts.get(key)
        if client_timeout is None:  # one per distinct timeout, not one per request
            import aiohttp

            client_timeout = aiohttp.ClientTimeout(
                total=None, sock_connect=key[0], sock_read=key[1]
            )
            self._timeouts[key] = client_timeout
        return {
            "params": _params(request.get("params")),
            "headers": request["headers"],
            "data": request.get("content"),
            "allow_redirects": False,
            "timeout": client_timeout,
        }

    async def send(self, request: dict[str, Any]) -> RawResponse:
        """Send and read the whole response."""
        session = self._get_session()
        with map_aiohttp():
            async with session.request(
                request["method"], request["url"], **self._kwargs(request)
            ) as response:
                content = await response.read()
        return RawResponse(response.status, response.headers, content, request["url"])

    async def open(self, request: dict[str, Any], idle_timeout: float | None) -> OpenStream:
        """Send and return once the headers arrived (``idle_timeout``: see ``idle_bounded``)."""
        session = self._get_session()
        with map_aiohttp():
            response = await session.request(
                request["method"], request["url"], **self._kwargs(request)
            )
        return OpenStream(
            response.status, response.headers, request["url"], _aiter_body(response),
            _closer(response),
        )  # fmt: skip

    async def aclose(self) -> None:
        """Close the session (if one was opened on this loop)."""
        if self._session is not None:
            if self._loop is asyncio.get_running_loop():
                await self._session.close()
            else:
                self._drop_session()
            self._session = None


def _params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Query values as httpx would send them (yarl rejects bools; None is dropped)."""
    if not params:
        return None
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else value
        for key, value in params.items()
        if value is not None
    }


async def _aiter_stream(stream: Any) -> AsyncIterator[bytes]:
    async for chunk in stream:
        yield chunk


async def _aiter_body(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    with map_aiohttp():
        async for chunk in response.content.iter_any():
            yield chunk


def _closer(response: aiohttp.ClientResponse) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        if response.content.at_eof():
            response.release()
        else:  # half-read: the connection cannot be reused
            response.close()

    return close


def _map_aiohttp(exc: Exception) -> None:
    if isinstance(exc, asyncio.TimeoutError):  # aiohttp's own timeouts subclass it
        unsent = _aiohttp_unsent(exc)
        raise APITimeoutError(
            f"request timed out ({type(exc).__name__})", request_sent=not unsent
        ) from exc
    if type(exc).__module__.startswith("aiohttp"):
        raise APIConnectionError(
            f"connection error ({type(exc).__name__}): {exc}", request_sent=not _aiohttp_unsent(exc)
        ) from exc


_MAPPED_AIOHTTP = _Mapped(_map_aiohttp)


def map_aiohttp() -> _Mapped:
    """Re-raise aiohttp failures as ``APIConnectionError`` / ``APITimeoutError``."""
    return _MAPPED_AIOHTTP


def _aiohttp_unsent(exc: BaseException) -> bool:
    """True when aiohttp failed before any request byte left: connect errors and timeouts."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ClientConnectorError", "ConnectionTimeoutError"})
