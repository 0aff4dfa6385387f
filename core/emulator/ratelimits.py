"""Per-model rate limits, enforced as the service enforces them (PROTOCOL.md "Rate limits").

Rules of this module:
- Limits belong to a model (``"*"``: every model without limits of its own): RPM and TPM over a
  sliding minute, and per second RPS = ceil(RPM/60) requests and TPS = ceil(TPM/60) tokens,
  counted as Sentinel (Alibaba's flow-control library) counts QPS by default: two 500 ms
  buckets, the current one and the one before. A burst guard refuses a request when those
  requests would exceed ``max(2, BURST_FLOOR * RPS)`` plus ``BURST_FACTOR`` times the requests
  of the second before them: from cold (or after a pause) a client may start at half its RPS,
  then about double every second.
- Requests count when admitted, and so do their tokens (an allocation, hence
  ``Throttling.AllocationQuota``): the reply's usage, known from its JSON body or last stream
  frame, is booked at the time the request was admitted.
- Refusals: 429 ``Throttling.BurstRate`` / ``Throttling.RateQuota`` (requests) /
  ``Throttling.AllocationQuota`` (tokens) with the service's messages and no Retry-After or
  rate headers; a refused stream is HTTP 200 with one ``event:error`` frame (``:HTTP_STATUS/429``).
- ``throttled`` counts the 429s sent, by code (``GET /emulator/rate-limits`` serves the counts).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route

if TYPE_CHECKING:
    from dashscope_core.emulator.state import Emulator

__all__ = ["MESSAGES", "ROUTES", "ModelLimit", "RateLimits", "parse_limit"]

BURST_FLOOR = 0.5
BURST_FACTOR = 2.0
_BUCKET = 0.5
MESSAGES = {
    "Throttling": "Requests throttling triggered.",
    "Throttling.RateQuota": "Requests rate limit exceeded, please try again later.",
    "Throttling.BurstRate": "Request rate increased too quickly. To ensure system stability, "
    "please adjust your client logic to scale requests more smoothly over time.",
    "Throttling.AllocationQuota": "Allocated quota exceeded, please increase your quota limit.",
}


@dataclass(frozen=True)
class ModelLimit:
    """One model's limits; ``None`` leaves a dimension unlimited."""

    rpm: float | None = None
    tpm: float | None = None
    burst: bool = True
    """Refuse sudden growth (``Throttling.BurstRate``)."""

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name}: expected a positive number, got {value!r}")


@dataclass
class _Window:
    """What a model admitted in the last minute."""

    requests: deque[float] = field(default_factory=deque)
    tokens: list[tuple[float, float]] = field(default_factory=list)
    """``(admitted at, tokens)`` in time order (a reply is booked when its usage is known)."""
    token_sum: float = 0.0

    def prune(self, now: float) -> None:
        while self.requests and self.requests[0] <= now - 60:
            self.requests.popleft()
        old = bisect.bisect_right(self.tokens, (now - 60, math.inf))
        self.token_sum -= sum(n for _, n in self.tokens[:old])
        del self.tokens[:old]

    def last_second(self, now: float) -> tuple[int, float, int]:
        """Requests and tokens of the current and the previous 500 ms bucket, and the requests
        of the second before those."""
        since = (math.floor(now / _BUCKET) - 1) * _BUCKET
        first = bisect.bisect_left(self.requests, since)
        before = first - bisect.bisect_left(self.requests, since - 1)
        tokens = sum(n for _, n in self.tokens[bisect.bisect_left(self.tokens, (since,)) :])
        return len(self.requests) - first, tokens, before


