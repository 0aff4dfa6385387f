"""Fault injection, applied by the framework to every route (including ones added later).

Kinds (aliases in brackets):

- ``throttle`` (``429``): HTTP 429 ``Throttling`` with ``Retry-After``.
- ``server_error`` (``500``): HTTP 500 ``InternalError``.
- ``unavailable`` (``503``): HTTP 503 ``ServiceUnavailable``.
- ``drop``: the connection closes before any response byte.
- ``cut_stream`` (``cut``): the stream stops after ``after`` events and the connection is
  aborted (no final frame, no terminating chunk). A JSON reply is cut half-way instead.
- ``error_event``: after ``after`` events an ``event:error`` frame with ``:HTTP_STATUS/429`` and
  ``{"code":"Throttling.RateQuota",...}`` ends the stream under HTTP 200. A JSON reply becomes
  that error with HTTP 429.
- ``missing_final``: the stream ends cleanly without its last (finish) frame. A JSON reply is
  cut half-way, like ``cut_stream``.
- ``slow_first_byte`` (``slow``): wait ``delay`` seconds before the response starts.
- ``stall``: wait ``delay`` seconds after ``after`` events (JSON: between headers and body).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = ["FAULT_KINDS", "RATE_DEFAULT_KINDS", "Fault", "Faults", "canonical_kind"]

FAULT_KINDS = (
    "throttle",
    "server_error",
    "unavailable",
    "drop",
    "cut_stream",
    "error_event",
    "missing_final",
    "slow_first_byte",
    "stall",
)
_ALIASES = {
    "429": "throttle",
    "500": "server_error",
    "503": "unavailable",
    "cut": "cut_stream",
    "slow": "slow_first_byte",
}
RATE_DEFAULT_KINDS = ("throttle", "server_error", "unavailable", "drop")
"""Faults a retrying client survives: what ``set_rate`` injects unless told otherwise."""


@dataclass(frozen=True)
class Fault:
    """One fault to inject."""

    kind: str
    after: int = 1
    """Events sent before ``cut_stream`` / ``error_event`` / ``stall`` strike."""
    delay: float = 0.5
    """Seconds for ``slow_first_byte`` and ``stall``."""
    retry_after: float = 1
    """``Retry-After`` seconds of ``throttle``."""
    route: str | None = None
    """Route kind it applies to; ``None`` matches any."""


def canonical_kind(kind: str) -> str:
    """The canonical fault name for ``kind`` or an alias; raises ``ValueError`` if unknown."""
    name = _ALIASES.get(kind, kind)
    if name not in FAULT_KINDS:
        raise ValueError(f"kind: unknown fault {kind!r}; expected one of {FAULT_KINDS}")
    return name


class Faults:
    """Queued faults (one per call, FIFO) and a seeded random fault rate."""

    def __init__(self, lock: threading.Lock, *, seed: int = 0) -> None:
        self._lock = lock
        self._queue: list[Fault] = []
        self._rate = 0.0
        self._rate_kinds: tuple[str, ...] = RATE_DEFAULT_KINDS
        self._rate_routes: frozenset[str] | None = None
        self._rate_retry_after: float = 1
        self._rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        """How many faults of each kind were injected."""

    @property
    def total(self) -> int:
        """Number of faults injected so far."""
        return sum(self.injected.values())

    def queue(
        self,
        kind: str,
        *,
        after: int = 1,
        delay: float = 0.5,
        retry_after: float = 1,
        route: str | None = None,
        times: int = 1,
    ) -> Faults:
        """Inject ``kind`` into the next ``times`` calls (of route kind ``route``, or any)."""
        fault = Fault(canonical_kind(kind), after, delay, retry_after, route)
        with self._lock:
            self._queue.extend([fault] * times)
        return self

    def set_rate(
        self,
        rate: float,
        kinds: Iterable[str] | None = None,
        *,
        seed: int | None = None,
        routes: Iterable[str] | None = None,
        retry_after: float = 1,
    ) -> Faults:
        """Inject a fault into each call with probability ``rate`` (kind picked at random)."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate: expected a probability in [0, 1]")
        if not retry_after > 0:
            raise ValueError("retry_after: expected a positive number of seconds")
        picked = tuple(canonical_kind(k) for k in (kinds or RATE_DEFAULT_KINDS))
        with self._lock:
            self._rate, self._rate_kinds = rate, picked
            self._rate_routes = None if routes is None else frozenset(routes)
            self._rate_retry_after = retry_after
            if seed is not None:
                self._rng.seed(seed)
        return self

    def take(self, route: str) -> Fault | None:
        """The fault for the next call of ``route``: queued first, then by rate; counted."""
        with self._lock:
            fault = self._take_queued(route) or self._take_random(route)
            if fault is not None:
                self.injected[fault.kind] += 1
            return fault

    def _take_queued(self, route: str) -> Fault | None:
        for i, fault in enumerate(self._queue):
            if fault.route is None or fault.route == route:
                return replace(self._queue.pop(i), route=route)
        return None

    def _take_random(self, route: str) -> Fault | None:
        if self._rate <= 0 or (self._rate_routes is not None and route not in self._rate_routes):
            return None
        if self._rng.random() >= self._rate:
            return None
        kind = self._rng.choice(self._rate_kinds)
        return Fault(kind, route=route, retry_after=self._rate_retry_after)

    def clear(self) -> None:
        """Drop queued faults and switch the random rate off."""
        with self._lock:
            self._queue.clear()
            self._rate = 0.0

    def reset(self, *, seed: int = 0) -> None:
        """``clear()`` plus zeroed counters and a re-seeded RNG."""
        self.clear()
        with self._lock:
            self.injected.clear()
            self._rng.seed(seed)
