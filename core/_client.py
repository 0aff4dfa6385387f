"""``DashScope`` and ``AsyncDashScope``: the only code that sends requests.

A call goes: a resource's ``build_*`` describes it (``RequestSpec``), ``_send`` / ``_stream`` /
``_download`` here run the one retry loop (tenacity, built from ``RetryPolicy``), bound its time
and decide its headers, and ``_transport`` hands it to httpx. Everything else (parsing, retry
decisions, SSE decoding) is shared pure code; the twins only send or await.

Rules of this module:
- Time: ``timeout`` bounds each attempt from connect to the last byte (for a stream: to its first
  event, the part that is retried); ``total_timeout`` bounds a whole call, retries and waits
  included; ``stream_idle_timeout`` bounds the wait for each next event (comments and keep-alive
  bytes do not count). A caller's own deadline (``deadline=``) shortens them all.
- Headers: only the API origin (scheme, host and port of ``base_url``) gets the key, the
  workspace, ``default_headers`` and ``X-DashScope-*`` headers; any other host gets none of them,
  at every hop of a download's redirects too.
- Answers: a 3xx to an API call and every 4xx/5xx raise typed errors (their bodies read, capped);
  a download follows its redirects and its 2xx body is content, never read as an error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from tenacity import AsyncRetrying, RetryCallState, Retrying

from dashscope_core._protocol.config import header_safe, resolve_config
from dashscope_core._protocol.ratelimit import RateLimit
from dashscope_core._protocol.request import (
    EventReader,
    RawResponse,
    RequestSpec,
    check_event,
    check_response,
    is_json,
    redirect_target,
    status_error,
)
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core._ratelimiter import Limiter, Observer, Slot, budget_scope
from dashscope_core._transport import (
    DEFAULT_MAX_DECOMPRESSED,
    AsyncTransport,
    SyncTransport,
    abody_chunks,
    body_chunks,
    bounded,
    make_timeout,
    mapped_transport_errors,
    timeout_at,
)
from dashscope_core._version import __version__
from dashscope_core.errors import APITimeoutError, DashScopeError
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

if TYPE_CHECKING:
    from dashscope_core._protocol.prediction_stream import ServerSentEvent
    from dashscope_core.types.predictions import Prediction

__all__ = ["AsyncDashScope", "BaseClient", "DashScope", "decode_body", "request_spec"]

logger = logging.getLogger("dashscope_core")
_T = TypeVar("_T")
_Http = TypeVar("_Http", httpx.Client, httpx.AsyncClient)
_Sleep = TypeVar("_Sleep", Callable[[float], None], Callable[[float], Awaitable[None]])
EventCheck = Callable[[SSEEvent], SSEEvent]
"""Judges each stream event (default ``check_event``: error frames raise)."""
_API_ONLY = "x-dashscope-"


def request_spec(
    method: str,
    route: str,
    params: Mapping[str, Any] | None,
    json: Any,
    headers: Mapping[str, str] | None,
) -> RequestSpec:
    """The spec of a low-level ``client.request`` call (POSTs are not replayed on 5xx)."""
    verb = method.upper()
    return RequestSpec(verb, route, json=json, params=params, headers=headers or {},
                       replay_safe=verb != "POST")  # fmt: skip


def decode_body(raw: RawResponse) -> Any:
    """The decoded JSON of a low-level call, None for an empty body."""
    return raw.json() if raw.content.strip() else None


def _positive(name: str, value: Any, whole: bool = False) -> None:
    if value is None:
        return
    kinds = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0:
        raise ValueError(f"{name}: expected a positive number or None, got {value!r}")


class BaseClient(Generic[_Http, _Sleep]):
    """Configuration, headers, time bounds and retry decisions shared by both clients, and
    their one constructor (``DashScope`` / ``AsyncDashScope`` add the transport, the sleep and
    the namespaces of their flavour in ``_setup``)."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        http_client: _Http | None = None,
        default_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        *,
        stream_idle_timeout: float | None = None,
        total_timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        max_decompressed_size: int | None = DEFAULT_MAX_DECOMPRESSED,
        sleep: _Sleep | None = None,
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        on_rate_limit_wait: Observer | None = None,
    ) -> None:
        self._config = resolve_config(
            api_key=api_key, base_url=base_url, region=region, workspace=workspace, env=os.environ
        )
        scope = budget_scope(
            self._config.api_key.get_secret_value(), self.base_url, self._config.workspace
        )
        self._limiter = Limiter(RateLimit.per_model(rate_limit), scope, on_rate_limit_wait)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise TypeError(f"max_retries: expected an int, got {type(max_retries).__name__}")
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._timeout = make_timeout(timeout)
        self._attempt_seconds = self._timeout.read  # a number given is the read timeout too
        _positive("stream_idle_timeout", stream_idle_timeout)
        _positive("total_timeout", total_timeout)
        _positive("max_decompressed_size", max_decompressed_size, whole=True)
        self._stream_idle_timeout = stream_idle_timeout
        self._total_timeout = total_timeout
        self._max_decompressed = max_decompressed_size
        self._user_agent = user_agent or f"dashscope-ext/{__version__}"
        self._api_headers = self._check_headers(default_headers)
        self._origin = self._config.origin
        self._settings: dict[str, Any] = {
            "api_key": self._config.api_key, "base_url": self._config.base_url,
            "workspace": self._config.workspace, "timeout": timeout, "max_retries": max_retries,
            "default_headers": dict(default_headers or {}), "user_agent": user_agent,
            "stream_idle_timeout": stream_idle_timeout, "total_timeout": total_timeout,
            "retry_policy": retry_policy, "max_decompressed_size": max_decompressed_size,
            "rate_limit": rate_limit, "on_rate_limit_wait": on_rate_limit_wait,
        }  # fmt: skip
        """What a pickled copy (or the other flavour's twin) is rebuilt from."""
        self._sleep_given: _Sleep | None = sleep
        self._setup(http_client)

    def _setup(self, http_client: _Http | None) -> None:
        """The flavour's transport, sleep (``_sleep_given`` or the default) and namespaces."""
        raise NotImplementedError

    def _check_headers(self, default_headers: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"User-Agent": self._user_agent}
        if self._config.workspace:
            headers["X-DashScope-WorkSpace"] = self._config.workspace
        headers.update(default_headers or {})
        for name, value in headers.items():  # values are not shown: a header may hold a secret
            if not isinstance(name, str) or not isinstance(value, str) or not header_safe(value):
                raise ValueError(
                    f"default_headers/user_agent: the value of {name!r} is not printable ASCII"
                )
        return headers

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

    def _request_args(self, spec: RequestSpec, url: str | None = None) -> dict[str, Any]:
        """``build`` arguments for ``spec`` sent to ``url`` (default: its own)."""
        url = url or spec.path
        if not url.startswith(("http://", "https://")):  # below the base URL: the API host
            url, to_api = self._config.base_url + url, True
        else:
            parts = urlsplit(url)
            to_api = (parts.scheme, parts.netloc) == self._origin
        if to_api:  # the key is put in per request: never held in clear on the client
            headers = dict(self._api_headers)
            headers["Authorization"] = f"Bearer {self._config.api_key.get_secret_value()}"
            if spec.stream:
                headers["X-DashScope-SSE"] = "enable"
            headers.update(spec.headers)
        else:  # nothing of ours, and nothing of DashScope's, leaves the API host
            headers = {"User-Agent": self._user_agent}
            headers.update((k, v) for k, v in spec.headers.items() if not _api_only(k))
        if spec.stream:
            headers.setdefault("Accept", "text/event-stream")
        if spec.params and "?" in url:  # added to the URL's own query, never replacing it
            url, params = str(httpx.URL(url).copy_merge_params(spec.params)), None
        else:
            params = spec.params or None
        args: dict[str, Any] = {"method": spec.method, "url": url, "headers": headers,
                                "params": params}  # fmt: skip
        if spec.body is not None:
            headers.setdefault("Content-Type", "application/json")
            args["content"] = spec.body
        elif spec.content is not None:
            args["content"] = spec.content
        elif spec.files is not None or spec.data is not None:
            args["files"], args["data"] = spec.files, spec.data
        if spec.timeout is not None:
            args["timeout"] = httpx.Timeout(spec.timeout, connect=self._timeout.connect)
        return args

    def _operation_end(self, given: float | None) -> float | None:
        """When the whole call must be over (``total_timeout``, the caller's deadline)."""
        if self._total_timeout is not None:
            end = time.monotonic() + self._total_timeout
            return end if given is None else min(given, end)
        return given

    def _attempt_end(self, spec: RequestSpec, end: float | None) -> float | None:
        """When this attempt must be over: ``timeout`` from now, within the call's end."""
        seconds = spec.timeout if spec.timeout is not None else self._attempt_seconds
        if seconds is None:
            return end
        at = time.monotonic() + seconds
        return at if end is None else min(at, end)

    def _next_event_end(self, end: float | None) -> float | None:
        """When the next stream event must have come (``stream_idle_timeout``)."""
        if self._stream_idle_timeout is None:
            return end
        at = time.monotonic() + self._stream_idle_timeout
        return at if end is None else min(at, end)

    def _timed_out(self, what: str, seconds: float | None) -> APITimeoutError:
        return APITimeoutError(f"timed out: {what} within {seconds} s", request_sent=True)

    def _attempt_timed_out(self, spec: RequestSpec, what: str) -> APITimeoutError:
        return self._timed_out(what, spec.timeout or self._attempt_seconds)

    def _first_retry_delay(
        self, spec: RequestSpec, exc: DashScopeError, end: float | None
    ) -> float:
        """The wait before the second attempt; re-raises ``exc`` when it is not retried."""
        left = None if end is None else end - time.monotonic()
        delay = self._policy.first_retry_delay(
            exc, replay_safe=spec.replay_safe, rewindable=spec.rewindable,
            limited=self._limiter.applies(spec), time_left=left,
        )  # fmt: skip
        if delay is None:
            raise exc
        logger.debug("retrying after attempt 1: %r", exc)
        return delay

    def _retry_kwargs(self, spec: RequestSpec, end: float | None, sleep: Any) -> dict[str, Any]:
        """tenacity arguments for the attempts after the first (which runs outside tenacity)."""
        return self._policy.tenacity_kwargs(
            sleep=sleep, replay_safe=spec.replay_safe, rewindable=spec.rewindable,
            before_sleep=_log_retry, attempts_done=1, limited=self._limiter.applies(spec),
            end=end, clock=time.monotonic,
        )  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        if self._transport.injected is not None:
            raise TypeError(
                f"cannot pickle a {type(self).__name__} built with http_client=...: "
                "an httpx client cannot move to another process"
            )
        return {**self._settings, "sleep": self._sleep_given}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]  # rebuilt: new pools in the new process

    _transport: SyncTransport | AsyncTransport


