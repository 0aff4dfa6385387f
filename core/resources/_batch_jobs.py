"""The job layer of the Batch API, once for each client: ``submit``, ``wait`` and ``results``.

Every rule is in ``_protocol.batch`` (lines, ids, outcomes) and ``_batch_files`` (the files on
disk); these drivers only send, sleep and read the clock.

- ``submit`` writes every request to disk first (bad input raises before any request), then
  uploads each input file and creates one batch per file. If an upload or create fails, the
  batches already created are cancelled and the uploaded files deleted (best effort) before
  the error propagates: no half-made job is left running.
- ``wait`` polls the batches that are not finished every ``interval`` seconds and calls
  ``progress(job)`` after each poll; a ``failed`` batch raises ``BatchFailedError`` at once;
  ``timeout`` raises ``WaitTimeoutError`` and leaves the job running server-side.
- ``results`` downloads output and error files as streams into a ``ResultSpill`` and yields
  one ``BatchResult`` per request in input order.
- ``embed`` is the three in a row for texts: the vectors in input order, or the first
  request's error raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dashscope_core._protocol.batch import (
    JobWait,
    check_completion_window,
    check_endpoint,
    check_metadata,
    raise_failure,
    result_files,
)
from dashscope_core._protocol.polling import check_poll_args
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.resources._batch_files import ResultSpill, Spool
from dashscope_core.types.batches import Batch, BatchJob, BatchResult
from dashscope_core.types.compatible import CreateEmbeddingResponse

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope

__all__ = [
    "check_job",
    "check_submit",
    "check_wait",
    "embed_async",
    "embed_sync",
    "results_async",
    "results_sync",
    "submit_async",
    "submit_sync",
    "wait_async",
    "wait_sync",
]

JobProgress = Callable[[BatchJob], Any]


def check_submit(
    requests: Any, endpoint: Any, completion_window: Any, metadata: Any
) -> dict[str, Any]:
    """Validated create arguments shared by every batch of a job."""
    if isinstance(requests, (str, bytes, Mapping)) or not isinstance(
        requests, (Iterable, AsyncIterable)
    ):
        raise TypeError("requests: expected an iterable of request bodies (or wrapper dicts)")
    return {"endpoint": check_endpoint(endpoint),
            "completion_window": check_completion_window(completion_window),
            "metadata": check_metadata(metadata)}  # fmt: skip


def check_job(job: Any) -> BatchJob:
    """``job`` must be a ``BatchJob`` (``BatchJob.from_json(text)`` rebuilds one)."""
    if not isinstance(job, BatchJob):
        raise TypeError(
            f"job: expected a BatchJob (from submit, or BatchJob.from_json), got "
            f"{type(job).__name__}"
        )
    return job


def check_wait(job: Any, interval: Any, timeout: Any, progress: Any) -> BatchJob:
    """Validate ``wait``'s arguments before any request."""
    check_poll_args(interval, timeout, progress)
    return check_job(job)


def _new_job(options: Mapping[str, Any], batches: list[Batch], spool: Spool) -> BatchJob:
    return BatchJob(endpoint=options["endpoint"], completion_window=options["completion_window"],
                    batches=batches, count=spool.ids.count,
                    custom_ids=spool.ids.listed())  # fmt: skip


def _updated(job: BatchJob, fresh: Mapping[str, Batch]) -> BatchJob:
    return job.model_copy(update={"batches": [fresh.get(b.id, b) for b in job.batches]})


def _ready(job: BatchJob) -> BatchJob:
    raise_failure(job)
    if not job.done:
        raise ValueError(
            f"job: batches still running (status {job.status!r}); wait(job) before results(job)"
        )
    return job


def _clock(client: object) -> Callable[[], float]:
    clock: Callable[[], float] = getattr(client, "_clock", time.monotonic)
    return clock


def _vectors(vectors: list[list[float]], result: BatchResult) -> None:
    if result.error is not None:
        raise result.error
    if not isinstance(result.response, CreateEmbeddingResponse):
        raise APIResponseValidationError(
            f"request {result.custom_id!r}: not an embeddings body", status_code=None
        )
    vectors.extend(result.response.embeddings)


def _all(vectors: list[list[float]], bodies: list[dict[str, Any]]) -> list[list[float]]:
    sent = sum(len(body["input"]) for body in bodies)
    if len(vectors) != sent:
        raise APIResponseValidationError(
            f"sent {sent} texts but got {len(vectors)} embeddings", status_code=None
        )
    return vectors


# ------------------------------------------------------------------------------------ sync


def submit_sync(client: DashScope, requests: Iterable[Any], options: Mapping[str, Any]) -> BatchJob:
    """Write, upload and create; see the module docstring."""
    with Spool(options["endpoint"]) as spool:
        parts = spool.add_all(requests)
        uploaded: list[str] = []
        made: list[Batch] = []
        try:
            for part in parts:
                uploaded.append(client.files.create(part.path, "batch").id)
            for file_id in uploaded:
                made.append(client.batches.create(input_file_id=file_id, **options))
        except BaseException:
            for batch in made:
                with contextlib.suppress(Exception):
                    client.batches.cancel(batch.id)
            for file_id in uploaded:
                with contextlib.suppress(Exception):
                    client.files.delete(file_id)
            raise
        return _new_job(options, made, spool)


