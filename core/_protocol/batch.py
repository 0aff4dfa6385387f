"""The Batch API's pure rules: request lines, their ``custom_id``s, output lines, outcomes.

Rules of this module (PROTOCOL.md "Batch API"; recorded ``*-compatible-nosse``):
- An input line is ``{"custom_id", "method": "POST", "url": <the batch endpoint>, "body"}``,
  one JSON object per line. A request is a body, or a wrapper dict holding ``custom_id`` and/or
  ``body`` (and optionally ``method``/``url``, which must agree). A wrapper without
  ``custom_id``, or a bare body, gets its position in the input (``"0"``, ``"1"``, ...).
- ``custom_id``s are unique in a job: a duplicate is a ``ValueError`` naming the request,
  raised while the requests are written to disk, before any request is sent.
- Output and error lines come in any order; each is joined to its request by ``custom_id``.
  A line for an unknown or already answered ``custom_id`` is an ``APIResponseValidationError``
  (never dropped, never counted twice); a request without a line gets an error saying why
  (``batch_expired``, ``batch_cancelled``, or ``missing_result``).
- A line's outcome is its ``error`` when set, else its ``response.body`` as an error when
  ``response.status_code`` is 4xx/5xx, else the body (``ChatCompletion`` for chat endpoints,
  ``CreateEmbeddingResponse`` for ``/v1/embeddings``).
- ``wait`` (``JobWait``): progress after every poll; a ``failed`` batch raises at once
  (``BatchFailedError`` with every line error); the last sleep ends on the deadline, after
  which ``WaitTimeoutError`` leaves the job running server-side.
- No I/O: files are written and read by ``resources/_batch_files``; the clock and sleeps are
  the drivers' (``resources/_batch_jobs``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from dashscope_core._protocol.request import drop_none
from dashscope_core.errors import (
    APIResponseValidationError,
    APIStatusError,
    BatchFailedError,
    DashScopeError,
    WaitTimeoutError,
    error_from_response,
)
from dashscope_core.types.batches import (
    CANCELLED,
    EXPIRED,
    FAILED,
    Batch,
    BatchJob,
    BatchLine,
    BatchResult,
)
from dashscope_core.types.compatible import ChatCompletion, CreateEmbeddingResponse

__all__ = [
    "BEIJING",
    "CHAT_ENDPOINT",
    "EMBEDDINGS_ENDPOINT",
    "LIST_TIME_FORMAT",
    "MAX_FILE_BYTES",
    "MAX_FILE_LINES",
    "TEST_ENDPOINT",
    "CustomIds",
    "JobWait",
    "LineSplitter",
    "batch_failure",
    "check_completion_window",
    "check_endpoint",
    "check_metadata",
    "list_time",
    "outcome",
    "positions",
    "raise_failure",
    "request_line",
    "result_files",
]

CHAT_ENDPOINT = "/v1/chat/completions"
EMBEDDINGS_ENDPOINT = "/v1/embeddings"
TEST_ENDPOINT = "/v1/chat/ds-test"
"""The free end-to-end test endpoint (model ``batch-test-model``)."""
MAX_FILE_LINES = 50_000
MAX_FILE_BYTES = 500 * 1000 * 1000
"""Per input file (PROTOCOL.md): 50,000 lines and 500 MB; a job is split to stay below."""

_WINDOW = re.compile(r"^([1-9][0-9]*)([hd])$")
_WINDOW_HOURS = (24, 336)  # the service accepts 24h .. 336h (14d), in hours or days
_BOM = b"\xef\xbb\xbf"
_MISSING = {
    EXPIRED: ("batch_expired", "the batch expired before this request ran"),
    CANCELLED: ("batch_cancelled", "the batch was cancelled before this request ran"),
}


def check_endpoint(endpoint: Any) -> str:
    """A batch endpoint: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/chat/ds-test``."""
    if not isinstance(endpoint, str) or not endpoint.startswith("/v1/") or " " in endpoint:
        raise ValueError(
            f"endpoint: expected a path such as {CHAT_ENDPOINT!r} or {EMBEDDINGS_ENDPOINT!r}, "
            f"got {endpoint!r}"
        )
    return endpoint


def check_completion_window(window: Any) -> str:
    """``"24h"`` .. ``"336h"`` (or in days, ``"1d"`` .. ``"14d"``)."""
    match = _WINDOW.match(window) if isinstance(window, str) else None
    hours = int(match[1]) * (24 if match[2] == "d" else 1) if match else 0
    if not _WINDOW_HOURS[0] <= hours <= _WINDOW_HOURS[1]:
        raise ValueError(
            f"completion_window: expected '24h' to '336h' (or '1d' to '14d'), got {window!r}"
        )
    return str(window)


def check_metadata(metadata: Any) -> dict[str, str] | None:
    """Batch metadata: a mapping of strings (``ds_name``, ``ds_description``, ...)."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError("metadata: expected a mapping of str to str")
    return dict(metadata)


BEIJING = timezone(timedelta(hours=8))
"""The time zone of the list filters' times (the service runs on Beijing time)."""
LIST_TIME_FORMAT = "%Y%m%d%H%M%S"
"""``yyyyMMddHHmmss``, as ``create_after`` / ``create_before`` are written."""


