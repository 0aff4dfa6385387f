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
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from tenacity import AsyncRetrying, RetryCallState, Retrying

from dashscope_core._protocol.config import ClientConfig, resolve_config
from dashscope_core._protocol.request import RawResponse, RequestSpec, check_event, check_response
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core._transport import (
    DEFAULT_LIMITS,
    OpenStream,
    Primed,
    async_sender,
    idle_bounded,
    make_timeout,
    mapped_transport_errors,
    set_read_timeout,
)
from dashscope_core._version import __version__
from dashscope_core.errors import DashScopeError

if TYPE_CHECKING:
    from dashscope_core._protocol.prediction_stream import ServerSentEvent
    from dashscope_core.resources.apps import Apps, AsyncApps
    from dashscope_core.resources.collections import AsyncCollections, Collections
    from dashscope_core.resources.deployments import AsyncDeployments, Deployments
    from dashscope_core.resources.embeddings import AsyncEmbeddings, Embeddings
    from dashscope_core.resources.generation import AsyncGeneration, Generation
    from dashscope_core.resources.hardware import AsyncHardware, Hardware
    from dashscope_core.resources.images import AsyncImages, Images
    from dashscope_core.resources.models import AsyncModels, Models
    from dashscope_core.resources.predictions import AsyncPredictions, Predictions
    from dashscope_core.resources.tasks import AsyncTasks, Tasks
    from dashscope_core.resources.trainings import AsyncTrainings, Trainings
    from dashscope_core.types.predictions import Prediction

logger = logging.getLogger("dashscope_core")
_T = TypeVar("_T")
EventCheck = Callable[[SSEEvent], SSEEvent]
"""Judges each stream event (default ``check_event``: error frames raise)."""


