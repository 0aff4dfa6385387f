"""``DashScope`` and ``AsyncDashScope``: the only code that sends requests.

Everything else (building requests, parsing answers, retry decisions, SSE decoding, request
preparation in ``_hub``) is shared; the twins here only send or await: they map transport
errors, run the one retry loop (tenacity, built from ``RetryPolicy``) and hand responses and
stream events to the shared checks that raise the typed errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import SecretStr
from tenacity import AsyncRetrying, Retrying

from dashscope_core._hub import BaseClient, Namespace, decode_body, request_spec
from dashscope_core._protocol.ratelimit import RateLimit
from dashscope_core._protocol.request import RawResponse, RequestSpec, check_event, check_response
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core._ratelimiter import RateLimitWait, Slot
from dashscope_core._sync_transport import SyncStream, sync_sender
from dashscope_core._transport import (
    OpenStream,
    Primed,
    async_sender,
    idle_bounded,
    mapped_transport_errors,
)
from dashscope_core.errors import DashScopeError

if TYPE_CHECKING:
    from dashscope_core._protocol.prediction_stream import ServerSentEvent
    from dashscope_core.resources.apps import Apps, AsyncApps
    from dashscope_core.resources.batches import AsyncBatches, Batches
    from dashscope_core.resources.collections import AsyncCollections, Collections
    from dashscope_core.resources.deployments import AsyncDeployments, Deployments
    from dashscope_core.resources.embeddings import AsyncEmbeddings, Embeddings
    from dashscope_core.resources.files import AsyncFiles, Files
    from dashscope_core.resources.generation import AsyncGeneration, Generation
    from dashscope_core.resources.hardware import AsyncHardware, Hardware
    from dashscope_core.resources.images import AsyncImages, Images
    from dashscope_core.resources.models import AsyncModels, Models
    from dashscope_core.resources.predictions import AsyncPredictions, Predictions
    from dashscope_core.resources.rerank import AsyncRerank, Rerank
    from dashscope_core.resources.tasks import AsyncTasks, Tasks
    from dashscope_core.resources.tokenizer import AsyncTokenizer, Tokenizer
    from dashscope_core.resources.trainings import AsyncTrainings, Trainings
    from dashscope_core.resources.uploads import AsyncUploads, Uploads
    from dashscope_core.types.predictions import Prediction

_T = TypeVar("_T")
EventCheck = Callable[[SSEEvent], SSEEvent]
"""Judges each stream event (default ``check_event``: error frames raise)."""


class DashScope(BaseClient):
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
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        on_rate_limit_wait: Callable[[RateLimitWait], Any] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, region, workspace, timeout, max_retries, default_headers,
            user_agent, stream_idle_timeout=stream_idle_timeout, retry_policy=retry_policy,
            rate_limit=rate_limit, on_rate_limit_wait=on_rate_limit_wait,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._sender = sync_sender(http_client, self._timeout)
        if sleep is None:
            import time

            sleep = time.sleep
        self._sleep: Callable[[float], None] = sleep

    def _with_retries(self, spec: RequestSpec, attempt: Callable[..., _T], *args: Any) -> _T:
        """``attempt(*args)``, retried per the policy; the first try runs outside tenacity."""
        try:
            return attempt(*args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc)
        self._sleep(delay)
        return Retrying(**self._retry_kwargs(spec, self._sleep))(attempt, *args)

    def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return self._with_retries(spec, self._send_once, spec)

    def _send_once(self, spec: RequestSpec) -> RawResponse:
        slot = self._limiter.acquire(spec)  # waits for the model's rate-limit budget
        try:
            with mapped_transport_errors():
                raw = check_response(self._sender.send(self._prepare(spec)))
        except BaseException as exc:
            slot.done(exc)  # a 429 adapts the budget, a refusal refunds its tokens
            raise
        slot.done(raw)  # the usage replaces the estimated tokens
        return raw

    def _open(self, spec: RequestSpec, check: EventCheck) -> tuple[SyncStream, Primed, Slot]:
        """Send and read up to the first event: everything until then is retried."""
        slot = self._limiter.acquire(spec)
        with mapped_transport_errors():
            stream = self._sender.open(self._prepare(spec), self._stream_idle_timeout)
            try:
                if stream.status_code >= 400:
                    check_response(stream.raw())
                primed = Primed(check)
                for chunk in stream.chunks:
                    if primed.feed(chunk):
                        return stream, primed, slot
                primed.close()
            except BaseException as exc:
                stream.close()
                slot.done(exc)
                raise
        return stream, primed, slot

    def _stream(self, spec: RequestSpec, check: EventCheck = check_event) -> Iterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise. Lazy: the request
        is sent when iteration starts; once an event was yielded nothing is replayed."""
        stream, primed, slot = self._with_retries(spec, self._open, spec, check)
        last: SSEEvent | None = None
        try:
            for last in primed.opening():
                yield last
            with mapped_transport_errors():
                for chunk in stream.chunks:
                    for last in primed.events(chunk):
                        yield last
            for last in primed.ending():
                yield last
        finally:
            stream.close()
            slot.done(last)  # the last frame's usage is the whole call's

    def _download(self, spec: RequestSpec) -> Iterator[bytes]:
        """Yield a body's raw bytes as they arrive (file outputs): one attempt, never replayed;
        4xx/5xx raise typed errors; Authorization only for the API host (``_prepare``)."""
        with mapped_transport_errors():
            stream = self._sender.open(self._prepare(spec), None)
            try:
                if stream.status_code >= 400:
                    check_response(stream.raw())
                yield from stream.chunks
            finally:
                stream.close()

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
        return decode_body(self._send(request_spec(method, route, params, json, headers)))

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._sender.close()

    def __enter__(self) -> DashScope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    generation: Namespace[Generation] = Namespace(
        "generation", "Generation", "Qwen text generation."
    )
    embeddings: Namespace[Embeddings] = Namespace("embeddings", "Embeddings", "Text embeddings.")
    tokenizer: Namespace[Tokenizer] = Namespace("tokenizer", "Tokenizer", "The tokenizer.")
    apps: Namespace[Apps] = Namespace("apps", "Apps", "Bailian applications.")
    rerank: Namespace[Rerank] = Namespace("rerank", "Rerank", "Text reranking.")
    uploads: Namespace[Uploads] = Namespace("uploads", "Uploads", "Temporary file uploads.")
    # prediction API and async tasks (issue 5): one-line delegations into resources/
    tasks: Namespace[Tasks] = Namespace("tasks", "Tasks", "DashScope async tasks.")
    images: Namespace[Images] = Namespace("images", "Images", "Image synthesis.")
    predictions: Namespace[Predictions] = Namespace("predictions", "Predictions", "Predictions.")
    models: Namespace[Models] = Namespace("models", "Models", "Models and versions.")
    collections: Namespace[Collections] = Namespace("collections", "Collections", "Collections.")
    hardware: Namespace[Hardware] = Namespace("hardware", "Hardware", "Hardware options.")
    trainings: Namespace[Trainings] = Namespace("trainings", "Trainings", "Trainings.")
    deployments: Namespace[Deployments] = Namespace("deployments", "Deployments", "Deployments.")
    # Batch API (compatible mode, issue 14)
    files: Namespace[Files] = Namespace("files", "Files", "Files (compatible mode).")
    batches: Namespace[Batches] = Namespace("batches", "Batches", "Batches and batch jobs.")

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


