"""How ``DashScope`` puts bytes on the wire: pooled ``http.client`` connections, or httpx.

Why: per sync non-streaming call on loopback, ``http.client`` costs ~190 µs, ``httpcore``
~370-400 µs and ``httpx.Client`` ~630-690 µs of CPU (h11's pure-Python parsing in httpcore;
httpx's ``Request``/``Response``/``URL``/``Headers`` objects, auth, redirect and event-hook
machinery on top; see bench/README.md). So when no ``http_client`` is injected, ``DashScope``
sends through standard-library connections kept alive by ``_http_pool.ConnectionPool``: at most
httpx's default number of idle connections, TLS verified with ``httpx.create_ssl_context()``
(certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), httpx's timeouts as socket timeouts (connect,
write, read), gzip/deflate bodies decoded with zlib the way httpx decodes them, query params
merged by ``httpx.URL``.

Rules of this module:
- An injected ``http_client`` (an ``httpx.Client``, any transport) always wins.
- Environments that ask for what httpx adds keep httpx (``trust_env``): proxy variables
  (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``, any case) and, on macOS and
  Windows, a system proxy setting.
- Both senders hand the client the same things as the async ones (``send`` -> ``RawResponse``,
  ``open`` -> ``SyncStream``, ``close``). httpx failures are mapped by
  ``mapped_transport_errors``; the stdlib sender raises the typed errors itself
  (``request_sent=False`` only when connecting failed). A body that is not the gzip/deflate it
  claims raises ``httpx.DecodingError`` (mapped to ``APIResponseValidationError``), and a body
  shorter than its ``Content-Length`` is an error, never a quiet truncation.
- The stream idle timeout becomes the socket's read timeout once the headers of a successful
  response arrived (the wait for the headers keeps the client's read timeout).
"""

from __future__ import annotations

import functools
import http.client
import os
import ssl
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from dashscope_core._http_pool import ConnectionPool, Origin
from dashscope_core._protocol.request import RawResponse
from dashscope_core._transport import DEFAULT_LIMITS, multipart_body, set_read_timeout
from dashscope_core.errors import APIConnectionError, APITimeoutError

__all__ = ["HttpxSyncSender", "StdlibSender", "SyncStream", "sync_sender", "wants_httpx"]

_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_HEADERS = (  # httpx.Client's defaults (only the codings decoded here)
    ("accept", ("Accept", "*/*")),
    ("accept-encoding", ("Accept-Encoding", "gzip, deflate")),
    ("connection", ("Connection", "keep-alive")),
)
_READ_SIZE = 65536
_URL_CACHE_SIZE = 256


def wants_httpx(env: Mapping[str, str]) -> bool:
    """True when ``env`` (or the system, on macOS/Windows) configures a proxy."""
    if any(name.lower() in _PROXY_VARS for name in env):
        return True
    if sys.platform in ("darwin", "win32"):  # pragma: no cover (system proxy settings)
        import urllib.request

        return bool(urllib.request.getproxies())
    return False


def sync_sender(
    http_client: httpx.Client | None, timeout: httpx.Timeout
) -> HttpxSyncSender | StdlibSender:
    """The injected client, else ``http.client`` connections, else (proxy environment) httpx."""
    if http_client is not None:
        if not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"http_client: expected an httpx.Client, got {type(http_client).__name__}"
            )
        return HttpxSyncSender(http_client)
    if wants_httpx(os.environ):
        return HttpxSyncSender(httpx.Client(timeout=timeout, limits=DEFAULT_LIMITS))
    return StdlibSender(DEFAULT_LIMITS)


class SyncStream:
    """A response whose headers arrived and whose body is read chunk by chunk."""

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        url: str,
        chunks: Iterator[bytes],
        closer: Callable[[], None],
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.url = url
        self.chunks = chunks
        self._closer = closer

    def raw(self) -> RawResponse:
        """The whole response, the rest of the body read (for error statuses)."""
        return RawResponse(self.status_code, self.headers, b"".join(self.chunks), self.url)

    def close(self) -> None:
        """Release the connection (closed, not pooled, if the body was not read to the end)."""
        self._closer()


