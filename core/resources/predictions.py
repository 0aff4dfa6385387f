"""Predictions (PROTOCOL.md "Prediction API"): create/get/cancel/list, wait, run and stream.

``run`` makes exactly the requests it needs: one create (``Prefer: wait[=N]`` unless
``wait=False``), the polls while the prediction runs, and a cancel when ``cancel`` is set or the
``timeout`` deadline passes. It never fetches the model or version.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dashscope_core._protocol.files import encode_input
from dashscope_core._protocol.identifiers import check_segment, parse_identifier
from dashscope_core._protocol.polling import (
    PREDICTIONS,
    DeadlineExceededError,
    PollJob,
    check_not_cancelled,
    check_poll_args,
    report,
)
from dashscope_core._protocol.prediction_stream import ServerSentEvent
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.errors import APITimeoutError, DashScopeError
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._drivers import (
    poll_async,
    poll_sync,
    run_async,
    run_sync,
    stream_async,
    stream_sync,
)
from dashscope_core.resources._outputs import wrap_outputs
from dashscope_core.types.predictions import Page, Prediction

__all__ = ["AsyncPredictions", "Predictions"]

WEBHOOK_EVENTS = frozenset({"start", "output", "logs", "completed"})
MAX_PREFER_WAIT = 60
Progress = Callable[[Prediction], Any]


def check_webhook(webhook: str | None, events: Sequence[str] | None) -> None:
    """Validate a webhook URL (absolute http/https) and an events filter before sending."""
    if webhook is not None:
        parts = urlsplit(webhook) if isinstance(webhook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook: expected an absolute http(s) URL, got {webhook!r}")
    if events is not None:
        if isinstance(events, str) or not all(isinstance(e, str) for e in events):
            raise TypeError("webhook_events_filter: expected a list of event names")
        unknown = sorted(set(events) - WEBHOOK_EVENTS)
        if unknown:
            raise ValueError(
                f"webhook_events_filter: unknown events {unknown}; "
                f"allowed: {sorted(WEBHOOK_EVENTS)}"
            )


def build_body(
    input: Mapping[str, Any] | None,
    *,
    webhook: str | None = None,
    webhook_events_filter: Sequence[str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A create body: files in ``input`` become data URIs; no null keys."""
    if input is not None and not isinstance(input, Mapping):
        raise TypeError(
            f"input: expected a mapping of input names to values, got {type(input).__name__}"
        )
    check_webhook(webhook, webhook_events_filter)
    body = {
        **fields,
        "input": encode_input(dict(input or {})),
        "webhook": webhook,
        "webhook_events_filter": list(webhook_events_filter or []) or None,
    }
    result: dict[str, Any] = drop_none(body)
    return result


def prefer_header(wait: bool | int | None) -> dict[str, str]:
    """``Prefer: wait`` / ``wait=N`` for sync mode; nothing for ``None``/``False``."""
    if wait is None or wait is False:
        return {}
    if wait is True:
        return {"Prefer": "wait"}
    if not isinstance(wait, int) or not 1 <= wait <= MAX_PREFER_WAIT:
        raise ValueError(
            f"wait: expected True, False or seconds 1..{MAX_PREFER_WAIT}, got {wait!r}"
        )
    return {"Prefer": f"wait={wait}"}


def _target(
    version: str | None, model: str | None, deployment: str | None
) -> tuple[str, dict[str, Any]]:
    given = [
        n for n, v in (("version", version), ("model", model), ("deployment", deployment)) if v
    ]
    if len(given) != 1:
        raise ValueError("version, model, deployment: pass exactly one of them")
    if deployment:
        ref = parse_identifier(deployment, argument="deployment")
        return f"/deployments/{ref.owner}/{ref.name}/predictions", {}
    if model:
        ref = parse_identifier(model, argument="model")
        if ref.version is None:
            return f"/models/{ref.owner}/{ref.name}/predictions", {}
        return "/predictions", {"version": ref.version}
    assert version is not None
    if "/" in version:
        ref = parse_identifier(version, argument="version")
        if ref.version is None:
            raise ValueError(f"version: {version!r} names no version; use model= for the latest")
        version = ref.version
    return "/predictions", {"version": check_segment(version, argument="version")}


