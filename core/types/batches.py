"""Wire models of OpenAI-compatible batches, and the client-side ``BatchJob`` / ``BatchResult``
(PROTOCOL.md "Batch API"; recorded ``create-batch-compatible-nosse``,
``get-*-batch-compatible-nosse``, ``list-batches-empty-compatible-nosse``,
``get-file-content-compatible-nosse``).

A ``BatchJob`` is what ``client.batches.submit`` made: one batch per input file (files are split
at 50,000 lines / 500 MB and hold one model each), the order of the requests (their
``custom_id``s) and the endpoint. It holds no secret and no client: ``to_json()`` /
``BatchJob.from_json()`` carry it to another process, which can ``wait`` for it and read its
``results``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import Field

from dashscope_core.types.common import ListPage, WireModel, null_means_default

if TYPE_CHECKING:
    from dashscope_core.errors import DashScopeError
    from dashscope_core.types.compatible import ChatCompletion, CreateEmbeddingResponse

__all__ = [
    "ACTIVE",
    "TERMINAL",
    "Batch",
    "BatchError",
    "BatchErrors",
    "BatchJob",
    "BatchLine",
    "BatchLineResponse",
    "BatchList",
    "BatchRequestCounts",
    "BatchResult",
]

VALIDATING = "validating"
IN_PROGRESS = "in_progress"
FINALIZING = "finalizing"
COMPLETED = "completed"
FAILED = "failed"
EXPIRED = "expired"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
ACTIVE = (VALIDATING, IN_PROGRESS, FINALIZING, CANCELLING)
"""Statuses still moving, least advanced first."""
TERMINAL = frozenset({COMPLETED, FAILED, EXPIRED, CANCELLED})


class BatchRequestCounts(WireModel):
    """``request_counts``: requests in the batch, and how many finished or failed so far."""

    total: int = 0
    completed: int = 0
    failed: int = 0

    _nulls = null_means_default("total", "completed", "failed")


class BatchError(WireModel):
    """One error: an ``errors.data[]`` item of a failed batch (validation; ``line`` is the
    input line it is about) or the ``error`` of an output line."""

    code: str | None = None
    message: str | None = None
    param: str | None = None
    line: int | None = None


class BatchErrors(WireModel):
    """``errors`` of a batch that failed validation."""

    object: str | None = None
    data: list[BatchError] | None = None


class Batch(WireModel):
    """A batch: its status, files, counters and the time of each state change."""

    id: str
    object: str | None = None
    endpoint: str | None = None
    errors: BatchErrors | None = None
    input_file_id: str | None = None
    completion_window: str | None = None
    status: str = ""
    _null_status = null_means_default("status")
    """validating, in_progress, finalizing, completed, failed, expired, cancelling, cancelled."""
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts | None = None
    metadata: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        """Whether the batch reached a terminal status."""
        return self.status in TERMINAL


class BatchList(ListPage[Batch]):
    """One page of batches."""


class BatchLineResponse(WireModel):
    """``response`` of an output line: the HTTP status, request id and body of the call."""

    status_code: int | None = None
    request_id: str | None = None
    body: Any = None


class BatchLine(WireModel):
    """One line of an output or error file (any order: join by ``custom_id``)."""

    id: str | None = None
    custom_id: str
    response: BatchLineResponse | None = None
    error: BatchError | None = None


class BatchJob(WireModel):
    """What ``client.batches.submit`` made: its batches, in input order, and the requests'
    ``custom_id``s. Serialise with ``to_json()`` (no secret in it), resume with ``from_json``."""

    endpoint: str
    completion_window: str = "24h"
    batches: list[Batch] = Field(default_factory=list)
    count: int = 0
    """Requests in the job."""
    custom_ids: list[str] | None = None
    """The requests' ``custom_id``s in input order; None when every id was assigned by
    ``submit``: then request ``i`` has custom_id ``str(i)``."""

    @property
    def ids(self) -> list[str]:
        """The batch ids."""
        return [batch.id for batch in self.batches]

    @property
    def request_counts(self) -> BatchRequestCounts:
        """Counters summed over the batches."""
        counts = [b.request_counts or BatchRequestCounts() for b in self.batches]
        return BatchRequestCounts(
            total=sum(c.total for c in counts) or self.count,
            completed=sum(c.completed for c in counts),
            failed=sum(c.failed for c in counts),
        )

    @property
    def status(self) -> str:
        """One status for the job: the least advanced of a running job; once every batch is
        terminal, ``failed`` > ``expired`` > ``cancelled`` > ``completed``."""
        statuses = {batch.status for batch in self.batches}
        for status in ACTIVE:
            if status in statuses:
                return status
        unknown = sorted(statuses - TERMINAL)  # a status this library does not know: running
        if unknown:
            return unknown[0]
        for status in (FAILED, EXPIRED, CANCELLED):
            if status in statuses:
                return status
        return COMPLETED

    @property
    def done(self) -> bool:
        """Whether every batch reached a terminal status (a job of no batches is done)."""
        return all(batch.done for batch in self.batches)

    def to_json(self) -> str:
        """The job as JSON (ids, statuses, the requests' order; never the API key)."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchJob:
        """A job from ``to_json()``'s text (in this or another process)."""
        return cls.model_validate_json(text)


@dataclass(frozen=True)
class BatchResult:
    """One request's outcome, in input order: the typed body, or a typed error."""

    index: int
    """Position of the request in the input."""
    custom_id: str
    response: ChatCompletion | CreateEmbeddingResponse | Any
    """The body (``ChatCompletion`` for chat endpoints, ``CreateEmbeddingResponse`` for
    ``/v1/embeddings``, the decoded JSON otherwise); None when ``error`` is set."""
    error: DashScopeError | None
    """None, or the typed error with the line's ``code``, ``message`` and ``request_id``."""
    request_id: str | None = None
    """The request id the service gave this request (``response.request_id``)."""

    @property
    def ok(self) -> bool:
        """Whether the request succeeded."""
        return self.error is None
