"""``DashScope`` and ``AsyncDashScope``: the only code that sends requests.

Everything else (building requests, parsing answers, retry decisions, SSE decoding) is pure and
shared; this module prepares headers, sends, maps transport errors, runs the one retry loop
(tenacity, built from ``RetryPolicy``) and turns error responses and ``event:error`` frames into
typed exceptions.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from tenacity import AsyncRetrying, RetryCallState, Retrying

from dashscope_core._protocol.config import ClientConfig, resolve_config
from dashscope_core._protocol.request import RawResponse, RequestSpec
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core._protocol.sse import SSEDecoder, SSEEvent
from dashscope_core._version import __version__
from dashscope_core.errors import APIConnectionError, APITimeoutError, error_from_response

if TYPE_CHECKING:
    from dashscope_core.resources.apps import Apps, AsyncApps
    from dashscope_core.resources.embeddings import AsyncEmbeddings, Embeddings
    from dashscope_core.resources.generation import AsyncGeneration, Generation

logger = logging.getLogger("dashscope_core")

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=256, max_keepalive_connections=128)


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    if value is None:
        return DEFAULT_TIMEOUT
    if value <= 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {value}")
    return httpx.Timeout(value, connect=min(10.0, value))


@contextmanager
def mapped_transport_errors() -> Iterator[None]:
    """Re-raise httpx transport errors as ``APIConnectionError`` / ``APITimeoutError``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        unsent = isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        kind = type(exc).__name__
        raise APITimeoutError(f"request timed out ({kind})", request_sent=not unsent) from exc
    except httpx.TransportError as exc:
        unsent = isinstance(exc, httpx.ConnectError)
        raise APIConnectionError(
            f"connection error ({type(exc).__name__}): {exc}", request_sent=not unsent
        ) from exc


def check_response(raw: RawResponse) -> RawResponse:
    """Raise the typed error for an error status or a ``code`` inside a 2xx JSON body."""
    if raw.status_code >= 400:
        raise error_from_response(raw.status_code, raw.headers, raw.content)
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


class _BaseClient:
    """Configuration and request preparation shared by both clients."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        *,
        stream_idle_timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self._config: ClientConfig = resolve_config(
            api_key=api_key, base_url=base_url, region=region, workspace=workspace, env=os.environ
        )
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._timeout = _timeout(timeout)
        if stream_idle_timeout is not None and stream_idle_timeout <= 0:
            raise ValueError("stream_idle_timeout: expected a positive number of seconds")
        self._stream_idle_timeout = stream_idle_timeout
        headers = {
            "Content-Type": "application/json",
            "User-Agent": user_agent or f"dashscope-ext/{__version__}",
        }
        if self._config.workspace:
            headers["X-DashScope-WorkSpace"] = self._config.workspace
        headers.update(default_headers or {})
        self._headers = headers

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``https://dashscope.aliyuncs.com/api/v1``."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._policy.max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return self._config.base_url + path

    def _is_api_host(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self._config.origin

    def _prepare(self, spec: RequestSpec) -> dict[str, Any]:
        url = self._url(spec.path)
        headers = dict(self._headers)
        if self._is_api_host(url):
            headers["Authorization"] = f"Bearer {self._config.api_key}"
        if spec.stream:
            headers["X-DashScope-SSE"] = "enable"
            headers["Accept"] = "text/event-stream"
        headers.update(spec.headers)
        timeout = self._timeout
        if spec.timeout is not None:
            timeout = httpx.Timeout(spec.timeout, connect=self._timeout.connect)
        content = None
        if spec.json is not None:
            content = json.dumps(spec.json, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            headers.pop("Content-Type", None)
        return {
            "method": spec.method,
            "url": url,
            "headers": headers,
            "content": content,
            "params": dict(spec.params) if spec.params else None,
            "timeout": timeout,
        }

    def _set_idle_timeout(self, response: httpx.Response) -> None:
        # httpcore reads the body with the request's "timeout" extension, looked up when the
        # body iteration starts: switching "read" here bounds the wait between stream chunks.
        if self._stream_idle_timeout is not None:
            timeouts = response.request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = self._stream_idle_timeout

    def _log_retry(self, state: RetryCallState) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            exc = state.outcome.exception() if state.outcome else None
            logger.debug("retrying after attempt %d: %r", state.attempt_number, exc)

    @staticmethod
    def _raw(response: httpx.Response, content: bytes) -> RawResponse:
        return RawResponse(response.status_code, response.headers, content, str(response.url))


class DashScope(_BaseClient):
    """Synchronous DashScope client: generation, apps, embeddings, tasks and predictions."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        http_client: httpx.Client | None = None,
        default_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        *,
        stream_idle_timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, region, workspace, timeout, max_retries, default_headers,
            user_agent, stream_idle_timeout=stream_idle_timeout, retry_policy=retry_policy,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self._timeout, limits=DEFAULT_LIMITS)
        if sleep is None:
            import time

            sleep = time.sleep
        self._sleep: Callable[[float], None] = sleep

    def _retrying(self, spec: RequestSpec) -> Retrying:
        return Retrying(
            **self._policy.tenacity_kwargs(
                sleep=self._sleep, replay_safe=spec.replay_safe, before_sleep=self._log_retry
            )
        )

    def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return self._retrying(spec)(self._send_once, spec)

    def _send_once(self, spec: RequestSpec) -> RawResponse:
        with mapped_transport_errors():
            response = self._http.request(**self._prepare(spec))
        return check_response(self._raw(response, response.content))

    def _open(self, spec: RequestSpec) -> httpx.Response:
        request = self._http.build_request(**self._prepare(spec))
        with mapped_transport_errors():
            response = self._http.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    check_response(self._raw(response, response.read()))
                finally:
                    response.close()
        return response

    def _stream(self, spec: RequestSpec) -> Iterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise. Lazy: the request
        is sent when iteration starts."""
        response = self._retrying(spec)(self._open, spec)
        try:
            self._set_idle_timeout(response)
            decoder = SSEDecoder()
            with mapped_transport_errors():
                for chunk in response.iter_bytes():
                    for event in decoder.feed(chunk):
                        yield check_event(event)
            for event in decoder.close():
                yield check_event(event)
        finally:
            response.close()

    def request(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Low-level call: send ``method route`` and return the decoded JSON (or None)."""
        spec = RequestSpec(method.upper(), route, json=json, params=params, headers=headers or {},
                           replay_safe=method.upper() != "POST")  # fmt: skip
        raw = self._send(spec)
        return raw.json() if raw.content.strip() else None

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> DashScope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @cached_property
    def generation(self) -> Generation:
        """Qwen text generation (and multimodal generation)."""
        from dashscope_core.resources.generation import Generation

        return Generation(self)

    @cached_property
    def embeddings(self) -> Embeddings:
        """Text embeddings."""
        from dashscope_core.resources.embeddings import Embeddings

        return Embeddings(self)

    @cached_property
    def apps(self) -> Apps:
        """Bailian application completion."""
        from dashscope_core.resources.apps import Apps

        return Apps(self)