def build_create(
    *,
    version: str | None = None,
    model: str | None = None,
    deployment: str | None = None,
    input: Mapping[str, Any] | None = None,
    stream: bool = False,
    webhook: str | None = None,
    webhook_events_filter: Sequence[str] | None = None,
    wait: bool | int | None = None,
) -> RequestSpec:
    """POST /predictions (version), /models/{o}/{n}/predictions or /deployments/.../predictions."""
    path, fields = _target(version, model, deployment)
    body = build_body(
        input,
        webhook=webhook,
        webhook_events_filter=webhook_events_filter,
        stream=True if stream else None,
        **fields,
    )
    return RequestSpec("POST", path, json=body, headers=prefer_header(wait), replay_safe=False)


def build_run(identifier: str, input: Mapping[str, Any] | None, **options: Any) -> RequestSpec:
    """The create request of ``run``: ``owner/name:version`` → /predictions, else the model's."""
    parse_identifier(identifier)
    return build_create(model=identifier, input=input, **options)


def build_get(prediction_id: str) -> RequestSpec:
    """GET /predictions/{id}."""
    return RequestSpec("GET", f"/predictions/{check_segment(prediction_id, argument='id')}")


def build_cancel(prediction_id: str) -> RequestSpec:
    """POST /predictions/{id}/cancel (not replayed on 5xx)."""
    pid = check_segment(prediction_id, argument="id")
    return RequestSpec("POST", f"/predictions/{pid}/cancel", replay_safe=False)


def build_list(path: str, cursor: str | None) -> RequestSpec:
    """GET ``path`` for page one, or the absolute ``cursor`` URL (a page's ``next``) as is."""
    if cursor is None:
        return RequestSpec("GET", path)
    if not isinstance(cursor, str) or not cursor.startswith(("http://", "https://")):
        raise ValueError(f"cursor: expected None or a page's absolute 'next' URL, got {cursor!r}")
    return RequestSpec("GET", cursor)


@response_parser
def parse_prediction(raw: RawResponse) -> Prediction:
    """A Prediction from a response body."""
    return Prediction.model_validate_json(raw.content)


@response_parser
def parse_page(raw: RawResponse) -> Page[Prediction]:
    """A page of predictions."""
    return Page[Prediction].model_validate_json(raw.content)


def poll_id(item: Prediction) -> str:
    """``item.id``; a ValueError naming ``prediction`` when the server's answer had none."""
    if not item.id:
        raise ValueError(
            "prediction: it has no 'id' (the server's answer had none) to poll or cancel"
        )
    return item.id


def _keep_cancel(raw: RawResponse, previous: Prediction) -> Prediction:
    return parse_prediction(raw) if raw.content.strip() else previous