class _BaseClient:
    """Configuration and request preparation shared by both clients."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
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
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise TypeError(f"max_retries: expected an int, got {type(max_retries).__name__}")
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._timeout = make_timeout(timeout)
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
            headers["Authorization"] = f"Bearer {self._config.api_key.get_secret_value()}"
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

    def _first_retry_delay(self, spec: RequestSpec, exc: DashScopeError) -> float:
        """The wait before the second attempt; re-raises ``exc`` when it is not retried."""
        delay = self._policy.first_retry_delay(exc, replay_safe=spec.replay_safe)
        if delay is None:
            raise exc
        logger.debug("retrying after attempt 1: %r", exc)
        return delay

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
        api_key: str | SecretStr | None = None,
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

    def _retrying(self, spec: RequestSpec, attempts_done: int = 0) -> Retrying:
        return Retrying(
            **self._policy.tenacity_kwargs(
                sleep=self._sleep, replay_safe=spec.replay_safe, before_sleep=self._log_retry,
                attempts_done=attempts_done,
            )
        )  # fmt: skip

    def _with_retries(self, spec: RequestSpec, attempt: Callable[..., _T], *args: Any) -> _T:
        """``attempt(*args)``, retried per the policy; the first try runs outside tenacity."""
        try:
            return attempt(*args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc)
        self._sleep(delay)
        return self._retrying(spec, attempts_done=1)(attempt, *args)

    def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return self._with_retries(spec, self._send_once, spec)

    def _send_once(self, spec: RequestSpec) -> RawResponse:
        with mapped_transport_errors():
            response = self._http.request(**self._prepare(spec))
        return check_response(self._raw(response, response.content))

    def _open(
        self, spec: RequestSpec, check: EventCheck
    ) -> tuple[httpx.Response, Iterator[bytes], Primed]:
        """Send and read up to the first event: everything until then is retried."""
        request = self._http.build_request(**self._prepare(spec))
        with mapped_transport_errors():
            response = self._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    check_response(self._raw(response, response.read()))
                set_read_timeout(response, self._stream_idle_timeout)
                chunks, primed = response.iter_bytes(), Primed(check)
                for chunk in chunks:
                    if primed.feed(chunk):
                        return response, chunks, primed
                primed.close()
            except BaseException:
                response.close()
                raise
        return response, chunks, primed

    def _stream(self, spec: RequestSpec, check: EventCheck = check_event) -> Iterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise. Lazy: the request
        is sent when iteration starts; once an event was yielded nothing is replayed."""
        response, chunks, primed = self._with_retries(spec, self._open, spec, check)
        try:
            for event in primed.first:
                yield check(event)
            decoder = primed.decoder
            with mapped_transport_errors():
                for chunk in chunks:
                    for event in decoder.feed(chunk):
                        yield check(event)
            for event in decoder.close():
                yield check(event)
        finally:
            response.close()

    def _download(self, spec: RequestSpec) -> Iterator[bytes]:
        """Yield a body's raw bytes as they arrive (file outputs): one attempt, never replayed;
        4xx/5xx raise typed errors; Authorization only for the API host (``_prepare``)."""
        with mapped_transport_errors():
            request = self._http.build_request(**self._prepare(spec))
            response = self._http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    check_response(self._raw(response, response.read()))
                yield from response.iter_bytes()
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

    # prediction API and async tasks (issue 5): one-line delegations into resources/
    @cached_property
    def tasks(self) -> Tasks:
        """DashScope async tasks: submit, get, cancel, list, wait."""
        from dashscope_core.resources.tasks import Tasks

        return Tasks(self)

    @cached_property
    def images(self) -> Images:
        """Image synthesis (async tasks)."""
        from dashscope_core.resources.images import Images

        return Images(self)

    @cached_property
    def predictions(self) -> Predictions:
        """Predictions: create, get, cancel, list, wait, stream."""
        from dashscope_core.resources.predictions import Predictions

        return Predictions(self)

    @cached_property
    def models(self) -> Models:
        """Models and their versions."""
        from dashscope_core.resources.models import Models

        return Models(self)

    @cached_property
    def collections(self) -> Collections:
        """Collections of models."""
        from dashscope_core.resources.collections import Collections

        return Collections(self)

    @cached_property
    def hardware(self) -> Hardware:
        """Hardware options."""
        from dashscope_core.resources.hardware import Hardware

        return Hardware(self)

    @cached_property
    def trainings(self) -> Trainings:
        """Trainings."""
        from dashscope_core.resources.trainings import Trainings

        return Trainings(self)

    @cached_property
    def deployments(self) -> Deployments:
        """Deployments and their predictions."""
        from dashscope_core.resources.deployments import Deployments

        return Deployments(self)

    def run(self, identifier: str, input: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run ``owner/name[:version]`` and return its output (see ``predictions.run``)."""
        return self.predictions.run(identifier, input, **options)

    def wait(self, prediction: Prediction | str, **options: Any) -> Prediction:
        """Poll a prediction until it finishes (see ``predictions.wait``)."""
        return self.predictions.wait(prediction, **options)

    def stream(
        self, identifier_or_prediction: str | Prediction, input: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[ServerSentEvent]:  # fmt: skip
        """Stream a prediction's output events (see ``predictions.stream``)."""
        return self.predictions.stream(identifier_or_prediction, input, **options)

    def paginate(self, list_method: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Pages of ``list_method`` (``client.predictions.list``, ...), following ``next``."""
        from dashscope_core.resources._drivers import paginate_sync

        return paginate_sync(list_method, *args, **kwargs)


class AsyncDashScope(_BaseClient):
    """Asynchronous DashScope client with the same surface as ``DashScope``."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
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
        self._sender = async_sender(http_client, self._timeout)
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        self._sleep: Callable[[float], Awaitable[None]] = sleep

    def _retrying(self, spec: RequestSpec, attempts_done: int = 0) -> AsyncRetrying:
        return AsyncRetrying(
            **self._policy.tenacity_kwargs(
                sleep=self._sleep, replay_safe=spec.replay_safe, before_sleep=self._log_retry,
                attempts_done=attempts_done,
            )
        )  # fmt: skip

    async def _with_retries(
        self, spec: RequestSpec, attempt: Callable[..., Awaitable[_T]], *args: Any
    ) -> _T:
        """``await attempt(*args)``, retried per the policy; the first try skips tenacity."""
        try:
            return await attempt(*args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc)
        await self._sleep(delay)
        return await self._retrying(spec, attempts_done=1)(attempt, *args)

    async def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return await self._with_retries(spec, self._send_once, spec)

    async def _send_once(self, spec: RequestSpec) -> RawResponse:
        with mapped_transport_errors():
            raw = await self._sender.send(self._prepare(spec))
        return check_response(raw)

    async def _open(
        self, spec: RequestSpec, check: EventCheck
    ) -> tuple[OpenStream, AsyncIterator[bytes], Primed]:
        """Send and read up to the first event: everything until then is retried."""
        with mapped_transport_errors():
            stream = await self._sender.open(self._prepare(spec), self._stream_idle_timeout)
            try:
                if stream.status_code >= 400:
                    check_response(
                        RawResponse(stream.status_code, stream.headers, await stream.read())
                    )
                chunks, primed = (
                    idle_bounded(stream.chunks, self._stream_idle_timeout),
                    Primed(check),
                )
                async for chunk in chunks:
                    if primed.feed(chunk):
                        return stream, chunks, primed
                primed.close()
            except BaseException:
                await stream.aclose()
                raise
        return stream, chunks, primed

    async def _stream(
        self, spec: RequestSpec, check: EventCheck = check_event
    ) -> AsyncIterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise. Nothing is
        replayed once an event was yielded; cancelling closes the connection."""
        opened: tuple[OpenStream, AsyncIterator[bytes], Primed]
        opened = await self._with_retries(spec, self._open, spec, check)
        stream, chunks, primed = opened
        try:
            for event in primed.first:
                yield check(event)
            decoder = primed.decoder
            with mapped_transport_errors():
                async for chunk in chunks:
                    for event in decoder.feed(chunk):
                        yield check(event)
            for event in decoder.close():
                yield check(event)
        finally:
            await stream.aclose()

    async def _download(self, spec: RequestSpec) -> AsyncIterator[bytes]:
        """``DashScope._download`` for the async client."""
        with mapped_transport_errors():
            stream = await self._sender.open(self._prepare(spec), None)
            try:
                if stream.status_code >= 400:
                    check_response(
                        RawResponse(stream.status_code, stream.headers, await stream.read())
                    )
                async for chunk in stream.chunks:
                    yield chunk
            finally:
                await stream.aclose()

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
            await self._sender.aclose()

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

    # prediction API and async tasks (issue 5): one-line delegations into resources/
    @cached_property
    def tasks(self) -> AsyncTasks:
        """DashScope async tasks: submit, get, cancel, list, wait."""
        from dashscope_core.resources.tasks import AsyncTasks

        return AsyncTasks(self)

    @cached_property
    def images(self) -> AsyncImages:
        """Image synthesis (async tasks)."""
        from dashscope_core.resources.images import AsyncImages

        return AsyncImages(self)

    @cached_property
    def predictions(self) -> AsyncPredictions:
        """Predictions: create, get, cancel, list, wait, stream."""
        from dashscope_core.resources.predictions import AsyncPredictions

        return AsyncPredictions(self)

    @cached_property
    def models(self) -> AsyncModels:
        """Models and their versions."""
        from dashscope_core.resources.models import AsyncModels

        return AsyncModels(self)

    @cached_property
    def collections(self) -> AsyncCollections:
        """Collections of models."""
        from dashscope_core.resources.collections import AsyncCollections

        return AsyncCollections(self)

    @cached_property
    def hardware(self) -> AsyncHardware:
        """Hardware options."""
        from dashscope_core.resources.hardware import AsyncHardware

        return AsyncHardware(self)

    @cached_property
    def trainings(self) -> AsyncTrainings:
        """Trainings."""
        from dashscope_core.resources.trainings import AsyncTrainings

        return AsyncTrainings(self)

    @cached_property
    def deployments(self) -> AsyncDeployments:
        """Deployments and their predictions."""
        from dashscope_core.resources.deployments import AsyncDeployments

        return AsyncDeployments(self)

    async def run(
        self, identifier: str, input: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """Run ``owner/name[:version]`` and return its output (see ``predictions.run``)."""
        return await self.predictions.run(identifier, input, **options)

    async def wait(self, prediction: Prediction | str, **options: Any) -> Prediction:
        """Poll a prediction until it finishes (see ``predictions.wait``)."""
        return await self.predictions.wait(prediction, **options)

    def stream(
        self, identifier_or_prediction: str | Prediction, input: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncIterator[ServerSentEvent]:  # fmt: skip
        """Stream a prediction's output events (see ``predictions.stream``)."""
        return self.predictions.stream(identifier_or_prediction, input, **options)

    def paginate(
        self, list_method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> AsyncIterator[Any]:
        """Pages of ``list_method`` (``client.predictions.list``, ...), following ``next``."""
        from dashscope_core.resources._drivers import paginate_async

        return paginate_async(list_method, *args, **kwargs)


__all__ = [
    "AsyncDashScope",
    "DashScope",
    "check_event",
    "check_response",
    "mapped_transport_errors",
]