def list_time(value: Any, argument: str) -> str:
    """A list filter time as the service writes it: ``yyyyMMddHHmmss`` in Beijing time (an
    aware datetime is converted; a naive one is taken as Beijing time)."""
    if isinstance(value, datetime):
        local = value if value.tzinfo is None else value.astimezone(BEIJING)
        return local.strftime(LIST_TIME_FORMAT)
    if isinstance(value, str) and len(value) == 14 and value.isdigit():
        return value
    raise ValueError(f"{argument}: expected a datetime or 'yyyyMMddHHmmss', got {value!r}")


class CustomIds:
    """The ``custom_id`` of every request, in input order, checked for duplicates.

    Auto-assigned ids are positions, so they cost no memory; explicit ones are kept with their
    position. An explicit id may not equal the position of an auto-assigned request.
    """

    def __init__(self) -> None:
        self.count = 0
        self._explicit: dict[str, int] = {}
        self._explicit_at: set[int] = set()

    def add(self, custom_id: str | None, argument: str) -> str:
        """Register the next request's id (None: assign its position); duplicates raise."""
        index, explicit = self.count, custom_id is not None
        custom_id = str(index) if custom_id is None else custom_id
        if custom_id in self._explicit or (explicit and self._is_auto_id(custom_id, index)):
            raise ValueError(
                f"{argument}: duplicate custom_id {custom_id!r} (custom_ids must be unique in a "
                "batch; requests without one get their position as id)"
            )
        if explicit:
            self._explicit[custom_id] = index
            self._explicit_at.add(index)
        self.count += 1
        return custom_id

    def _is_auto_id(self, custom_id: str, index: int) -> bool:
        if not (custom_id.isascii() and custom_id.isdigit()) or custom_id != str(int(custom_id)):
            return False
        return int(custom_id) < index and int(custom_id) not in self._explicit_at

    def listed(self) -> list[str] | None:
        """Every id in input order, or None when all were assigned (``str(position)``)."""
        if not self._explicit:
            return None
        ids = [str(i) for i in range(self.count)]
        for custom_id, index in self._explicit.items():
            ids[index] = custom_id
        return ids


def _check_body(body: Any, endpoint: str, argument: str) -> str:
    if not isinstance(body, Mapping):
        raise TypeError(f"{argument}: expected a request body dict, got {type(body).__name__}")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"{argument}.model: every request body needs a model name")
    if endpoint == EMBEDDINGS_ENDPOINT:
        texts = body.get("input")
        if not (isinstance(texts, str) and texts) and not (isinstance(texts, list) and texts):
            raise ValueError(f"{argument}.input: expected a text or a non-empty list of texts")
    elif endpoint in (CHAT_ENDPOINT, TEST_ENDPOINT):
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError(f"{argument}.messages: expected a non-empty list of messages")
    return model


