"""One poll policy for predictions, trainings and DashScope async tasks (pure: no clock, no I/O).

Rules of this module:
- The first poll goes out at once (a create with ``Prefer: wait`` has already waited); later
  polls are ``interval`` seconds apart. An item that is already terminal is never polled.
- ``progress(item)`` is called by the loop on every non-terminal poll result and once at the
  end (``finish``); callers call it themselves after a create, as the seed client does.
- A deadline (``timeout``) or a cancel request turns the next step into CANCEL: the driver
  cancels server-side, then ``finish`` raises ``CancelledError`` whose ``reason`` is
  ``"deadline"`` or ``"cancel"`` (``"server"`` when the server cancelled on its own). The sleep
  before the deadline is shortened to end on it; the poll at the deadline still counts, so an
  item that finished just in time is returned rather than cancelled.
- Outcomes: succeeded → the item; failed → the family's failure error (``PredictionFailedError``
  / ``TaskFailedError``); UNKNOWN task → ``NotFoundError``; canceled → ``CancelledError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from dashscope_core._protocol.request import RawResponse, RequestSpec
from dashscope_core.errors import (
    CancelledError,
    DashScopeError,
    NotFoundError,
    PredictionFailedError,
    TaskFailedError,
)

__all__ = [
    "PREDICTIONS",
    "TASKS",
    "TRAININGS",
    "DeadlineExceededError",
    "Family",
    "JobCancelledError",
    "PollJob",
    "PollLoop",
    "Step",
    "check_not_cancelled",
    "check_poll_args",
    "report",
]

T = TypeVar("T")

POLL = "poll"
CANCEL = "cancel"
DONE = "done"


@dataclass(frozen=True)
class Family:
    """What a status means for one kind of long-running job."""

    kind: str
    status_of: Callable[[Any], str]
    id_of: Callable[[Any], str | None]
    succeeded: frozenset[str]
    failed: frozenset[str]
    canceled: frozenset[str]
    failure: Callable[[Any], DashScopeError]
    unknown: frozenset[str] = frozenset()

    @property
    def terminal(self) -> frozenset[str]:
        """Statuses after which polling stops."""
        return self.succeeded | self.failed | self.canceled | self.unknown

    def is_terminal(self, item: Any) -> bool:
        """Whether ``item`` has finished (in any way)."""
        return self.status_of(item) in self.terminal


def _prediction_failure(kind: str) -> Callable[[Any], DashScopeError]:
    def build(item: Any) -> DashScopeError:
        return PredictionFailedError(f"{kind} {item.id} failed: {item.error}", prediction=item)

    return build


def _task_failure(item: Any) -> DashScopeError:
    out = item.output
    return TaskFailedError(
        f"task {out.task_id} failed: {out.message or 'no message'}",
        task=item,
        code=out.code,
        request_id=item.request_id,
    )


def _family(kind: str) -> Family:
    return Family(
        kind,
        lambda p: p.status,
        lambda p: p.id,
        frozenset({"succeeded"}),
        frozenset({"failed"}),
        frozenset({"canceled", "aborted"}),
        _prediction_failure(kind),
    )


PREDICTIONS = _family("prediction")
TRAININGS = _family("training")
TASKS = Family(
    "task",
    lambda t: t.output.task_status,
    lambda t: t.output.task_id,
    frozenset({"SUCCEEDED"}),
    frozenset({"FAILED"}),
    frozenset({"CANCELED"}),
    _task_failure,
    frozenset({"UNKNOWN"}),
)


def report(progress: Callable[[T], Any] | None, item: T) -> T:
    """Call ``progress`` (when given) with a freshly created item and return the item."""
    if progress is not None:
        progress(item)
    return item


def check_poll_args(interval: Any, timeout: Any, progress: Any, cancel: Any = None) -> None:
    """Validate wait arguments before any request, naming the bad one."""
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
        raise ValueError(f"interval: expected seconds >= 0, got {interval!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ValueError(f"timeout: expected seconds > 0 or None, got {timeout!r}")
    if progress is not None and not callable(progress):
        raise TypeError("progress: expected a callable taking the polled object")
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise TypeError("cancel: expected a threading.Event (or anything with is_set()) or None")


def check_not_cancelled(cancel: Any, what: str) -> None:
    """Raise ``JobCancelledError`` when ``cancel`` is already set: no job is created to be
    cancelled at once (the caller's event may still be set from an earlier run)."""
    if cancel is not None and cancel.is_set():
        raise JobCancelledError(
            f"{what}: cancel was already set; nothing was sent", reason="cancel"
        )


@dataclass(frozen=True)
class PollJob(Generic[T]):
    """Everything a wait driver needs: what to send, how to read it, how to decide."""

    family: Family
    get: RequestSpec
    cancel: RequestSpec
    parse: Callable[[RawResponse], T]
    parse_cancel: Callable[[RawResponse, T], T]
    interval: float = 0.5
    timeout: float | None = None
    progress: Callable[[T], Any] | None = None

    def new_loop(self, start: float) -> PollLoop[T]:
        """A fresh loop whose deadline counts from ``start``."""
        return PollLoop(
            self.family,
            start=start,
            interval=self.interval,
            timeout=self.timeout,
            progress=self.progress,
        )


@dataclass(frozen=True)
class Step:
    """What the driver does next: POLL after ``delay`` seconds, CANCEL, or DONE."""

    action: str
    delay: float = 0.0
    reason: str | None = None


class PollLoop(Generic[T]):
    """Decides after each observation whether to poll again, cancel or stop."""

    def __init__(
        self,
        family: Family,
        *,
        start: float,
        interval: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[T], Any] | None = None,
    ) -> None:
        check_poll_args(interval, timeout, progress)
        self.family = family
        self.interval = float(interval)
        self.timeout = timeout
        self.deadline = None if timeout is None else start + timeout
        self._progress = progress
        self.polls = 0

    def begin(self, item: T, *, now: float, cancelled: bool) -> Step:
        """The first step for ``item`` (created or handed in)."""
        return self._next(item, now, cancelled)

    def observe(self, item: T, *, now: float, cancelled: bool) -> Step:
        """The step after a poll answered ``item``; reports progress while it runs."""
        if not self.family.is_terminal(item) and self._progress is not None:
            self._progress(item)
        return self._next(item, now, cancelled)

    def interrupted(self) -> Step:
        """The step when a cancel request arrived while sleeping."""
        return Step(CANCEL, reason="cancel")

    def expired(self) -> Step:
        """The step when a poll was cut short by the deadline."""
        return Step(CANCEL, reason="deadline")

    def _next(self, item: T, now: float, cancelled: bool) -> Step:
        if self.family.is_terminal(item):
            return Step(DONE)
        if cancelled:
            return Step(CANCEL, reason="cancel")
        if self.deadline is not None and now >= self.deadline:
            return Step(CANCEL, reason="deadline")
        delay = self.interval if self.polls else 0.0
        if self.deadline is not None:
            delay = max(0.0, min(delay, self.deadline - now))
        self.polls += 1
        return Step(POLL, delay=delay)

    def finish(self, item: T, step: Step, note: str | None = None) -> T:
        """Report the final ``item`` and return it, or raise what its outcome means."""
        if self._progress is not None:
            self._progress(item)
        family = self.family
        status = family.status_of(item)
        if status in family.succeeded:
            return item
        if status in family.failed:
            raise family.failure(item)
        if status in family.unknown and step.reason is None:
            raise NotFoundError(
                f"{family.kind} {family.id_of(item)} is UNKNOWN: the server does not know this "
                "id (never submitted, or expired)",
                status_code=None,
                code=status,
                request_id=getattr(item, "request_id", None),
            )
        raise self._cancelled(item, step.reason or "server", note)

    def _cancelled(self, item: T, reason: str, note: str | None) -> CancelledError:
        what = f"{self.family.kind} {self.family.id_of(item)}"
        if reason == "deadline":
            why = f"deadline reached (timeout={self.timeout} s); cancelled server-side"
        elif reason == "cancel":
            why = "cancelled on request; cancelled server-side"
        else:
            why = "cancelled by the server"
        if note:
            why = f"{why} ({note})"
        cls = DeadlineExceededError if reason == "deadline" else JobCancelledError
        return cls(
            f"{what}: {why}", reason=reason, item=item, request_id=getattr(item, "request_id", None)
        )


class JobCancelledError(CancelledError):
    """A prediction, training or task was cancelled; ``reason`` says why, ``item`` its state."""

    def __init__(self, message: str, *, reason: str, item: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reason = reason
        """``"cancel"`` (asked by the caller), ``"deadline"`` (``timeout=``) or ``"server"``."""
        self.item = item


class DeadlineExceededError(JobCancelledError):
    """``timeout=`` elapsed while waiting: the job was cancelled server-side, then this raised."""
