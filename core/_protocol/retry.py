"""One retry policy for every request (pure: no clock, no sleeping, no I/O).

Rules of this module:
- Retried: HTTP 408, 409, 429, 500, 502, 503, 504 and connection errors (PROTOCOL.md "Errors").
- A request that is not replay-safe (creates, Bailian app turns) is retried only on 429 and on
  connection errors raised before the request was sent: a 5xx or a connection lost after
  sending may have created the prediction or added the turn to the session. A body that cannot
  be sent twice (an iterator) is retried only when nothing was sent.
- A deadline (``end``, on the caller's clock) is never slept past: a retry whose wait would
  end after it is not made, and the last error is raised instead.
- The wait honours ``Retry-After`` (seconds or an HTTP date); a value above ``retry_after_max``
  raises at once rather than sleeping for minutes; a missing or non-positive one falls back to
  capped exponential backoff with jitter.
- ``max_retries=2`` means three attempts in all.
- A request under a rate limit (``limited``) that is throttled is retried at once (the limiter
  waits before every attempt, after adapting to the 429) and up to ``THROTTLE_RETRIES`` more
  times than ``max_retries``: with limits at or below the account's, throttling is waited out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenacity import RetryCallState

from dashscope_core.errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
    parse_retry_after,
)

__all__ = [
    "RETRY_STATUSES",
    "RetryPolicy",
    "parse_retry_after",
    "retry_after_from_headers",
]

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
THROTTLE_RETRIES = 10


def retry_after_from_headers(
    headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """``parse_retry_after`` applied to a header mapping (case-insensitive)."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            return parse_retry_after(value, now)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; shared by the sync and async clients."""

    max_retries: int = 2
    backoff_base: float = 0.5
    """First backoff in seconds; doubles each attempt. Tests set it near zero."""
    backoff_max: float = 8.0
    retry_after_max: float = 60.0
    """A ``Retry-After`` above this is not waited for: the error is raised at once."""
    jitter: float = 0.25
    """Fraction of the backoff added at random, so clients do not retry in lockstep."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries: expected >= 0, got {self.max_retries}")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base/backoff_max: expected >= 0")

    def should_retry(
        self, exc: BaseException, *, replay_safe: bool = True, rewindable: bool = True
    ) -> bool:
        """Whether ``exc`` is worth another attempt (ignores the attempt count)."""
        if isinstance(exc, APIConnectionError):
            sent = getattr(exc, "request_sent", True)
            return not sent or (replay_safe and rewindable)
        if not rewindable:
            return False
        if isinstance(exc, APIStatusError):
            # a Throttling code in a 200 body or an error frame is a 429 whatever the status
            status = 429 if isinstance(exc, RateLimitError) else exc.status_code
            if status not in RETRY_STATUSES:
                return False
            if not replay_safe and status != 429:
                return False
            after = exc.retry_after
            return after is None or after <= self.retry_after_max
        return False

    def attempts(self, exc: BaseException | None, limited: bool = False) -> int:
        """How many attempts in all a request may make when its last one raised ``exc``."""
        extra = THROTTLE_RETRIES if limited and isinstance(exc, RateLimitError) else 0
        return self.max_retries + 1 + extra

    def first_retry_delay(
        self,
        exc: BaseException,
        *,
        replay_safe: bool = True,
        rewindable: bool = True,
        limited: bool = False,
        time_left: float | None = None,
    ) -> float | None:
        """Seconds to wait before the second attempt after ``exc``, or None: do not retry
        (also when the wait would not end ``time_left`` seconds from now)."""
        if self.attempts(exc, limited) < 2:
            return None
        if not self.should_retry(exc, replay_safe=replay_safe, rewindable=rewindable):
            return None
        delay = self._delay(1, exc, limited)
        return None if time_left is not None and delay >= time_left else delay

    def _delay(self, attempt: int, exc: BaseException | None, limited: bool) -> float:
        # a throttled request under a rate limit waits in the limiter, not here
        return 0.0 if limited and isinstance(exc, RateLimitError) else self.wait(attempt, exc)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter for the ``attempt``-th retry (1-based)."""
        delay = min(self.backoff_base * 2.0 ** (attempt - 1), self.backoff_max)
        return delay + delay * self.jitter * self.rng.random()

    def wait(self, attempt: int, exc: BaseException | None) -> float:
        """Seconds to sleep before retry ``attempt`` after ``exc``."""
        after = getattr(exc, "retry_after", None)
        if isinstance(after, (int, float)) and after > 0:
            return float(min(after, self.retry_after_max))
        return self.backoff(attempt)

    def tenacity_kwargs(
        self,
        *,
        sleep: Callable[[float], Any],
        replay_safe: bool = True,
        rewindable: bool = True,
        before_sleep: Callable[[RetryCallState], Any] | None = None,
        attempts_done: int = 0,
        limited: bool = False,
        end: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for ``tenacity.Retrying`` / ``AsyncRetrying`` under this policy.

        ``attempts_done``: attempts already made outside tenacity (the clients make the first
        one directly, so the common success path pays nothing for the retry machinery).
        ``end``: a deadline on ``clock``; no wait is started that would end after it.
        """
        from tenacity import retry_if_exception

        def _exc(state: RetryCallState) -> BaseException | None:
            return state.outcome.exception() if state.outcome is not None else None

        def _wait(state: RetryCallState) -> float:
            return self._delay(state.attempt_number + attempts_done, _exc(state), limited)

        def _stop(state: RetryCallState) -> bool:
            if state.attempt_number + attempts_done >= self.attempts(_exc(state), limited):
                return True
            return end is not None and clock is not None and clock() + state.upcoming_sleep >= end

        def _retry(exc: BaseException) -> bool:
            return self.should_retry(exc, replay_safe=replay_safe, rewindable=rewindable)

        return {
            "stop": _stop,
            "wait": _wait,
            "retry": retry_if_exception(_retry),
            "sleep": sleep,
            "reraise": True,
            "before_sleep": before_sleep,
        }
