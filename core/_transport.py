"""How requests reach the wire: httpx pools owned per process and per event loop.

``DashScope`` sends through httpx's ``HTTPTransport`` (an ``httpx.Client`` behind proxies from
the environment); ``AsyncDashScope`` through httpx-aiohttp's ``AiohttpTransport`` when the
``aiohttp`` extra is installed (httpcore's own async pool collapses under concurrency:
bench/README.md), else an ``httpx.AsyncClient``. Our requests go straight to the transport: the
client's cookie jar, auth and redirect machinery is nothing we use (redirects of downloads are
followed by the client, host by host). An injected ``http_client`` is used as given for every
request (its ``build_request`` and ``send``) and never closed here.

Rules of this module:
- Two pools per client. ``pooled`` keeps connections alive for requests that may be replayed;
  ``fresh`` opens a new connection per request for those that must not run twice (creates, app
  turns): a request on a new connection cannot meet a kept-alive connection the server closed
  while it sat idle, so it is neither lost to keep-alive expiry nor in need of a replay.
- A replayable request that fails on a reused kept-alive connection before any response byte
  (the server had closed it: EOF, reset, broken pipe) is sent once more on a new connection,
  outside the retry budget (``send``). Reuse is known from the sync pool's own streams and from
  the connections the aiohttp connector hands out; without the ``aiohttp`` extra the async
  client leaves such a failure to the retry policy.
- A forked child never touches its parent's connections: the pid is checked before each
  request, and a child closes its copies of the inherited sockets (its own file descriptors
  only: nothing is written to them) and opens its own.
- An async client's connections belong to one event loop: each loop gets its own pools,
  closed on that loop when it shuts down its async generators (``asyncio.run``, ``Runner`` and
  pytest-asyncio all do), so one ``AsyncDashScope`` serves any number of loops and threads.
- Time: the sync pool's sockets honour the calling context's deadline (``bounded``) on every
  connect, read and write, so a server trickling bytes cannot hold a call past it (behind a
  proxy from the environment httpx keeps its own pool: there the deadline is checked between
  body chunks); the async client bounds its awaits with ``asyncio.timeout`` (``timeout_at``).
- A compressed body that decodes past the client's cap raises ``ResponseTooLargeError``
  (``body_chunks``): decoding is httpx's, counting is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import ssl
import sys
import threading
import time
import urllib.request
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

from dashscope_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    DashScopeError,
    ResponseTooLargeError,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_MAX_DECOMPRESSED",
    "DEFAULT_TIMEOUT",
    "AsyncTransport",
    "SyncTransport",
    "abody_chunks",
    "body_chunks",
    "bounded",
    "is_stale",
    "make_timeout",
    "mapped_transport_errors",
    "timeout_at",
    "transport_error",
]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128)
_FRESH_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=0)
DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024
"""Bytes a compressed answer may decode to (``max_decompressed_size``)."""


def make_timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """The client timeout from a number of seconds, an ``httpx.Timeout`` or None (default)."""
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {value!r}")
    return httpx.Timeout(float(value), connect=min(10.0, float(value)))


# --- errors ----------------------------------------------------------------------------------

_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
           httpx.UnsupportedProtocol, httpx.LocalProtocolError)  # fmt: skip
_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _aiohttp_error(exc: BaseException) -> BaseException | None:
    """The aiohttp exception behind ``exc`` (or ``exc`` itself: httpx-aiohttp lets the ones it
    has no httpx class for through unmapped, such as a bad status line)."""
    for candidate in (exc, exc.__cause__):
        if candidate is not None and type(candidate).__module__.startswith("aiohttp"):
            return candidate
    return None


def _classify(exc: Exception) -> tuple[bool, bool, bool]:
    """(timeout, sent, stale) of a transport failure.

    httpx-aiohttp maps every ``aiohttp.ClientConnectionError`` (a server that hung up too) to
    ``httpx.ConnectTimeout``, so its aiohttp cause is what is classified.
    """
    cause = _aiohttp_error(exc)
    if cause is None:
        timeout = isinstance(exc, httpx.TimeoutException)
        sent = not isinstance(exc, _UNSENT)
        return timeout, sent, isinstance(exc, _STALE)
    import aiohttp

    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return True, False, False
    if isinstance(cause, (aiohttp.ClientConnectorError, aiohttp.ClientProxyConnectionError)):
        return False, False, False
    if isinstance(cause, asyncio.TimeoutError):  # aiohttp's socket and server timeouts
        return True, True, False
    stale = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, aiohttp.ClientResponseError)
    return False, True, isinstance(cause, stale)


def _is_transport(exc: Exception) -> bool:
    return isinstance(exc, httpx.TransportError) or _aiohttp_error(exc) is not None


def is_stale(exc: Exception) -> bool:
    """Whether ``exc`` (raised before any response byte) says the connection was dead."""
    return _is_transport(exc) and _classify(exc)[2]


def transport_error(exc: Exception) -> DashScopeError | None:
    """The typed error for an httpx (or aiohttp) failure, or None for anything else."""
    if _is_transport(exc):
        timeout, sent, _ = _classify(exc)
        kind = APITimeoutError if timeout else APIConnectionError
        what = "request timed out" if timeout else "connection error"
        cause = _aiohttp_error(exc) or exc
        return kind(f"{what} ({type(cause).__name__}): {cause}", request_sent=sent)
    if isinstance(exc, httpx.DecodingError):  # a body that claims gzip/deflate/br and is not
        return APIResponseValidationError(
            f"the response body could not be decoded: {exc}", status_code=None
        )
    return None


class _Mapped:
    """A stateless ``with`` block raising the typed error of an httpx failure."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, Exception):
            typed = transport_error(exc)
            if typed is not None:
                raise typed from exc