def _api_only(name: str) -> bool:
    lower = name.lower()
    return lower == "authorization" or lower.startswith(_API_ONLY)


def _log_retry(state: RetryCallState) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        exc = state.outcome.exception() if state.outcome else None
        logger.debug("retrying after attempt %d: %r", state.attempt_number, exc)


class DashScope(BaseClient[httpx.Client, Callable[[float], None]]):
    """Synchronous DashScope client: generation, apps, embeddings, tasks and predictions."""

    _transport: SyncTransport
    _sleep: Callable[[float], None]

    def _setup(self, http_client: httpx.Client | None) -> None:
        self._transport = SyncTransport(http_client, self._timeout)
        self._sleep = self._sleep_given or time.sleep
        self.generation = Generation(self)
        """Qwen text and multimodal generation."""
        self.embeddings = Embeddings(self)
        """Text embeddings."""
        self.tokenizer = Tokenizer(self)
        """The tokenizer."""
        self.apps = Apps(self)
        """Bailian applications."""
        self.rerank = Rerank(self)
        """Text reranking."""
        self.uploads = Uploads(self)
        """Temporary file uploads."""
        self.tasks = Tasks(self)
        """DashScope async tasks."""
        self.images = Images(self)
        """Image synthesis (async tasks)."""
        self.predictions = Predictions(self)
        """Predictions."""
        self.models = Models(self)
        """Models and versions."""
        self.collections = Collections(self)
        """Collections."""
        self.hardware = Hardware(self)
        """Hardware options."""
        self.trainings = Trainings(self)
        """Trainings."""
        self.deployments = Deployments(self)
        """Deployments."""
        self.files = Files(self)
        """Files (compatible mode)."""
        self.batches = Batches(self)
        """Batches and batch jobs."""

    def _with_retries(
        self, spec: RequestSpec, end: float | None, attempt: Callable[..., _T], *args: Any
    ) -> _T:
        """``attempt(spec, end, *args)``, retried per the policy (the first try skips tenacity)."""
        try:
            return attempt(spec, end, *args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc, end)
        self._sleep(delay)
        retrying = Retrying(**self._retry_kwargs(spec, end, self._sleep))
        return retrying(attempt, spec, end, *args)

    def _send(self, spec: RequestSpec, *, deadline: float | None = None) -> RawResponse:
        """Send with retries; return the 2xx answer (whole) or raise its typed error.

        ``deadline``: a ``time.monotonic()`` by which the call must be over, retries included.
        """
        return self._with_retries(spec, self._operation_end(deadline), self._send_once)

    def _send_once(self, spec: RequestSpec, end: float | None) -> RawResponse:
        slot = self._limiter.acquire(spec)  # waits for the model's rate-limit budget
        try:
            with mapped_transport_errors(), bounded(self._attempt_end(spec, end)):
                response = self._exchange(spec)
                raw = self._whole(response)
            check_response(raw, download=spec.download)
        except BaseException as exc:
            slot.done(exc)  # a 429 adapts the budget, a refusal refunds its tokens
            raise
        slot.done(raw)  # the usage replaces the estimated tokens
        return raw

    def _whole(self, response: httpx.Response) -> RawResponse:
        """The rest of ``response``'s body, read (capped) and released."""
        try:
            body = b"".join(body_chunks(response, self._max_decompressed))
        finally:
            response.close()
        return RawResponse(response.status_code, response.headers, body, str(response.url))

    def _exchange(self, spec: RequestSpec) -> httpx.Response:
        """Send, following a download's redirects; return a 2xx answer with its body unread,
        or raise the typed error of any other (its body read)."""
        url, seen = spec.path, list[str]()
        while True:
            request = self._transport.build(**self._request_args(spec, url))
            response = self._transport.send(request, replayable=spec.replay_safe)
            if response.status_code < 300:
                return response
            target = redirect_target(spec, response.status_code, response.headers,
                                     str(response.url), seen)  # fmt: skip
            if target is None:
                raise status_error(self._whole(response))
            response.close()
            url = target

    def _open(self, spec: RequestSpec, end: float | None, check: EventCheck) -> _SyncOpened:
        """Send and read up to the first event: everything until then is one retried attempt."""
        slot = self._limiter.acquire(spec)
        try:
            return self._prime(spec, end, check, slot)
        except BaseException as exc:
            slot.done(exc)
            raise

    def _prime(
        self, spec: RequestSpec, end: float | None, check: EventCheck, slot: Slot
    ) -> _SyncOpened:
        at = self._attempt_end(spec, end)
        with mapped_transport_errors(), bounded(at):
            response = self._exchange(spec)
        reader = EventReader(check)
        try:
            with mapped_transport_errors(), bounded(_earlier(at, self._next_event_end(None))):
                if is_json(response.headers):
                    reader.prime_json(self._whole(response))
                    return response, iter(()), reader, slot
                chunks = body_chunks(response, self._max_decompressed)
                for chunk in chunks:
                    if reader.prime(chunk):
                        return response, chunks, reader, slot
                reader.prime_end()
        except BaseException:
            response.close()
            raise
        return response, chunks, reader, slot

    def _stream(
        self, spec: RequestSpec, check: EventCheck = check_event, *, deadline: float | None = None
    ) -> Iterator[SSEEvent]:
        """Open (with retries) and yield checked events; nothing is replayed once an event was
        yielded. Lazy: the request is sent when iteration starts."""
        end = self._operation_end(deadline)
        response, chunks, reader, slot = self._with_retries(spec, end, self._open, check)
        last: SSEEvent | None = None
        try:
            for last in reader.opening():
                yield last
            for last in self._rest(chunks, reader, end):
                yield last
            for last in reader.ending():
                yield last
        finally:
            response.close()
            slot.done(last)  # the last frame's usage is the whole call's

    def _rest(
        self, chunks: Iterator[bytes], reader: EventReader, end: float | None
    ) -> Iterator[SSEEvent]:
        """The events after the first, each within ``stream_idle_timeout`` of the one before."""
        event_end = self._next_event_end(end)
        if event_end is None:  # nothing to bound between events: read straight through
            with mapped_transport_errors():
                for chunk in chunks:
                    yield from map(reader.check, reader.events(chunk))
            return
        while True:
            with mapped_transport_errors(), bounded(event_end):
                piece = next(chunks, None)
            if piece is None:
                return
            events = reader.events(piece)
            if events:
                yield from map(reader.check, events)
                event_end = self._next_event_end(end)
            elif event_end is not None and time.monotonic() >= event_end:
                raise self._timed_out("no stream event came", self._stream_idle_timeout)

    def _download(self, spec: RequestSpec) -> Iterator[bytes]:
        """Yield a download's bytes as they arrive: one attempt (headers within ``timeout``,
        then each chunk within the stream idle bound), never replayed."""
        with mapped_transport_errors(), bounded(self._attempt_end(spec, None)):
            response = self._exchange(spec)
        try:
            chunks = body_chunks(response, self._max_decompressed)
            while True:
                with mapped_transport_errors(), bounded(self._next_event_end(None)):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                yield chunk
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
        return decode_body(self._send(request_spec(method, route, params, json, headers)))

    def close(self) -> None:
        """Close the connections this client opened (an injected ``http_client`` is left
        open); a later call opens new ones."""
        self._transport.close()

    def __enter__(self) -> DashScope:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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


