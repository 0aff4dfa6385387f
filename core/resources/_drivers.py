"""The small I/O loops behind ``wait``/``run``, prediction streams and ``paginate``.

Every decision is in ``_protocol.polling`` (``PollLoop``) and ``_protocol.prediction_stream``;
these drivers only send, sleep and read the clock, once for each client.

Cancellation: a ``threading.Event`` is checked between polls, and the sync sleep waits on it so
it returns early. An async wait whose task is cancelled sends the server-side cancel as a short
shielded request, then re-raises ``asyncio.CancelledError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from dashscope_core._protocol.polling import CANCEL, POLL, PollJob, PollLoop
from dashscope_core._protocol.prediction_stream import PredictionStreamReader, ServerSentEvent
from dashscope_core._protocol.request import RequestSpec
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    DashScopeError,
)
from dashscope_core.types.predictions import Prediction

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope
    from dashscope_core.resources.predictions import RunPlan

T = TypeVar("T")
P = TypeVar("P")

CANCEL_GRACE = 10.0
"""Seconds an async cancel request may take after the waiting task itself was cancelled."""
CANCEL_ALLOWANCE = 1.0
"""Seconds a cancel sent at a ``timeout`` deadline may take past it (a hanging cancel ends)."""


def _clock(client: object) -> Callable[[], float]:
    clock: Callable[[], float] = getattr(client, "_clock", time.monotonic)
    return clock


def _is_set(cancel: Any) -> bool:
    return cancel is not None and bool(cancel.is_set())


def _unchecked(event: SSEEvent) -> SSEEvent:
    # prediction streams judge their own ``error`` events (PredictionStreamReader)
    return event


def _cancel_note(exc: DashScopeError) -> str:
    return f"the server-side cancel failed: {exc}"


def _sleep_sync(client: DashScope, cancel: Any, delay: float) -> bool:
    """Sleep ``delay`` seconds; True when a ``threading.Event`` cut the sleep short."""
    if isinstance(cancel, threading.Event):
        return cancel.wait(delay) if delay else cancel.is_set()
    if delay:
        client._sleep(delay)
    return False


async def _sleep_async(client: AsyncDashScope, cancel: Any, delay: float) -> None:
    if not delay:
        return
    if isinstance(cancel, asyncio.Event):
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(cancel.wait(), delay)
        return
    await client._sleep(delay)


def _bound(loop: PollLoop[Any], clock: Callable[[], float], extra: float = 0.0) -> float | None:
    """The loop's deadline (on the client's clock) as a ``time.monotonic()`` deadline for the
    requests made while polling, ``extra`` seconds later (a cancel's allowance)."""
    if loop.deadline is None:
        return None
    return time.monotonic() + max(loop.deadline - clock(), extra)


def _past(loop: PollLoop[Any], clock: Callable[[], float]) -> bool:
    return loop.deadline is not None and clock() >= loop.deadline


def poll_sync(
    client: DashScope, job: PollJob[T], item: T, cancel: Any = None, started: float | None = None
) -> T:
    """Poll ``item`` until it finishes, is cancelled or reaches its deadline (counted from
    ``started`` on the client's clock, default now); requests never outlast the deadline."""
    clock = _clock(client)
    loop = job.new_loop(clock() if started is None else started)
    step = loop.begin(item, now=clock(), cancelled=_is_set(cancel))
    while step.action == POLL:
        if _sleep_sync(client, cancel, step.delay) or _is_set(cancel):
            step = loop.interrupted()
            break
        try:
            item = job.parse(client._send(job.get, deadline=_bound(loop, clock)))
        except APITimeoutError:
            if not _past(loop, clock):
                raise
            step = loop.expired()
            break
        step = loop.observe(item, now=clock(), cancelled=_is_set(cancel))
    note = None
    if step.action == CANCEL:
        try:
            spec = job.cancel
            item = job.parse_cancel(
                client._send(spec, deadline=_bound(loop, clock, CANCEL_ALLOWANCE)), item
            )
        except (APIStatusError, APIConnectionError) as exc:
            note = _cancel_note(exc)
    return loop.finish(item, step, note)


async def poll_async(
    client: AsyncDashScope,
    job: PollJob[T],
    item: T,
    cancel: Any = None,
    started: float | None = None,
) -> T:
    """``poll_sync`` for the async client; task cancellation also cancels server-side."""
    clock = _clock(client)
    loop = job.new_loop(clock() if started is None else started)
    try:
        step = loop.begin(item, now=clock(), cancelled=_is_set(cancel))
        while step.action == POLL:
            await _sleep_async(client, cancel, step.delay)
            if _is_set(cancel):
                step = loop.interrupted()
                break
            try:
                item = job.parse(await client._send(job.get, deadline=_bound(loop, clock)))
            except APITimeoutError:
                if not _past(loop, clock):
                    raise
                step = loop.expired()
                break
            step = loop.observe(item, now=clock(), cancelled=_is_set(cancel))
    except asyncio.CancelledError:
        await _shielded(client._send(job.cancel))
        raise
    note = None
    if step.action == CANCEL:
        try:
            bound = _bound(loop, clock, CANCEL_ALLOWANCE)
            item = job.parse_cancel(await client._send(job.cancel, deadline=bound), item)
        except (APIStatusError, APIConnectionError) as exc:
            note = _cancel_note(exc)
    return loop.finish(item, step, note)


def run_sync(client: DashScope, plan: RunPlan) -> Any:
    """``client.run``: create (within the run's deadline), then poll until done."""
    started, end = _clock(client)(), plan.end()
    try:
        created = plan.created(client._send(plan.create, deadline=end))
    except APITimeoutError as exc:
        raise plan.unanswered(exc, end) from exc
    finished = poll_sync(client, *plan.wait_job(created), started=started)
    return plan.output(finished, client)


async def run_async(client: AsyncDashScope, plan: RunPlan) -> Any:
    """``run_sync`` for the async client (task cancellation cancels server-side)."""
    started, end = _clock(client)(), plan.end()
    try:
        created = await create_async(client, plan, end)
    except APITimeoutError as exc:
        raise plan.unanswered(exc, end) from exc
    finished = await poll_async(client, *plan.wait_job(created), started=started)
    return plan.output(finished, client)


async def create_async(client: AsyncDashScope, plan: RunPlan, end: float | None) -> Prediction:
    """Send a create whose server-side result outlives the caller's cancellation.

    If the calling task is cancelled while the create is in flight (a ``Prefer: wait`` create
    holds its answer up to ``plan.hold`` seconds), the create still completes, what it made is
    cancelled server-side, and ``asyncio.CancelledError`` propagates: the only way to learn the
    id of the prediction to cancel is the create's own answer.
    """
    task = asyncio.ensure_future(client._send(plan.create, deadline=end))
    try:
        return plan.created(await asyncio.shield(task))
    except asyncio.CancelledError:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            made = plan.created(await asyncio.wait_for(task, plan.hold + CANCEL_GRACE))
            await asyncio.wait_for(client._send(plan.cancel_of(made)), CANCEL_GRACE)
        raise


async def _shielded(request: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(request)
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await asyncio.wait_for(asyncio.shield(task), CANCEL_GRACE)


def stream_sync(
    client: DashScope, create: RequestSpec | None, prediction: Prediction | None
) -> Iterator[ServerSentEvent]:
    """Create the prediction (unless given), then read its ``urls.stream`` until ``done``."""
    from dashscope_core.resources.predictions import parse_prediction

    if create is not None:
        prediction = parse_prediction(client._send(create))
    reader = PredictionStreamReader(prediction)
    for event in client._stream(reader.spec, check=_unchecked):
        yield from reader.feed(event)
        if reader.finished:
            return
    reader.close()


async def stream_async(
    client: AsyncDashScope, create: RequestSpec | None, prediction: Prediction | None
) -> AsyncIterator[ServerSentEvent]:
    """``stream_sync`` for the async client."""
    from dashscope_core.resources.predictions import parse_prediction

    if create is not None:
        prediction = parse_prediction(await client._send(create))
    reader = PredictionStreamReader(prediction)
    async for event in client._stream(reader.spec, check=_unchecked):
        for item in reader.feed(event):
            yield item
        if reader.finished:
            return
    reader.close()


def next_cursor(page: Any, seen: set[str]) -> str | None:
    """The page's ``next`` URL; a URL seen before raises instead of looping forever."""
    cursor = page.next
    if not cursor:
        return None
    if cursor in seen:
        raise APIResponseValidationError(
            f"pagination loops: 'next' points back to {cursor}", status_code=None
        )
    seen.add(cursor)
    return str(cursor)


def paginate_sync(list_method: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
    """Pages of ``list_method``: ``cursor=None`` first, then each page's absolute ``next``."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = list_method(*args, cursor=cursor, **kwargs)
        yield page
        cursor = next_cursor(page, seen)
        if cursor is None:
            return


async def paginate_async(
    list_method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
) -> AsyncIterator[Any]:
    """``paginate_sync`` for async ``list`` methods."""
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        page = await list_method(*args, cursor=cursor, **kwargs)
        yield page
        cursor = next_cursor(page, seen)
        if cursor is None:
            return