def request_line(item: Any, index: int, endpoint: str, ids: CustomIds) -> tuple[str, bytes]:
    """The model and the JSONL line (newline included) of request ``index``."""
    argument = f"requests[{index}]"
    if isinstance(item, Mapping) and ("custom_id" in item or "body" in item):
        body = item.get("body")
        custom_id = item.get("custom_id")
        if custom_id is not None and (not isinstance(custom_id, str) or not custom_id):
            raise TypeError(f"{argument}.custom_id: expected a non-empty string")
        if item.get("method", "POST") != "POST" or item.get("url", endpoint) != endpoint:
            raise ValueError(f"{argument}: method/url must be POST {endpoint} (the endpoint)")
        model = _check_body(body, endpoint, f"{argument}.body")
    else:
        custom_id = None
        model = _check_body(item, endpoint, argument)
        body = item
    line = {"custom_id": ids.add(custom_id, argument), "method": "POST", "url": endpoint,
            "body": drop_none(body)}  # fmt: skip
    return model, (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


class LineSplitter:
    """Bytes in, complete non-blank lines out (push-style); a leading BOM is dropped."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._first = True

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines completed by ``chunk``."""
        if b"\n" not in chunk:
            self._pending.append(chunk)
            return []
        self._pending.append(chunk)
        *lines, rest = b"".join(self._pending).split(b"\n")
        self._pending = [rest]
        return self._clean(lines)

    def close(self) -> list[bytes]:
        """The last line, when the data did not end with a newline."""
        rest = b"".join(self._pending)
        self._pending = []
        return self._clean([rest])

    def _clean(self, lines: list[bytes]) -> list[bytes]:
        if self._first and lines:
            self._first = False
            lines[0] = lines[0].removeprefix(_BOM)
        return [line.rstrip(b"\r") for line in lines if line.strip()]


def result_files(job: BatchJob) -> list[str]:
    """The output and error file ids of a finished job, batch by batch."""
    return [f for b in job.batches for f in (b.output_file_id, b.error_file_id) if f]


def positions(job: BatchJob) -> dict[str, int] | None:
    """``custom_id`` → input position, or None when the ids are positions themselves."""
    if job.custom_ids is None:
        return None
    return {custom_id: i for i, custom_id in enumerate(job.custom_ids)}


def position_of(custom_id: Any, lookup: dict[str, int] | None, count: int) -> int | None:
    """The input position of ``custom_id`` (None: not a request of this job)."""
    if not isinstance(custom_id, str):
        return None
    if lookup is not None:
        return lookup.get(custom_id)
    if custom_id.isascii() and custom_id.isdigit() and custom_id == str(int(custom_id)):
        return int(custom_id) if int(custom_id) < count else None
    return None


def line_custom_id(line: bytes) -> Any:
    """The ``custom_id`` of an output line; a line that is not a JSON object raises."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise APIResponseValidationError(
            f"batch result file: a line is not JSON: {line[:200]!r}", status_code=None
        ) from exc
    return value.get("custom_id") if isinstance(value, dict) else None


def _typed(body: Any, endpoint: str) -> Any:
    if endpoint == EMBEDDINGS_ENDPOINT:
        return CreateEmbeddingResponse.model_validate(body)
    if endpoint.startswith("/v1/chat/"):
        return ChatCompletion.model_validate(body)
    return body


def _missing(custom_id: str, status: str) -> DashScopeError:
    code, why = _MISSING.get(status, ("missing_result", "the service returned no line for it"))
    return APIStatusError(f"request {custom_id!r}: {why}", status_code=None, code=code)


def outcome(index: int, custom_id: str, line: bytes | None, endpoint: str, status: str
            ) -> BatchResult:  # fmt: skip
    """The result of request ``index`` from its output/error line (None: no line came)."""
    if line is None:
        return BatchResult(index, custom_id, None, _missing(custom_id, status))
    try:
        parsed = BatchLine.model_validate_json(line)
    except ValueError as exc:
        error = APIResponseValidationError(f"bad batch result line: {exc}", status_code=None)
        return BatchResult(index, custom_id, None, error)
    response = parsed.response
    status_code = response.status_code if response is not None else None
    request_id = response.request_id if response is not None else None
    failed_status = status_code if status_code is not None and status_code >= 400 else None
    if parsed.error is not None and (parsed.error.code or parsed.error.message):
        body = {"code": parsed.error.code, "message": parsed.error.message}
        failure = error_from_response(failed_status, None, body, request_id=request_id)
        return BatchResult(index, custom_id, None, failure, request_id)
    if failed_status is not None and response is not None:
        failure = error_from_response(failed_status, None, response.body, request_id=request_id)
        return BatchResult(index, custom_id, None, failure, request_id)
    try:
        body = _typed(response.body if response is not None else None, endpoint)
    except ValueError as exc:
        error = APIResponseValidationError(
            f"request {custom_id!r}: unexpected body: {exc}", status_code=status_code,
            request_id=request_id,
        )  # fmt: skip
        return BatchResult(index, custom_id, None, error, request_id)
    return BatchResult(index, custom_id, body, None, request_id)


def batch_failure(batch: Batch) -> BatchFailedError | None:
    """The error of a ``failed`` batch (None for any other status)."""
    if batch.status != FAILED:
        return None
    errors = list(batch.errors.data or []) if batch.errors is not None else []
    first = errors[0] if errors else None
    detail = "; ".join(
        f"line {e.line}: {e.code}: {e.message}" if e.line is not None else f"{e.code}: {e.message}"
        for e in errors[:5]
    )
    return BatchFailedError(
        f"batch {batch.id} failed" + (f": {detail}" if detail else " (no errors given)"),
        batch=batch,
        errors=errors,
        code=first.code if first is not None else None,
    )


def raise_failure(job: BatchJob) -> BatchJob:
    """``job``, unless one of its batches ``failed``: then that batch's ``BatchFailedError``."""
    for batch in job.batches:
        failure = batch_failure(batch)
        if failure is not None:
            raise failure
    return job


class JobWait:
    """What ``wait`` does after each poll (pure: the driver reads the clock and sleeps)."""

    def __init__(
        self, progress: Callable[[BatchJob], Any] | None, timeout: float | None,
        interval: float, start: float,
    ) -> None:  # fmt: skip
        self.progress, self.timeout, self.interval = progress, timeout, interval
        self.deadline = None if timeout is None else start + timeout

    def after_poll(self, job: BatchJob, now: float) -> float | None:
        """Report ``job``; None when it is done, else the seconds to sleep before the next
        poll (shortened to end on the deadline). A failed batch raises ``BatchFailedError``,
        a passed deadline ``WaitTimeoutError`` (the job keeps running server-side)."""
        if self.progress is not None:
            self.progress(job)
        if raise_failure(job).done:
            return None
        if self.deadline is None:
            return self.interval
        if now >= self.deadline:
            counts = job.request_counts
            raise WaitTimeoutError(
                f"batches {', '.join(job.ids)} still {job.status} after {self.timeout} s "
                f"({counts.completed + counts.failed}/{counts.total} requests done); they keep "
                "running: wait(job) again later, or cancel them",
                job=job,
            )
        return min(self.interval, self.deadline - now)