class HttpxSyncSender:
    """Sends through an ``httpx.Client`` (injected, or the default in a proxy environment)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def send(self, request: dict[str, Any]) -> RawResponse:
        """Send and read the whole response."""
        response = self.client.request(**request)
        return RawResponse(
            response.status_code, response.headers, response.content, str(response.url)
        )

    def open(self, request: dict[str, Any], idle_timeout: float | None) -> SyncStream:
        """Send and return once the headers arrived."""
        response = self.client.send(self.client.build_request(**request), stream=True)
        if response.status_code < 400:
            set_read_timeout(response, idle_timeout)
        return SyncStream(
            response.status_code, response.headers, str(response.url), response.iter_bytes(),
            response.close,
        )  # fmt: skip

    def close(self) -> None:
        """Close the httpx client."""
        self.client.close()


@functools.lru_cache(maxsize=4)
def _ssl_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # shared while the CA variables stay the same: httpx would build this same context (it
    # reads SSL_CERT_FILE / SSL_CERT_DIR itself, else certifi) for every Client, ~20 ms each
    return httpx.create_ssl_context()


class StdlibSender:
    """Sends through standard-library ``http.client`` connections kept alive in a
    ``ConnectionPool`` (the default without proxies)."""

    def __init__(self, limits: httpx.Limits) -> None:
        context = _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        keep = limits.max_keepalive_connections  # None: no limit, as in httpx
        self._pool = ConnectionPool(
            context, max_keepalive=sys.maxsize if keep is None else keep,
            keepalive_expiry=limits.keepalive_expiry,
        )  # fmt: skip
        self._urls: dict[str, tuple[Origin, str, str, str]] = {}

    def _url(self, url: str, params: Mapping[str, Any] | None) -> tuple[Origin, str, str, str]:
        """(origin, request target, Host header, URL as sent), cached for param-less URLs."""
        cached = self._urls.get(url) if params is None else None  # .get: threads may clear()
        if cached is not None:
            return cached
        parsed = httpx.URL(url)
        if params is not None:  # merged into the URL's own query, as httpx.Client does
            parsed = parsed.copy_merge_params(params)
        scheme = parsed.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Request URL has an unsupported protocol: {url!r}")
        port = parsed.port or (443 if scheme == "https" else 80)
        origin = (scheme, parsed.raw_host.decode("ascii"), port)
        result = (origin, parsed.raw_path.decode("ascii"), parsed.netloc.decode("ascii"),
                  str(parsed))  # fmt: skip
        if params is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[url] = result
        return result

    def _exchange(self, request: dict[str, Any]) -> _Exchange:
        """Send ``request`` and read the status line and headers."""
        if self._pool.closed:  # as httpx.Client: a closed client is not silently reopened
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        if "files" in request:
            request = multipart_body(request)
        origin, target, host, sent_url = self._url(request["url"], request.get("params"))
        given: Mapping[str, str] = request["headers"]
        names = {name.lower() for name in given}
        content: Any = request.get("content")  # bytes, or a multipart stream
        method: str = request["method"]
        timeout: httpx.Timeout = request["timeout"]
        try:
            conn = self._pool.take(origin, timeout.connect)
        except OSError as exc:
            raise _failure(exc, "Connect") from exc
        phase = "Write"
        try:
            conn.sock.settimeout(timeout.write)
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            if "host" not in names:
                conn.putheader("Host", host)
            for lower, (name, value) in _DEFAULT_HEADERS:
                if lower not in names:
                    conn.putheader(name, value)
            for name, value in given.items():
                conn.putheader(name, value)
            chunked = "transfer-encoding" in names  # a multipart stream of unknown length
            if (
                "content-length" not in names
                and not chunked
                and (content is not None or method in _BODY_METHODS)
            ):
                conn.putheader("Content-Length", str(len(content or b"")))
            conn.endheaders(content, encode_chunked=chunked)
            phase = "Read"
            conn.sock.settimeout(timeout.read)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise _failure(exc, phase) from exc
        except BaseException:
            conn.close()
            raise
        return _Exchange(self._pool, origin, conn, response, sent_url)

    def send(self, request: dict[str, Any]) -> RawResponse:
        """Send and read the whole response."""
        exchange = self._exchange(request)
        headers = exchange.headers()
        body = exchange.read()
        if "content-encoding" in headers:
            body = b"".join(decoded(iter((body,)), headers))
        return RawResponse(exchange.response.status, headers, body, exchange.url)

    def open(self, request: dict[str, Any], idle_timeout: float | None) -> SyncStream:
        """Send and return once the headers arrived."""
        exchange = self._exchange(request)
        status = exchange.response.status
        if idle_timeout is not None and status < 400:
            exchange.conn.sock.settimeout(idle_timeout)
        headers = exchange.headers()
        return SyncStream(status, headers, exchange.url, decoded(exchange.chunks(), headers),
                          exchange.close)  # fmt: skip

    def close(self) -> None:
        """Close the pooled connections; later requests raise ``RuntimeError``."""
        self._pool.close()


class _Exchange:
    """One request's connection and response; the connection goes back to the pool only
    when the body was read to the end and the server keeps it open."""

    def __init__(
        self,
        pool: ConnectionPool,
        origin: Origin,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        url: str,
    ) -> None:
        self.pool, self.origin, self.conn, self.response, self.url = (
            pool, origin, conn, response, url)  # fmt: skip
        self._done = False

    def headers(self) -> httpx.Headers:
        return httpx.Headers(self.response.getheaders())

    def read(self) -> bytes:
        """The whole body (the connection is released)."""
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives; the connection is released at its end, closed on failure."""
        read1 = self.response.read1
        try:
            while chunk := read1(_READ_SIZE):
                yield chunk
            if self.response.length:  # read1 ends a Content-Length body cut short quietly
                raise http.client.IncompleteRead(b"", self.response.length)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _failure(exc, "Read") from exc
        except BaseException:
            self.close()
            raise
        self._release()

    def _release(self) -> None:
        if self._done:
            return
        self._done = True
        self.response.close()  # read to the end: frees the connection for its next request
        if self.response.will_close:
            self.conn.close()
        else:
            self.pool.give(self.origin, self.conn)

    def close(self) -> None:
        """Done with the response: a body not read to the end closes the connection."""
        if not self._done:
            self._done = True
            self.response.close()
            self.conn.close()