_MAPPED = _Mapped()


def mapped_transport_errors() -> _Mapped:
    """Re-raise httpx transport errors as ``APIConnectionError`` / ``APITimeoutError``."""
    return _MAPPED


# --- bodies ----------------------------------------------------------------------------------


def _compressed(response: httpx.Response) -> bool:
    coding: str = response.headers.get("content-encoding", "identity")
    return coding.strip().lower() != "identity"


def _too_large(response: httpx.Response, cap: int) -> ResponseTooLargeError:
    return ResponseTooLargeError(
        f"the compressed answer decodes to more than {cap} bytes (max_decompressed_size)",
        status_code=response.status_code,
        request_id=response.headers.get("x-request-id"),
    )


def body_chunks(response: httpx.Response, cap: int | None) -> Iterator[bytes]:
    """The decoded body as it arrives; a compressed one past ``cap`` bytes raises. (A body
    sent as is skips httpx's decoder: its identity pass costs ~9 µs of an async call; one
    already read, as a mock transport's, is served from memory.)"""
    if not _compressed(response):
        return response.iter_bytes() if response.is_stream_consumed else response.iter_raw()
    chunks = response.iter_bytes()
    return chunks if cap is None else _capped(chunks, cap, response)


def _capped(chunks: Iterator[bytes], cap: int, response: httpx.Response) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise _too_large(response, cap)
        yield chunk


def abody_chunks(response: httpx.Response, cap: int | None) -> AsyncIterator[bytes]:
    """``body_chunks`` of an async response."""
    if not _compressed(response):
        return response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()
    chunks = response.aiter_bytes()
    return chunks if cap is None else _acapped(chunks, cap, response)


async def _acapped(
    chunks: AsyncIterator[bytes], cap: int, response: httpx.Response
) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > cap:
            raise _too_large(response, cap)
        yield chunk


# --- deadlines -------------------------------------------------------------------------------

_DEADLINE: ContextVar[float | None] = ContextVar("dashscope_deadline", default=None)
_REUSED: ContextVar[bool] = ContextVar("dashscope_reused", default=False)
"""Whether the request being sent went out on a connection that had served one before."""


@contextlib.contextmanager
def bounded(at: float | None) -> Iterator[None]:
    """Bound every socket operation of the sync pool inside the block by ``at``
    (``time.monotonic()``); None: only httpx's per-operation timeouts."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left before the current deadline (raises at zero)."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise error("timed out: the request's time bound passed")
    return left if timeout is None or timeout > left else timeout


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every wait ends by the current deadline."""

    def __init__(self, stream: httpcore.NetworkStream, sockets: weakref.WeakSet[Any]) -> None:
        self._stream = stream
        self._sockets = sockets
        self._requests = 0
        self._answered = True  # a write after a read starts the next request on this stream
        sock = stream.get_extra_info("socket")
        if sock is not None:
            sockets.add(sock)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._answered = True
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._answered:
            self._answered = False
            self._requests += 1
            _REUSED.set(self._requests > 1)
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, timeout), self._sockets
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, its streams bounded by the deadline (and their sockets noted,
    so a forked child can close its copies)."""

    def __init__(self, sockets: weakref.WeakSet[Any]) -> None:
        self._backend = httpcore.SyncBackend()
        self._sockets = sockets

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _DeadlineStream(stream, self._sockets)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_unix_socket(path, timeout, socket_options)
        return _DeadlineStream(stream, self._sockets)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` over an httpcore pool built on ``_DeadlineBackend``."""

    def __init__(
        self, context: ssl.SSLContext, limits: httpx.Limits, sockets: weakref.WeakSet[Any]
    ) -> None:
        super().__init__(verify=context, limits=limits)
        # httpx has no public way to give its pool a network backend: replace the pool it built
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(sockets),
        )