def _earlier(first: float | None, second: float | None) -> float | None:
    """The earlier of two optional deadlines."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


_SyncOpened = tuple[httpx.Response, Iterator[bytes], EventReader, Slot]
_AsyncOpened = tuple[httpx.Response, AsyncIterator[bytes], EventReader, Slot]


class AsyncDashScope(BaseClient[httpx.AsyncClient, Callable[[float], Awaitable[None]]]):
    """Asynchronous DashScope client with the same surface as ``DashScope``.

    One client serves any number of event loops and threads: each loop gets its own
    connections, closed when that loop shuts down.
    """

    _transport: AsyncTransport
    _sleep: Callable[[float], Awaitable[None]]

    def _setup(self, http_client: httpx.AsyncClient | None) -> None:
        self._transport = AsyncTransport(http_client, self._timeout)
        self._sleep = self._sleep_given or asyncio.sleep
        self.generation = AsyncGeneration(self)
        """Qwen text and multimodal generation."""
        self.embeddings = AsyncEmbeddings(self)
        """Text embeddings."""
        self.tokenizer = AsyncTokenizer(self)
        """The tokenizer."""
        self.apps = AsyncApps(self)
        """Bailian applications."""
        self.rerank = AsyncRerank(self)
        """Text reranking."""
        self.uploads = AsyncUploads(self)
        """Temporary file uploads."""
        self.tasks = AsyncTasks(self)
        """DashScope async tasks."""
        self.images = AsyncImages(self)
        """Image synthesis (async tasks)."""
        self.predictions = AsyncPredictions(self)
        """Predictions."""
        self.models = AsyncModels(self)
        """Models and versions."""
        self.collections = AsyncCollections(self)
        """Collections."""
        self.hardware = AsyncHardware(self)
        """Hardware options."""
        self.trainings = AsyncTrainings(self)
        """Trainings."""
        self.deployments = AsyncDeployments(self)
        """Deployments."""
        self.files = AsyncFiles(self)
        """Files (compatible mode)."""
        self.batches = AsyncBatches(self)
        """Batches and batch jobs."""

    async def _with_retries(
        self,
        spec: RequestSpec,
        end: float | None,
        attempt: Callable[..., Awaitable[_T]],
        *args: Any,
    ) -> _T:
        """``await attempt(spec, end, *args)``, retried per the policy."""
        try:
            return await attempt(spec, end, *args)
        except DashScopeError as exc:
            delay = self._first_retry_delay(spec, exc, end)
        await self._sleep(delay)
        retrying = AsyncRetrying(**self._retry_kwargs(spec, end, self._sleep))
        return await retrying(attempt, spec, end, *args)

    async def _send(self, spec: RequestSpec, *, deadline: float | None = None) -> RawResponse:
        """Send with retries; return the 2xx answer (whole) or raise its typed error."""
        return await self._with_retries(spec, self._operation_end(deadline), self._send_once)

    async def _send_once(self, spec: RequestSpec, end: float | None) -> RawResponse:
        slot = await self._limiter.aacquire(spec)  # waits for the model's rate-limit budget
        try:
            raw = check_response(await self._attempt(spec, end), download=spec.download)
        except BaseException as exc:
            await slot.adone(exc)  # a 429 adapts the budget, a refusal refunds its tokens
            raise
        await slot.adone(raw)  # the usage replaces the estimated tokens
        return raw

    async def _attempt(self, spec: RequestSpec, end: float | None) -> RawResponse:
        """One attempt's whole answer, within its time bound."""
        try:
            with mapped_transport_errors():
                async with timeout_at(self._attempt_end(spec, end)):
                    return await self._whole(await self._exchange(spec))
        except TimeoutError as exc:
            raise self._attempt_timed_out(spec, "no complete answer") from exc

    async def _whole(self, response: httpx.Response) -> RawResponse:
        """The rest of ``response``'s body, read (capped) and released."""
        try:
            body = b"".join([c async for c in abody_chunks(response, self._max_decompressed)])
        finally:
            await response.aclose()
        return RawResponse(response.status_code, response.headers, body, str(response.url))

    async def _exchange(self, spec: RequestSpec) -> httpx.Response:
        """``DashScope._exchange`` awaited."""
        url, seen = spec.path, list[str]()
        while True:
            request = self._transport.build(**self._request_args(spec, url))
            response = await self._transport.send(request, replayable=spec.replay_safe)
            if response.status_code < 300:
                return response
            target = redirect_target(spec, response.status_code, response.headers,
                                     str(response.url), seen)  # fmt: skip
            if target is None:
                raise status_error(await self._whole(response))
            await response.aclose()
            url = target

    async def _open(self, spec: RequestSpec, end: float | None, check: EventCheck) -> _AsyncOpened:
        """Send and read up to the first event: everything until then is one retried attempt."""
        slot = await self._limiter.aacquire(spec)
        try:
            response, chunks, reader = await self._opening(spec, end, check)
        except BaseException as exc:
            await slot.adone(exc)
            raise
        return response, chunks, reader, slot

    async def _opening(
        self, spec: RequestSpec, end: float | None, check: EventCheck
    ) -> tuple[httpx.Response, AsyncIterator[bytes], EventReader]:
        at = self._attempt_end(spec, end)
        try:
            with mapped_transport_errors():
                async with timeout_at(at):
                    response = await self._exchange(spec)
        except TimeoutError as exc:
            raise self._attempt_timed_out(spec, "no answer") from exc
        try:
            with mapped_transport_errors():
                async with timeout_at(_earlier(at, self._next_event_end(None))):
                    return await self._prime(response, check)
        except TimeoutError as exc:
            raise self._attempt_timed_out(spec, "no stream event") from exc

    async def _prime(
        self, response: httpx.Response, check: EventCheck
    ) -> tuple[httpx.Response, AsyncIterator[bytes], EventReader]:
        reader = EventReader(check)
        try:
            if is_json(response.headers):
                reader.prime_json(await self._whole(response))
                return response, _no_chunks(), reader
            chunks = abody_chunks(response, self._max_decompressed)
            async for chunk in chunks:
                if reader.prime(chunk):
                    return response, chunks, reader
            reader.prime_end()
        except BaseException:
            await response.aclose()
            raise
        return response, chunks, reader

    async def _stream(
        self, spec: RequestSpec, check: EventCheck = check_event, *, deadline: float | None = None
    ) -> AsyncIterator[SSEEvent]:
        """Open (with retries) and yield checked events; nothing is replayed once an event was
        yielded; cancelling closes the connection."""
        end = self._operation_end(deadline)
        opened: _AsyncOpened = await self._with_retries(spec, end, self._open, check)
        response, chunks, reader, slot = opened
        last: SSEEvent | None = None
        try:
            for last in reader.opening():
                yield last
            event_end = self._next_event_end(end)
            while True:
                chunk = await self._next_chunk(chunks, event_end, "no stream event came")
                if chunk is None:
                    break
                events = reader.events(chunk)
                for event in events:
                    last = reader.check(event)
                    yield last
                if events:
                    event_end = self._next_event_end(end)
            for last in reader.ending():
                yield last
        finally:
            await response.aclose()
            await slot.adone(last)  # the last frame's usage is the whole call's

    async def _next_chunk(
        self, chunks: AsyncIterator[bytes], at: float | None, what: str
    ) -> bytes | None:
        """The next chunk of a body by ``at`` (None at its end)."""
        try:
            with mapped_transport_errors():
                async with timeout_at(at):
                    return await anext(chunks, None)
        except TimeoutError as exc:
            raise self._timed_out(what, self._stream_idle_timeout) from exc

    async def _download(self, spec: RequestSpec) -> AsyncIterator[bytes]:
        """``DashScope._download`` awaited."""
        try:
            with mapped_transport_errors():
                async with timeout_at(self._attempt_end(spec, None)):
                    response = await self._exchange(spec)
        except TimeoutError as exc:
            raise self._attempt_timed_out(spec, "no answer") from exc
        try:
            chunks = abody_chunks(response, self._max_decompressed)
            while True:
                at = self._next_event_end(None)
                chunk = await self._next_chunk(chunks, at, "no download data came")
                if chunk is None:
                    return
                yield chunk
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
        return decode_body(await self._send(request_spec(method, route, params, json, headers)))

    async def close(self) -> None:
        """Close the running event loop's connections (other loops' close with their loops;
        an injected ``http_client`` is left open); a later call opens new ones."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncDashScope:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield  # an async generator that yields nothing