class AsyncDashScope(BaseClient):
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
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        on_rate_limit_wait: Callable[[RateLimitWait], Any] | None = None,
    ) -> None:
        super().__init__(
            api_key, base_url, region, workspace, timeout, max_retries, default_headers,
            user_agent, stream_idle_timeout=stream_idle_timeout, retry_policy=retry_policy,
            rate_limit=rate_limit, on_rate_limit_wait=on_rate_limit_wait,
        )  # fmt: skip
        self._owns_http = http_client is None
        self._sender = async_sender(http_client, self._timeout)
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        self._sleep: Callable[[float], Awaitable[None]] = sleep

    async def _with_retries(
        self, spec: RequestSpec, attempt: Callable[..., Awaitable[_T]], *args: Any
    ) -> _T:
        """``await attempt(*args)``, retried per the policy; the first try skips tenacity."""
        try:
            return await attempt(*args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc)
        await self._sleep(delay)
        return await AsyncRetrying(**self._retry_kwargs(spec, self._sleep))(attempt, *args)

    async def _send(self, spec: RequestSpec) -> RawResponse:
        """Send with retries; return the 2xx response or raise its typed error."""
        return await self._with_retries(spec, self._send_once, spec)

    async def _send_once(self, spec: RequestSpec) -> RawResponse:
        slot = await self._limiter.aacquire(spec)  # waits for the model's rate-limit budget
        try:
            with mapped_transport_errors():
                raw = check_response(await self._sender.send(self._prepare(spec)))
        except BaseException as exc:
            await slot.adone(exc)
            raise
        await slot.adone(raw)
        return raw

    async def _open(
        self, spec: RequestSpec, check: EventCheck
    ) -> tuple[OpenStream, AsyncIterator[bytes], Primed, Slot]:
        """Send and read up to the first event: everything until then is retried."""
        slot = await self._limiter.aacquire(spec)
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
                        return stream, chunks, primed, slot
                primed.close()
            except BaseException as exc:
                await stream.aclose()
                await slot.adone(exc)
                raise
        return stream, chunks, primed, slot

    async def _stream(
        self, spec: RequestSpec, check: EventCheck = check_event
    ) -> AsyncIterator[SSEEvent]:
        """Open (with retries) and yield decoded events; error frames raise. Nothing is
        replayed once an event was yielded; cancelling closes the connection."""
        opened: tuple[OpenStream, AsyncIterator[bytes], Primed, Slot]
        opened = await self._with_retries(spec, self._open, spec, check)
        stream, chunks, primed, slot = opened
        last: SSEEvent | None = None
        try:
            for last in primed.opening():
                yield last
            with mapped_transport_errors():
                async for chunk in chunks:
                    for last in primed.events(chunk):
                        yield last
            for last in primed.ending():
                yield last
        finally:
            await stream.aclose()
            await slot.adone(last)

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
        return decode_body(await self._send(request_spec(method, route, params, json, headers)))

    async def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._sender.aclose()

    async def __aenter__(self) -> AsyncDashScope:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    generation: Namespace[AsyncGeneration] = Namespace(
        "generation", "AsyncGeneration", "Qwen text generation."
    )
    embeddings: Namespace[AsyncEmbeddings] = Namespace(
        "embeddings", "AsyncEmbeddings", "Text embeddings."
    )
    tokenizer: Namespace[AsyncTokenizer] = Namespace(
        "tokenizer", "AsyncTokenizer", "The tokenizer."
    )
    apps: Namespace[AsyncApps] = Namespace("apps", "AsyncApps", "Bailian applications.")
    rerank: Namespace[AsyncRerank] = Namespace("rerank", "AsyncRerank", "Text reranking.")
    uploads: Namespace[AsyncUploads] = Namespace(
        "uploads", "AsyncUploads", "Temporary file uploads."
    )
    # prediction API and async tasks (issue 5): one-line delegations into resources/
    tasks: Namespace[AsyncTasks] = Namespace("tasks", "AsyncTasks", "DashScope async tasks.")
    images: Namespace[AsyncImages] = Namespace("images", "AsyncImages", "Image synthesis.")
    predictions: Namespace[AsyncPredictions] = Namespace(
        "predictions", "AsyncPredictions", "Predictions."
    )
    models: Namespace[AsyncModels] = Namespace("models", "AsyncModels", "Models and versions.")
    collections: Namespace[AsyncCollections] = Namespace(
        "collections", "AsyncCollections", "Collections."
    )
    hardware: Namespace[AsyncHardware] = Namespace("hardware", "AsyncHardware", "Hardware options.")
    trainings: Namespace[AsyncTrainings] = Namespace("trainings", "AsyncTrainings", "Trainings.")
    deployments: Namespace[AsyncDeployments] = Namespace(
        "deployments", "AsyncDeployments", "Deployments."
    )
    # Batch API (compatible mode, issue 14)
    files: Namespace[AsyncFiles] = Namespace("files", "AsyncFiles", "Files (compatible mode).")
    batches: Namespace[AsyncBatches] = Namespace(
        "batches", "AsyncBatches", "Batches and batch jobs."
    )

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