if sys.version_info >= (3, 11):
    _timeout = asyncio.timeout
else:  # pragma: no cover (3.10)
    from anyio import fail_after as _timeout


def timeout_at(at: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    """An ``async with`` block that raises ``TimeoutError`` at ``at`` (``time.monotonic()``)."""
    if at is None:
        return contextlib.nullcontext()
    return _timeout(max(0.0, at - time.monotonic()))


# --- the pools -------------------------------------------------------------------------------

_SSL_CONTEXTS: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context per CA setting (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``):
    building one costs ~20 ms, and every pool of every client and loop can share it."""
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _SSL_CONTEXTS.get(key)
    if context is None:
        context = _SSL_CONTEXTS.setdefault(key, httpx.create_ssl_context())
    return context


_BASE_HEADERS = (
    ("Accept", "*/*"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
)
"""What an ``httpx.Client`` would add to every request (only the codings httpx always decodes)."""


class _Builder:
    """What both transports share: the injected client (if any), the per-process lock, and
    building ``httpx.Request``s (through an injected client's ``build_request``, so its headers,
    cookies and auth apply; else directly, with httpx's default headers and parsed URLs cached)."""

    _client_type: type[httpx.Client] | type[httpx.AsyncClient]

    def __init__(self, injected: Any, timeout: httpx.Timeout):
        if injected is not None and not isinstance(injected, self._client_type):
            raise TypeError(f"http_client: expected an httpx.{self._client_type.__name__}, "
                            f"got {type(injected).__name__}")  # fmt: skip
        self.injected = injected
        self._timeout = timeout
        self._timeouts = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def build(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: Any = None,
        timeout: httpx.Timeout | None = None,
        **body: Any,
    ) -> httpx.Request:
        """The request to send (``body``: ``content``, or ``files``/``data``)."""
        if self.injected is not None:
            timeout = timeout or self._timeout
            return self.injected.build_request(
                method, url, headers=headers, params=params, timeout=timeout, **body
            )
        parsed = self._urls.get(url)
        if parsed is None:  # parsing costs more than the rest of building a request
            if len(self._urls) >= 256:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        for name, value in _BASE_HEADERS:
            headers.setdefault(name, value)
        extensions = {"timeout": self._timeouts if timeout is None else timeout.as_dict()}
        content = body.get("content")
        if params is not None or not isinstance(content, bytes):
            return httpx.Request(method, parsed, params=params, headers=headers,
                                 extensions=extensions, **body)  # fmt: skip
        # a bytes body (JSON): the two headers httpx.Request would add, given here, skip its
        # header pass (~12 µs of an async call: bench/README.md)
        headers.setdefault("Host", parsed.netloc.decode("ascii"))
        headers.setdefault("Content-Length", str(len(content)))
        request = httpx.Request(method, parsed, headers=headers, extensions=extensions,
                                stream=httpx.ByteStream(content))  # fmt: skip
        request.read()  # as httpx.Request does for bytes: transports may read .content
        return request


def _send(pool: httpx.Client | httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    """``request`` through a client, or straight through a transport (our own pools: no
    cookie jar, auth or redirect machinery to pay for on every call)."""
    if isinstance(pool, httpx.Client):
        return pool.send(request, stream=True)
    response = pool.handle_request(request)
    response.request = request
    return response


async def _asend(
    pool: httpx.AsyncClient | httpx.AsyncBaseTransport, request: httpx.Request
) -> httpx.Response:
    """``_send`` awaited."""
    if isinstance(pool, httpx.AsyncClient):
        return await pool.send(request, stream=True)
    response = await pool.handle_async_request(request)
    response.request = request
    return response


def _is_replay_stale(exc: Exception, replayable: bool, injected: object) -> bool:
    return replayable and injected is None and _REUSED.get() and is_stale(exc)


class SyncTransport(_Builder):
    """``DashScope``'s pools: a kept-alive one and a new-connection one, per process; each an
    httpx transport (``httpx.Client`` behind proxies from the environment, or the injected one)."""

    injected: httpx.Client | None
    _client_type = httpx.Client

    def __init__(self, http_client: httpx.Client | None, timeout: httpx.Timeout) -> None:
        super().__init__(http_client, timeout)
        self._pools: dict[bool, httpx.Client | httpx.BaseTransport] = {}
        self._sockets: weakref.WeakSet[Any] = weakref.WeakSet()

    def pool(self, fresh: bool = False) -> httpx.Client | httpx.BaseTransport:
        """What a request is sent through (``fresh``: a connection of its own)."""
        if self.injected is not None:
            return self.injected
        if self._pid != os.getpid():
            self._leave_parent()
        pool = self._pools.get(fresh)
        if pool is None:
            with self._lock:
                pool = self._pools.get(fresh)
                if pool is None:
                    pool = self._pools[fresh] = self._new_pool(fresh)
        return pool

    def _new_pool(self, fresh: bool) -> httpx.Client | httpx.BaseTransport:
        limits = _FRESH_LIMITS if fresh else DEFAULT_LIMITS
        if urllib.request.getproxies():  # httpx routes through them only with its own pool
            return httpx.Client(verify=_ssl_context(), limits=limits, timeout=self._timeout)
        return _DeadlineTransport(_ssl_context(), limits, self._sockets)

    def _leave_parent(self) -> None:
        # in a forked child: the parent's threads (and any lock they held) are gone; close the
        # child's copies of the parent's sockets and start over with pools of its own
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()
        self._lock = threading.Lock()
        self._pools = {}
        self._sockets = weakref.WeakSet()
        self._pid = os.getpid()

    def send(self, request: httpx.Request, *, replayable: bool) -> httpx.Response:
        """Send; return once the headers arrived (the caller reads the body and closes)."""
        _REUSED.set(False)
        try:
            return _send(self.pool(fresh=not replayable), request)
        except Exception as exc:
            if not _is_replay_stale(exc, replayable, self.injected):
                raise
        return _send(self.pool(fresh=True), request)

    def close(self) -> None:
        """Close the connections this transport opened (an injected client is left open)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()


class AsyncTransport(_Builder):
    """``AsyncDashScope``'s pools: a pair per event loop, per process (httpx-aiohttp's transport,
    else an ``httpx.AsyncClient``; or the injected client)."""

    injected: httpx.AsyncClient | None
    _client_type = httpx.AsyncClient

    def __init__(self, http_client: httpx.AsyncClient | None, timeout: httpx.Timeout) -> None:
        super().__init__(http_client, timeout)
        self._loops: dict[asyncio.AbstractEventLoop, _LoopPools] = {}

    def pool(self, fresh: bool = False) -> httpx.AsyncClient | httpx.AsyncBaseTransport:
        """What a request on the running loop is sent through (``fresh``: a connection of its
        own)."""
        if self.injected is not None:
            return self.injected
        loop = asyncio.get_running_loop()
        pools = self._loops.get(loop)
        if pools is None or self._pid != os.getpid():
            pools = self._for_loop(loop)
        return pools.get(fresh, self._timeout)

    def _for_loop(self, loop: asyncio.AbstractEventLoop) -> _LoopPools:
        if self._pid != os.getpid():  # a forked child: see the module rules
            _INHERITED.append(self._loops)
            self._lock, self._loops, self._pid = threading.Lock(), {}, os.getpid()
        self.discard_closed()
        with self._lock:
            pools = self._loops.get(loop)
            if pools is None:
                pools = self._loops[loop] = _LoopPools(self, loop)
            return pools

    async def send(self, request: httpx.Request, *, replayable: bool) -> httpx.Response:
        """Send; return once the headers arrived (the caller reads the body and closes)."""
        _REUSED.set(False)
        try:
            return await _asend(self.pool(fresh=not replayable), request)
        except Exception as exc:
            if not _is_replay_stale(exc, replayable, self.injected):
                raise
        return await _asend(self.pool(fresh=True), request)

    def forget(self, pools: _LoopPools) -> None:
        """Drop a loop's pools from the table (they close themselves)."""
        with self._lock:
            if self._loops.get(pools.loop) is pools:
                del self._loops[pools.loop]

    def discard_closed(self) -> None:
        """Drop the pools of loops closed without shutting down their async generators."""
        with self._lock:
            gone = [entry for loop, entry in self._loops.items() if loop.is_closed()]
            for entry in gone:
                del self._loops[entry.loop]
        for entry in gone:
            entry.discard()

    async def aclose(self) -> None:
        """Close the running loop's connections (an injected client is left open)."""
        self.discard_closed()
        pools = self._loops.get(asyncio.get_running_loop())
        if pools is not None:
            await pools.aclose()


_INHERITED: list[object] = []
"""Async pools a forked child inherited: kept, never used or closed (their loop and sockets
are the parent's), so that collecting them does not warn."""


class _LoopPools:
    """One event loop's pools, closed by a sentinel async generator when the loop
    shuts its async generators down (while it can still run the close)."""

    def __init__(self, owner: AsyncTransport, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.pools: dict[bool, httpx.AsyncClient | httpx.AsyncBaseTransport] = {}
        self.sessions: list[Any] = []  # aiohttp sessions made here: released unawaited if need be
        self._done = False
        self._sentinel = self._close_at_shutdown()
        _step(self._sentinel.asend(None))  # registers it with the running loop

    def get(
        self, fresh: bool, timeout: httpx.Timeout
    ) -> httpx.AsyncClient | httpx.AsyncBaseTransport:
        pool = self.pools.get(fresh)
        if pool is None:
            pool = self.pools[fresh] = _async_pool(fresh, timeout, self.sessions)
        return pool

    async def _close_at_shutdown(self) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if not self._done:
                self._done = True
                self.owner.forget(self)
                await self._close_pools()

    async def _close_pools(self) -> None:
        pools, self.pools = self.pools, {}
        for pool in pools.values():
            await pool.aclose()

    async def aclose(self) -> None:
        """Close on the running loop (this entry's) and retire the sentinel."""
        self._done = True
        self.owner.forget(self)
        await self._sentinel.aclose()
        await self._close_pools()

    def discard(self) -> None:
        """The loop is closed: release what can be released without it, retire the sentinel."""
        self._done = True
        for session in self.sessions:
            _discard_session(session)
        self.pools, self.sessions = {}, []
        with contextlib.suppress(RuntimeError):
            _step(self._sentinel.aclose())  # finishes at once: nothing is awaited


def _async_pool(
    fresh: bool, timeout: httpx.Timeout, sessions: list[Any]
) -> httpx.AsyncClient | httpx.AsyncBaseTransport:
    """A loop's pool: httpx-aiohttp's transport (aiohttp reads proxy variables itself), else an
    ``httpx.AsyncClient`` (which does); aiohttp sessions made go in ``sessions``."""
    limits = _FRESH_LIMITS if fresh else DEFAULT_LIMITS
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return httpx.AsyncClient(verify=_ssl_context(), limits=limits, timeout=timeout)

    def session() -> Any:
        import aiohttp

        connector = _reuse_noting_connector()(
            limit=limits.max_connections or 0,
            ssl=_ssl_context(),
            force_close=fresh,
            keepalive_timeout=None if fresh else limits.keepalive_expiry,
        )
        # aiohttp looks proxies up on every request when it trusts the environment: only then
        proxied = bool(urllib.request.getproxies())
        made = aiohttp.ClientSession(connector=connector, trust_env=proxied)
        sessions.append(made)
        return made

    return AiohttpTransport(verify=_ssl_context(), limits=limits, client=session)


@functools.cache
def _reuse_noting_connector() -> type[Any]:
    """aiohttp's ``TCPConnector``, noting in the requesting task's context (``_REUSED``)
    whether the connection it hands out has served a request before. (A trace config hook
    would say the same, but tracing costs ~60 µs of CPU per request: bench/README.md.)"""
    import aiohttp

    class ReuseNotingConnector(aiohttp.TCPConnector):
        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self._served: weakref.WeakSet[Any] = weakref.WeakSet()

        async def connect(self, *args: Any, **kwargs: Any) -> Any:
            connection = await super().connect(*args, **kwargs)
            protocol = connection.protocol  # one per TCP connection
            _REUSED.set(protocol in self._served)
            self._served.add(protocol)
            return connection

    return ReuseNotingConnector


def _discard_session(session: Any) -> None:
    """Release an aiohttp session whose loop is closed, without awaiting (no warnings about
    an unclosed session or connector; its sockets are left to the garbage collector)."""
    if not session.closed:
        connector = session.connector
        session.detach()
        if connector is not None:
            with contextlib.suppress(Exception):
                _step(connector.close())


def _step(awaitable: Awaitable[Any]) -> None:
    """Run an awaitable that completes without suspending (its first step is its last)."""
    coroutine = awaitable.__await__()
    try:
        next(coroutine)
    except StopIteration:
        return
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()
    raise RuntimeError("expected a step without suspension")