def wait_job(
    prediction: Prediction | str,
    interval: float = 0.5,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> tuple[PollJob[Prediction], Prediction]:
    """The poll job for ``prediction`` (an object or an id) and its starting state."""
    check_poll_args(interval, timeout, progress)
    if isinstance(prediction, str):
        prediction = Prediction(id=prediction, status="starting")
    if not isinstance(prediction, Prediction):
        raise TypeError("prediction: expected a Prediction or a prediction id")
    job = PollJob(
        PREDICTIONS,
        build_get(poll_id(prediction)),
        build_cancel(poll_id(prediction)),
        parse_prediction,
        _keep_cancel,
        interval,
        timeout,
        progress,
    )
    return job, prediction


def build_stream(
    target: str | Prediction, input: Mapping[str, Any] | None, **options: Any
) -> tuple[RequestSpec | None, Prediction | None]:
    """For ``stream``: the create request (``stream: true``), or the prediction to read."""
    if isinstance(target, Prediction):
        return None, target
    parse_identifier(target, argument="identifier_or_prediction")
    return build_create(model=target, input=input, stream=True, **options), None


@dataclass(frozen=True)
class RunPlan:
    """What ``run`` sends first and how it waits: built (and validated) before any request."""

    create: RequestSpec
    wait_args: tuple[float, Progress | None, float | None, Any]
    """``(interval, progress, timeout, cancel)`` for ``wait``."""
    use_file_output: bool = True

    def created(self, raw: RawResponse) -> Prediction:
        """The created prediction, reported to ``progress``."""
        return report(self.wait_args[1], parse_prediction(raw))

    @property
    def hold(self) -> float:
        """Seconds the create may hold its answer (``Prefer: wait[=N]``; the API caps it at 60)."""
        prefer = self.create.headers.get("Prefer", "")
        if not prefer.startswith("wait"):
            return 0.0
        _, _, seconds = prefer.partition("=")
        return float(seconds) if seconds.isdigit() else 60.0

    def end(self) -> float | None:
        """The run's wall-clock deadline (``time.monotonic()``) from ``timeout``, counted now."""
        timeout = self.wait_args[2]
        return None if timeout is None else time.monotonic() + timeout

    def unanswered(self, exc: APITimeoutError, end: float | None) -> DashScopeError:
        """What a create cut short raises: the deadline's error when the deadline cut it."""
        if end is None or time.monotonic() < end:
            return exc
        return DeadlineExceededError(
            f"run {self.create.path}: deadline reached (timeout={self.wait_args[2]} s) before "
            "the create answered; a prediction it made, if any, was not cancelled",
            reason="deadline",
        )

    def wait_job(self, created: Prediction) -> tuple[PollJob[Prediction], Prediction, Any]:
        """``poll_*`` arguments for the created prediction."""
        interval, progress, timeout, cancel = self.wait_args
        return (*wait_job(created, interval, timeout, progress), cancel)

    def cancel_of(self, made: Prediction) -> RequestSpec:
        """The cancel of a prediction this run made."""
        return build_cancel(poll_id(made))

    def output(self, done: Prediction, client: Any) -> Any:
        """The finished prediction's output, file URLs wrapped as ``FileOutput``s."""
        return wrap_outputs(done.output, client) if self.use_file_output else done.output


def plan_run(
    identifier: str,
    input: Mapping[str, Any] | None = None,
    *,
    wait: bool | int = True,
    webhook: str | None = None,
    webhook_events_filter: Sequence[str] | None = None,
    progress: Progress | None = None,
    cancel: Any = None,
    timeout: float | None = None,
    interval: float = 0.5,
    use_file_output: bool = True,
) -> RunPlan:
    """Validate ``run``'s arguments and plan its requests.

    Args:
        identifier: ``owner/name:version`` (POST /predictions) or ``owner/name`` (the model's
            latest version, POST /models/{owner}/{name}/predictions).
        input: the model's inputs; ``Path``/bytes/binary files become data URIs (<= 10 MB).
        wait: ``True`` sends ``Prefer: wait``, ``N`` (1..60) ``Prefer: wait=N``; ``False`` polls
            only. Either way a prediction still running afterwards is polled.
        progress: called with the prediction after create, on each non-terminal poll and once
            at the end.
        cancel: a ``threading.Event`` (or ``asyncio.Event`` for the async client); when set the
            prediction is cancelled server-side and ``JobCancelledError`` is raised (already
            set before the call: raised at once, nothing is sent).
        timeout: seconds of wall-clock time for the whole run: a held create (its
            ``Prefer: wait`` is shortened to fit), the polls, and at the deadline a cancel sent
            server-side (allowed one more second), then ``DeadlineExceededError`` (a
            ``CancelledError``) is raised.
        interval: seconds between polls.
        use_file_output: wrap URL outputs as lazy ``FileOutput``s.
    """
    check_poll_args(interval, timeout, progress, cancel)
    spec = build_run(
        identifier, input, wait=_held_within(wait, timeout), webhook=webhook,
        webhook_events_filter=webhook_events_filter,
    )  # fmt: skip
    check_not_cancelled(cancel, f"run {identifier}")
    return RunPlan(spec, (interval, progress, timeout, cancel), use_file_output)


def _held_within(wait: bool | int, timeout: float | None) -> bool | int:
    """``wait`` shortened so a held create answers well inside ``timeout`` (with the id to
    cancel, and time left to cancel it)."""
    if timeout is None or wait is False or (isinstance(wait, bool) is False and not wait):
        return wait
    seconds = MAX_PREFER_WAIT if wait is True else wait
    if not isinstance(seconds, int):
        return wait  # build_run names the bad value
    return max(1, min(seconds, int(timeout * 0.8)))


class Predictions(SyncNamespace):
    """Create, inspect, cancel, list, wait for, run and stream predictions."""

    def create(self, *, input: Mapping[str, Any] | None = None, **target: Any) -> Prediction:
        """Create one of ``version=`` | ``model=`` | ``deployment=``; ``wait=`` (sync mode)."""
        return parse_prediction(self._client._send(build_create(input=input, **target)))

    def get(self, id: str) -> Prediction:
        """Fetch a prediction."""
        return parse_prediction(self._client._send(build_get(id)))

    def cancel(self, id: str) -> Prediction:
        """Cancel a prediction; answers it with ``status: canceled``."""
        return parse_prediction(self._client._send(build_cancel(id)))

    def list(self, cursor: str | None = None) -> Page[Prediction]:
        """One page of your predictions; pass a page's ``next`` as ``cursor`` for the next."""
        return parse_page(self._client._send(build_list("/predictions", cursor)))

    def wait(
        self,
        prediction: Prediction | str,
        interval: float = 0.5,
        progress: Progress | None = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Prediction:
        """Poll until finished; raises PredictionFailedError / CancelledError (see run)."""
        return poll_sync(self._client, *wait_job(prediction, interval, timeout, progress), cancel)

    def run(self, identifier: str, input: Mapping[str, Any] | None = None, **options: Any) -> Any:
        """Run a model and return its output; ``options`` as in ``plan_run``."""
        return run_sync(self._client, plan_run(identifier, input, **options))

    def stream(
        self,
        identifier_or_prediction: str | Prediction,
        input: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Iterator[ServerSentEvent]:
        """Create with ``stream: true`` (unless given a prediction) and yield its SSE events."""
        return stream_sync(self._client, *build_stream(identifier_or_prediction, input, **options))


class AsyncPredictions(AsyncNamespace):
    """Async twin of ``Predictions``."""

    async def create(self, *, input: Mapping[str, Any] | None = None, **target: Any) -> Prediction:
        """Create one of ``version=`` | ``model=`` | ``deployment=``; ``wait=`` (sync mode)."""
        return parse_prediction(await self._client._send(build_create(input=input, **target)))

    async def get(self, id: str) -> Prediction:
        """Fetch a prediction."""
        return parse_prediction(await self._client._send(build_get(id)))

    async def cancel(self, id: str) -> Prediction:
        """Cancel a prediction; answers it with ``status: canceled``."""
        return parse_prediction(await self._client._send(build_cancel(id)))

    async def list(self, cursor: str | None = None) -> Page[Prediction]:
        """One page of your predictions; pass a page's ``next`` as ``cursor`` for the next."""
        return parse_page(await self._client._send(build_list("/predictions", cursor)))

    async def wait(
        self,
        prediction: Prediction | str,
        interval: float = 0.5,
        progress: Progress | None = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Prediction:
        """Poll until finished; task cancellation cancels server-side and re-raises."""
        job, start = wait_job(prediction, interval, timeout, progress)
        return await poll_async(self._client, job, start, cancel)

    async def run(
        self, identifier: str, input: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """Run a model and return its output; ``options`` as in ``plan_run``."""
        return await run_async(self._client, plan_run(identifier, input, **options))

    def stream(
        self,
        identifier_or_prediction: str | Prediction,
        input: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> AsyncIterator[ServerSentEvent]:
        """Create with ``stream: true`` (unless given a prediction) and yield its SSE events."""
        return stream_async(self._client, *build_stream(identifier_or_prediction, input, **options))
