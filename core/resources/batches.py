"""OpenAI-compatible batches (PROTOCOL.md "Batch API"): ``client.batches``.

The raw resource (``create``, ``get``, ``list``, ``cancel``) and the job layer built on it
(``submit``, ``wait``, ``results``; see ``_batch_jobs``). Paths are below the compatible-mode
base derived from the client's base URL, like ``client.files``. A create is never replayed on a
5xx (it could make a second batch); list filters that take several values are comma-joined and
times are written ``yyyyMMddHHmmss``, as the service expects.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Any

from dashscope_core._protocol.batch import (
    CHAT_ENDPOINT,
    EMBEDDINGS_ENDPOINT,
    check_completion_window,
    check_endpoint,
    check_metadata,
    list_time,
)
from dashscope_core._protocol.config import compatible_base
from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._batch_bodies import embedding_bodies
from dashscope_core.resources._batch_jobs import (
    JobProgress,
    check_job,
    check_submit,
    check_wait,
    embed_async,
    embed_sync,
    results_async,
    results_sync,
    submit_async,
    submit_sync,
    wait_async,
    wait_sync,
)
from dashscope_core.types.batches import Batch, BatchJob, BatchList, BatchResult

__all__ = ["DEFAULT_INTERVAL", "AsyncBatches", "Batches", "build_create", "build_list"]

DEFAULT_INTERVAL = 10.0
"""Seconds between polls of ``wait`` (PROTOCOL.md: poll every 10 s or more)."""
DEFAULT_EMBEDDING_MODEL = "text-embedding-v4"
Vectors = list[list[float]]


def build_create(
    base_url: str, *, input_file_id: str, endpoint: str = CHAT_ENDPOINT,
    completion_window: str = "24h", metadata: Mapping[str, str] | None = None,
) -> RequestSpec:  # fmt: skip
    """POST /batches (never replayed on 5xx)."""
    body = drop_none({
        "input_file_id": check_segment(input_file_id, argument="input_file_id"),
        "endpoint": check_endpoint(endpoint),
        "completion_window": check_completion_window(completion_window),
        "metadata": check_metadata(metadata),
    })  # fmt: skip
    return RequestSpec("POST", compatible_base(base_url) + "/batches", json=body,
                       replay_safe=False)  # fmt: skip


def build_get(base_url: str, batch_id: str) -> RequestSpec:
    """GET /batches/{id}."""
    bid = check_segment(batch_id, argument="batch_id")
    return RequestSpec("GET", f"{compatible_base(base_url)}/batches/{bid}")


def build_cancel(base_url: str, batch_id: str) -> RequestSpec:
    """POST /batches/{id}/cancel."""
    bid = check_segment(batch_id, argument="batch_id")
    return RequestSpec("POST", f"{compatible_base(base_url)}/batches/{bid}/cancel")


def _joined(value: str | Sequence[str] | None, argument: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{argument}: expected a string or a list of non-empty strings")
    return ",".join(value)


def build_list(base_url: str, **filters: Any) -> RequestSpec:
    """GET /batches with ``after``, ``limit``, ``ds_name``, ``input_file_ids``, ``status``,
    ``create_after``, ``create_before`` (lists comma-joined, datetimes ``yyyyMMddHHmmss``)."""
    limit = filters.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit: expected a positive integer, got {limit!r}")
    for name in ("input_file_ids", "status"):
        filters[name] = _joined(filters.get(name), name)
    for name in ("create_after", "create_before"):
        if filters.get(name) is not None:
            filters[name] = list_time(filters[name], name)
    params = drop_none(filters)
    return RequestSpec("GET", compatible_base(base_url) + "/batches", params=params or None)


def _embed_args(
    texts: Sequence[str], model: str, dimension: int | None, window: str,
    progress: Any, timeout: Any, interval: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """Checked job options and the embeddings bodies of ``Batches.embed``."""
    check_wait(BatchJob(endpoint=EMBEDDINGS_ENDPOINT), interval, timeout, progress)
    bodies = embedding_bodies(model=model, texts=texts, dimension=dimension)
    return check_submit(bodies, EMBEDDINGS_ENDPOINT, window, None), bodies


@response_parser
def parse_batch(raw: RawResponse) -> Batch:
    """A batch."""
    return Batch.model_validate_json(raw.content)


@response_parser
def parse_list(raw: RawResponse) -> BatchList:
    """One page of batches (``"data": null`` when there are none)."""
    return BatchList.model_validate_json(raw.content)


class Batches(SyncNamespace):
    """Create, inspect, list and cancel batches; submit, wait for and read whole jobs."""

    def create(
        self, *, input_file_id: str, endpoint: str = CHAT_ENDPOINT,
        completion_window: str = "24h", metadata: Mapping[str, str] | None = None,
    ) -> Batch:  # fmt: skip
        """Create a batch over an uploaded ``batch`` file (starts ``validating``)."""
        spec = build_create(self._client.base_url, input_file_id=input_file_id,
                            endpoint=endpoint, completion_window=completion_window,
                            metadata=metadata)  # fmt: skip
        return parse_batch(self._client._send(spec))

    def get(self, batch_id: str) -> Batch:
        """A batch's status, counters and file ids."""
        return parse_batch(self._client._send(build_get(self._client.base_url, batch_id)))

    def list(self, **filters: Any) -> BatchList:
        """One page: ``after``, ``limit``, ``ds_name``, ``input_file_ids``, ``status``,
        ``create_after``, ``create_before``."""
        return parse_list(self._client._send(build_list(self._client.base_url, **filters)))

    def cancel(self, batch_id: str) -> Batch:
        """Cancel a batch (``cancelling``, then ``cancelled``)."""
        return parse_batch(self._client._send(build_cancel(self._client.base_url, batch_id)))

    def submit(
        self, requests: Iterable[Any], *, endpoint: str = CHAT_ENDPOINT,
        completion_window: str = "24h", metadata: Mapping[str, str] | None = None,
    ) -> BatchJob:  # fmt: skip
        """Write ``requests`` (bodies, or ``{"custom_id", "body"}``) to JSONL files, upload
        them and create their batches (split at 50,000 lines / 500 MB, one model per file)."""
        options = check_submit(requests, endpoint, completion_window, metadata)
        return submit_sync(self._client, requests, options)

    def wait(
        self, job: BatchJob, progress: JobProgress | None = None, timeout: float | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> BatchJob:  # fmt: skip
        """Poll until every batch is terminal; ``progress(job)`` after each poll; a failed
        batch raises ``BatchFailedError``, ``timeout`` ``WaitTimeoutError``."""
        job = check_wait(job, interval, timeout, progress)
        return wait_sync(self._client, job, progress, timeout, interval)

    def results(self, job: BatchJob) -> Iterator[BatchResult]:
        """Each request's ``BatchResult`` (typed body or typed error), in input order."""
        return results_sync(self._client, check_job(job))

    def embed(
        self, texts: Sequence[str], *, model: str = DEFAULT_EMBEDDING_MODEL,
        dimension: int | None = None, progress: JobProgress | None = None,
        timeout: float | None = None, interval: float = DEFAULT_INTERVAL,
        completion_window: str = "24h",
    ) -> Vectors:  # fmt: skip
        """Embed ``texts`` through the Batch API (half price, hours not seconds): the vectors
        in input order; a request that failed raises its typed error."""
        options, bodies = _embed_args(texts, model, dimension, completion_window, progress,
                                      timeout, interval)  # fmt: skip
        return embed_sync(self._client, bodies, options, progress, timeout, interval)


class AsyncBatches(AsyncNamespace):
    """Async twin of ``Batches``."""

    async def create(
        self, *, input_file_id: str, endpoint: str = CHAT_ENDPOINT,
        completion_window: str = "24h", metadata: Mapping[str, str] | None = None,
    ) -> Batch:  # fmt: skip
        """Create a batch over an uploaded ``batch`` file (starts ``validating``)."""
        spec = build_create(self._client.base_url, input_file_id=input_file_id,
                            endpoint=endpoint, completion_window=completion_window,
                            metadata=metadata)  # fmt: skip
        return parse_batch(await self._client._send(spec))

    async def get(self, batch_id: str) -> Batch:
        """A batch's status, counters and file ids."""
        return parse_batch(await self._client._send(build_get(self._client.base_url, batch_id)))

    async def list(self, **filters: Any) -> BatchList:
        """One page: ``after``, ``limit``, ``ds_name``, ``input_file_ids``, ``status``,
        ``create_after``, ``create_before``."""
        return parse_list(await self._client._send(build_list(self._client.base_url, **filters)))

    async def cancel(self, batch_id: str) -> Batch:
        """Cancel a batch (``cancelling``, then ``cancelled``)."""
        spec = build_cancel(self._client.base_url, batch_id)
        return parse_batch(await self._client._send(spec))

    async def submit(
        self, requests: Iterable[Any] | AsyncIterable[Any], *, endpoint: str = CHAT_ENDPOINT,
        completion_window: str = "24h", metadata: Mapping[str, str] | None = None,
    ) -> BatchJob:  # fmt: skip
        """Write ``requests`` (bodies, or ``{"custom_id", "body"}``) to JSONL files, upload
        them and create their batches (split at 50,000 lines / 500 MB, one model per file)."""
        options = check_submit(requests, endpoint, completion_window, metadata)
        return await submit_async(self._client, requests, options)

    async def wait(
        self, job: BatchJob, progress: JobProgress | None = None, timeout: float | None = None,
        interval: float = DEFAULT_INTERVAL,
    ) -> BatchJob:  # fmt: skip
        """Poll until every batch is terminal; ``progress(job)`` after each poll; a failed
        batch raises ``BatchFailedError``, ``timeout`` ``WaitTimeoutError``."""
        job = check_wait(job, interval, timeout, progress)
        return await wait_async(self._client, job, progress, timeout, interval)

    def results(self, job: BatchJob) -> AsyncIterator[BatchResult]:
        """Each request's ``BatchResult`` (typed body or typed error), in input order."""
        return results_async(self._client, check_job(job))

    async def embed(
        self, texts: Sequence[str], *, model: str = DEFAULT_EMBEDDING_MODEL,
        dimension: int | None = None, progress: JobProgress | None = None,
        timeout: float | None = None, interval: float = DEFAULT_INTERVAL,
        completion_window: str = "24h",
    ) -> Vectors:  # fmt: skip
        """Embed ``texts`` through the Batch API (half price, hours not seconds): the vectors
        in input order; a request that failed raises its typed error."""
        options, bodies = _embed_args(texts, model, dimension, completion_window, progress,
                                      timeout, interval)  # fmt: skip
        return await embed_async(self._client, bodies, options, progress, timeout, interval)