class AsyncDashScope(_BaseClient):
    """Asynchronous DashScope client with the same surface as ``DashScope``."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        *,
        stream_idle_timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, region, workspace, timeout, max_retries, default_headers,
            user_agent, stream_idle_timeout=stream_idle_timeout, retry_policy=retry_policy,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout, limits=DEFAULT_LIMITS)
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        self._sleep: Callable[[float], Awaitable[None]] = sleep

    def _retrying(self, spec: RequestSpec) -> AsyncRetrying:
        return AsyncRetrying(
            **self._policy.tenacity_kwargs(
                sleep=self._sleep, replay_safe=spec.replay_safe, before_sleep=self._log_retry
            )
        )

    async def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return await self._retrying(spec)(self._send_once, spec)

    async def _send_once(self, spec: RequestSpec) -> RawResponse:
        with mapped_transport_errors():
            response = await self._http.request(**self._prepare(spec))
        return check_response(self._raw(response, response.content))

    async def _open(self, spec: RequestSpec) -> httpx.Response:
        request = self._http.build_request(**self._prepare(spec))
        with mapped_transport_errors():
            response = await self._http.send(request, stream=True)
            if response.status_code >= 400:
                try:
                    check_response(self._raw(response, await response.aread()))
                finally:
                    await response.aclose()
        return response

    async def _stream(self, spec: RequestSpec) -> AsyncIterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise."""
        response = await self._retrying(spec)(self._open, spec)
        try:
            self._set_idle_timeout(response)
            decoder = SSEDecoder()
            with mapped_transport_errors():
                async for chunk in response.aiter_bytes():
                    for event in decoder.feed(chunk):
                        yield check_event(event)
            for event in decoder.close():
                yield check_event(event)
        finally:
            await response.aclose()

    async def request(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Low-level call: send ``method route`` and return the decoded JSON (or None)."""
        spec = RequestSpec(method.upper(), route, json=json, params=params, headers=headers or {},
                           replay_safe=method.upper() != "POST")  # fmt: skip
        raw = await self._send(spec)
        return raw.json() if raw.content.strip() else None

    async def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncDashScope:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @cached_property
    def generation(self) -> AsyncGeneration:
        """Qwen text generation (and multimodal generation)."""
        from dashscope_core.resources.generation import AsyncGeneration

        return AsyncGeneration(self)

    @cached_property
    def embeddings(self) -> AsyncEmbeddings:
        """Text embeddings."""
        from dashscope_core.resources.embeddings import AsyncEmbeddings

        return AsyncEmbeddings(self)

    @cached_property
    def apps(self) -> AsyncApps:
        """Bailian application completion."""
        from dashscope_core.resources.apps import AsyncApps

        return AsyncApps(self)


__all__ = [
    "AsyncDashScope",
    "DashScope",
    "check_event",
    "check_response",
    "mapped_transport_errors",
]