def refresh_sync(client: DashScope, job: BatchJob) -> BatchJob:
    """The job with every unfinished batch fetched again."""
    fresh = {b.id: client.batches.get(b.id) for b in job.batches if not b.done}
    return _updated(job, fresh)


def wait_sync(
    client: DashScope, job: BatchJob, progress: JobProgress | None, timeout: float | None,
    interval: float,
) -> BatchJob:  # fmt: skip
    """Poll until every batch is terminal; see the module docstring."""
    clock = _clock(client)
    waiting = JobWait(progress, timeout, interval, clock())
    while True:
        job = refresh_sync(client, job)
        delay = waiting.after_poll(job, clock())
        if delay is None:
            return job
        client._sleep(delay)


def results_sync(client: DashScope, job: BatchJob) -> Iterator[BatchResult]:
    """Every request's result, in input order."""
    job = _ready(refresh_sync(client, job))
    with ResultSpill(job) as spill:
        for file_id in result_files(job):
            for chunk in client.files.iter_content(file_id):
                spill.feed(chunk)
            spill.end_file()
        yield from spill.results()


def embed_sync(
    client: DashScope, bodies: list[dict[str, Any]], options: Mapping[str, Any],
    progress: JobProgress | None, timeout: float | None, interval: float,
) -> list[list[float]]:  # fmt: skip
    """Submit, wait and read an embeddings job; the vectors in input order."""
    job = submit_sync(client, bodies, options)
    job = wait_sync(client, job, progress, timeout, interval)
    vectors: list[list[float]] = []
    for result in results_sync(client, job):
        _vectors(vectors, result)
    return _all(vectors, bodies)


# ----------------------------------------------------------------------------------- async


async def _spool_async(spool: Spool, requests: Iterable[Any] | AsyncIterable[Any]) -> None:
    if isinstance(requests, AsyncIterable):
        async for item in requests:
            spool.add(item)
        spool.finish()
    else:  # a large input is written to disk off the event loop
        await asyncio.to_thread(spool.add_all, requests)


async def submit_async(
    client: AsyncDashScope, requests: Iterable[Any] | AsyncIterable[Any],
    options: Mapping[str, Any],
) -> BatchJob:  # fmt: skip
    """``submit_sync`` for the async client (sync or async iterables of requests)."""
    with Spool(options["endpoint"]) as spool:
        await _spool_async(spool, requests)
        uploaded: list[str] = []
        made: list[Batch] = []
        try:
            for part in spool.files:
                uploaded.append((await client.files.create(part.path, "batch")).id)
            for file_id in uploaded:
                made.append(await client.batches.create(input_file_id=file_id, **options))
        except BaseException:
            for batch in made:
                with contextlib.suppress(Exception):
                    await client.batches.cancel(batch.id)
            for file_id in uploaded:
                with contextlib.suppress(Exception):
                    await client.files.delete(file_id)
            raise
        return _new_job(options, made, spool)


async def refresh_async(client: AsyncDashScope, job: BatchJob) -> BatchJob:
    """The job with every unfinished batch fetched again."""
    fresh = {b.id: await client.batches.get(b.id) for b in job.batches if not b.done}
    return _updated(job, fresh)


async def wait_async(
    client: AsyncDashScope, job: BatchJob, progress: JobProgress | None,
    timeout: float | None, interval: float,
) -> BatchJob:  # fmt: skip
    """``wait_sync`` for the async client."""
    clock = _clock(client)
    waiting = JobWait(progress, timeout, interval, clock())
    while True:
        job = await refresh_async(client, job)
        delay = waiting.after_poll(job, clock())
        if delay is None:
            return job
        await client._sleep(delay)


async def results_async(client: AsyncDashScope, job: BatchJob) -> AsyncIterator[BatchResult]:
    """``results_sync`` for the async client."""
    job = _ready(await refresh_async(client, job))
    with ResultSpill(job) as spill:
        for file_id in result_files(job):
            async for chunk in client.files.iter_content(file_id):
                spill.feed(chunk)
            spill.end_file()
        for result in spill.results():
            yield result


async def embed_async(
    client: AsyncDashScope, bodies: list[dict[str, Any]], options: Mapping[str, Any],
    progress: JobProgress | None, timeout: float | None, interval: float,
) -> list[list[float]]:  # fmt: skip
    """``embed_sync`` for the async client."""
    job = await submit_async(client, bodies, options)
    job = await wait_async(client, job, progress, timeout, interval)
    vectors: list[list[float]] = []
    async for result in results_async(client, job):
        _vectors(vectors, result)
    return _all(vectors, bodies)
