"""How ``DashScope`` puts bytes on the wire: an httpcore connection pool directly, or httpx.

Why: per sync non-streaming call on loopback, ``http.client`` costs ~160 µs, ``httpcore``
~370 µs and ``httpx.Client`` ~630-690 µs of CPU; the difference is httpx building its
``Request``/``Response``/``URL``/``Headers`` objects and running its auth, redirect and event
hook machinery on every call (see bench/README.md). So when no ``http_client`` is injected,
``DashScope`` sends through one ``httpcore.ConnectionPool`` (httpx's own dependency):
keep-alive pooling with httpx's default limits, TLS verified with ``httpx.create_ssl_context()``
(certifi), httpx's timeouts as httpcore's ``timeout`` extension, gzip/deflate bodies decoded
with zlib the way httpx decodes them, query params merged by ``httpx.URL``.

Rules of this module:
- An injected ``http_client`` (an ``httpx.Client``, any transport) always wins.
- Environments that ask for what httpx adds on top of httpcore keep httpx (``trust_env``):
  proxy variables (``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``, any case) and,
  on macOS and Windows, a system proxy setting. ``SSL_CERT_FILE``/``SSL_CERT_DIR`` are
  honoured by both (``httpx.create_ssl_context`` reads them).
- Both senders hand the client the same things as the async ones (``send`` -> ``RawResponse``,
  ``open`` -> ``SyncStream``, ``close``); failures surface as httpx or httpcore exceptions and
  a body that is not the gzip/deflate it claims as ``httpx.DecodingError``, all mapped by
  ``mapped_transport_errors``.
- The stream idle timeout is httpcore's read timeout for the body: httpcore reads the
  ``timeout`` extension when body iteration starts, so it is switched once the headers of a
  successful response arrived (the wait for the headers keeps the client's read timeout).
"""

from __future__ import annotations

import functools
import os
import ssl
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

from dashscope_core._protocol.request import RawResponse
from dashscope_core._transport import DEFAULT_LIMITS, set_read_timeout

__all__ = ["HttpcoreSender", "HttpxSyncSender", "SyncStream", "sync_sender", "wants_httpx"]

_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_HEADERS = (  # httpx.Client's defaults (only the codings decoded here)
    ("accept", (b"Accept", b"*/*")),
    ("accept-encoding", (b"Accept-Encoding", b"gzip, deflate")),
    ("connection", (b"Connection", b"keep-alive")),
)
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
) -> HttpxSyncSender | HttpcoreSender:
    """The injected client, else httpcore directly, else (proxy/CA environment) httpx."""
    if http_client is not None:
        if not isinstance(http_client, httpx.Client):
            raise TypeError(
                f"http_client: expected an httpx.Client, got {type(http_client).__name__}"
            )
        return HttpxSyncSender(http_client)
    if wants_httpx(os.environ):
        return HttpxSyncSender(httpx.Client(timeout=timeout, limits=DEFAULT_LIMITS))
    return HttpcoreSender(DEFAULT_LIMITS)


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


class HttpcoreSender:
    """Sends through one ``httpcore.ConnectionPool`` (the default without proxies)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(
                os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            ),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._urls: dict[str, tuple[httpcore.URL, bytes, str]] = {}
        self._closed = False

    def _url(self, url: str, params: Mapping[str, Any] | None) -> tuple[httpcore.URL, bytes, str]:
        """httpcore's URL, the Host header and the URL as sent (cached for param-less URLs)."""
        cached = self._urls.get(url) if params is None else None  # .get: threads may clear()
        if cached is not None:
            return cached
        parsed = httpx.URL(url)
        if params is not None:  # merged into the URL's own query, as httpx.Client does
            parsed = parsed.copy_merge_params(params)
        target = httpcore.URL(
            scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port,
            target=parsed.raw_path,
        )  # fmt: skip
        result = (target, parsed.netloc, str(parsed))
        if params is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[url] = result
        return result

    def _request(self, request: dict[str, Any]) -> tuple[httpcore.Request, str]:
        if self._closed:  # as httpx.Client: a closed client is not silently reopened
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        url, host, sent_url = self._url(request["url"], request.get("params"))
        given: Mapping[str, str] = request["headers"]
        names = {name.lower() for name in given}
        headers = [] if "host" in names else [(b"Host", host)]
        headers += [item for name, item in _DEFAULT_HEADERS if name not in names]
        headers += [(name.encode("ascii"), value.encode("ascii")) for name, value in given.items()]
        content: bytes | None = request.get("content")
        method: str = request["method"]
        if "content-length" not in names and (content is not None or method in _BODY_METHODS):
            headers.append((b"Content-Length", b"%d" % len(content or b"")))
        timeout: httpx.Timeout = request["timeout"]
        extensions = {"timeout": timeout.as_dict()}
        return httpcore.Request(method, url, headers=headers, content=content,
                                extensions=extensions), sent_url  # fmt: skip

    def send(self, request: dict[str, Any]) -> RawResponse:
        """Send and read the whole response."""
        core_request, url = self._request(request)
        response = self._pool.handle_request(core_request)
        try:
            headers = httpx.Headers(response.headers)
            content = b"".join(decoded(response.iter_stream(), headers))
        finally:
            response.close()
        return RawResponse(response.status, headers, content, url)

    def open(self, request: dict[str, Any], idle_timeout: float | None) -> SyncStream:
        """Send and return once the headers arrived."""
        core_request, url = self._request(request)
        response = self._pool.handle_request(core_request)
        if idle_timeout is not None and response.status < 400:
            core_request.extensions["timeout"]["read"] = idle_timeout
        headers = httpx.Headers(response.headers)
        chunks = decoded(response.iter_stream(), headers)
        return SyncStream(response.status, headers, url, chunks, response.close)

    def close(self) -> None:
        """Close the pool's connections; later requests raise ``RuntimeError``."""
        self._closed = True
        self._pool.close()


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