def _failure(exc: Exception, phase: str) -> APIConnectionError:
    """The typed error of a failed ``phase`` (Connect: nothing was sent; Write, Read)."""
    sent = phase != "Connect"
    if isinstance(exc, TimeoutError):
        return APITimeoutError(f"request timed out ({phase}Timeout): {exc}", request_sent=sent)
    what = "connection error" if sent else "could not connect"
    return APIConnectionError(f"{what} ({type(exc).__name__}): {exc}", request_sent=sent)


class _ZlibDecoder:
    """One ``gzip`` or ``deflate`` content coding, decoded and failing as httpx does."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding == "gzip"
        self._first = True
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        first, self._first = self._first, False
        try:
            return self._zlib.decompress(data)
        except zlib.error as exc:
            if first and not self._gzip:  # "deflate" sent as a raw stream without zlib header
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data)
            raise httpx.DecodingError(str(exc)) from exc

    def flush(self) -> bytes:
        try:
            return self._zlib.flush()
        except zlib.error as exc:  # pragma: no cover (zlib flush rarely fails)
            raise httpx.DecodingError(str(exc)) from exc


def decoded(chunks: Iterator[bytes], headers: httpx.Headers) -> Iterator[bytes]:
    """``chunks`` decoded per ``Content-Encoding`` (gzip, deflate; others pass through)."""
    if "content-encoding" not in headers:
        return chunks
    codings = [value.strip().lower() for value in headers.get_list("content-encoding", True)]
    decoders = [_ZlibDecoder(c) for c in reversed(codings) if c in ("gzip", "deflate")]
    return _decode(chunks, decoders) if decoders else chunks


def _decode(chunks: Iterator[bytes], decoders: list[_ZlibDecoder]) -> Iterator[bytes]:
    for chunk in chunks:
        for decoder in decoders:
            chunk = decoder.decode(chunk)
        if chunk:
            yield chunk
    tail = b""
    for decoder in decoders:
        tail = decoder.decode(tail) + decoder.flush()
    if tail:
        yield tail