class RateLimits:
    """The emulator's per-model limits, their windows and the 429s sent."""

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self._lock = lock or threading.Lock()
        self._limits: dict[str, ModelLimit] = {}
        self._windows: dict[str, _Window] = {}
        self.throttled: Counter[str] = Counter()
        """429s sent, by code."""
        self.admitted: Counter[str] = Counter()
        """Requests let through, by model (limited models only)."""
        self.tokens: dict[str, float] = {}
        """Tokens used by the answers, by model (limited models only)."""

    def set(
        self, model: str = "*", *, rpm: float | None = None, tpm: float | None = None,
        burst: bool = True,
    ) -> RateLimits:  # fmt: skip
        """Limit ``model`` (``"*"``: every model without limits of its own)."""
        with self._lock:
            self._limits[model] = ModelLimit(rpm, tpm, burst)
        return self

    def limit(self, model: str) -> ModelLimit | None:
        """The limits that apply to ``model``, if any."""
        return self._limits.get(model) or self._limits.get("*")

    def reset(self) -> None:
        """Drop every limit, window and count."""
        with self._lock:
            self._limits.clear()
            self._windows.clear()
            self.throttled.clear()
            self.admitted.clear()
            self.tokens.clear()

    def admit(self, model: str, now: float) -> ApiError | None:
        """Count a request for ``model`` at ``now`` (``emulator.clock()``), or the 429 refusing
        it (counted in ``throttled``)."""
        limit = self.limit(model)
        if limit is None:
            return None
        with self._lock:
            window = self._windows.setdefault(model, _Window())
            window.prune(now)
            code = _refusal(limit, window, now)
            if code is not None:
                self.throttled[code] += 1
                return ApiError(429, code, MESSAGES[code])
            window.requests.append(now)
            self.admitted[model] += 1
        return None

    def record(self, model: str, tokens: float, admitted_at: float) -> None:
        """Book ``tokens`` used by an answer of ``model`` at the time it was admitted."""
        if self.limit(model) is None or tokens <= 0:
            return
        with self._lock:
            window = self._windows.setdefault(model, _Window())
            bisect.insort(window.tokens, (admitted_at, tokens))
            window.token_sum += tokens
            self.tokens[model] = self.tokens.get(model, 0.0) + tokens

    def snapshot(self) -> dict[str, Any]:
        """Limits and counts as JSON-able data."""
        with self._lock:
            return {
                "limits": {m: asdict(limit) for m, limit in self._limits.items()},
                "admitted": dict(self.admitted),
                "tokens": dict(self.tokens),
                "throttled": dict(self.throttled),
                "throttled_total": sum(self.throttled.values()),
            }


def _refusal(limit: ModelLimit, window: _Window, now: float) -> str | None:
    """The 429 code refusing one more request now, or None."""
    requests, tokens, before = window.last_second(now)
    if limit.rpm is not None:
        per_second = math.ceil(limit.rpm / 60)
        floor = max(2.0, BURST_FLOOR * per_second)
        if limit.burst and requests + 1 > floor + BURST_FACTOR * before:
            return "Throttling.BurstRate"
        if requests + 1 > per_second or len(window.requests) + 1 > limit.rpm:
            return "Throttling.RateQuota"
    if limit.tpm is not None and (
        tokens >= math.ceil(limit.tpm / 60) or window.token_sum >= limit.tpm
    ):
        return "Throttling.AllocationQuota"
    return None


def parse_limit(text: str) -> tuple[str, ModelLimit]:
    """``"qwen-plus:rpm=600,tpm=100000"`` (or ``"rpm=60"`` for every model) as model, limits."""
    model, _, spec = text.rpartition(":") if "=" in text.rpartition(":")[2] else ("", "", text)
    values: dict[str, Any] = {}
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        name = name.strip()
        if name in ("rpm", "tpm"):
            values[name] = float(value)
        elif name == "burst":
            values[name] = value.strip().lower() not in ("off", "false", "0", "no")
        else:
            raise ValueError(f"rate limit: unknown setting {name!r} in {text!r} (rpm, tpm, burst)")
    if "rpm" not in values and "tpm" not in values:
        raise ValueError(f"rate limit: {text!r} sets neither rpm nor tpm")
    return model or "*", ModelLimit(**values)


async def stats(request: Request, emulator: Emulator) -> Response:
    """``GET /emulator/rate-limits``: the limits, admitted requests and 429s sent."""
    return JSONResponse(emulator.rate_limits.snapshot())


ROUTES = [Route("GET", "/emulator/rate-limits", stats, kind="emulator", auth=False)]
