"""Rate limits that wait instead of failing: the configuration and the pure pacing algorithm.

Rules of this module (wire facts: PROTOCOL.md "Rate limits"; the service's rate-limit pages):
- The service limits each model per account: RPM and TPM, also enforced per second
  (RPS = RPM/60, TPS = TPM/60), plus a burst guard on sudden growth. It sends no rate headers,
  only 429 codes. So a budget *paces*: one request every ``1/RPS`` seconds and tokens at TPS
  (GCRA, one "theoretical arrival time" per dimension), never in bursts, a little under the
  configured rate (``HEADROOM``, ``TOKEN_HEADROOM``) so arrival jitter never pushes a one-second
  window over its limit.
- A budget is check-or-wait: ``acquire`` either grants (and advances the state) or says how long
  to wait without changing anything, so a waiter that is cancelled leaves no trace and a late
  wake-up never bunches two requests (the next slot counts from the real grant time).
- Token cost is estimated before sending and settled with the response's usage (a refund or a
  debt moves the token clock); the expected output of a model is learned from its answers.
- Ramp: a budget sends requests at most ``RAMP_GROWTH`` times as fast as it recently did (an
  EWMA over ``RAMP_SECONDS``) and never slower than ``RAMP_FLOOR`` of its rate (or one a
  second), so from cold, or after a pause, it grows about 1.65x per second instead of jumping
  (``Throttling.BurstRate``, "Request rate increased too quickly"). Tokens are not ramped.
- 429 codes adapt the budget (AIMD): ``Throttling.RateQuota`` cuts the request rate,
  ``Throttling.AllocationQuota`` the token rate, ``Throttling`` both (at most one cut per
  ``CUT_EVERY``: concurrent 429s report one overload), ``Throttling.BurstRate`` halves the
  recent rate (back down the ramp). Cuts recover linearly at ``RECOVERY`` per second.
- Pure: ``now`` is an argument (``time.monotonic()`` in process, Redis ``TIME`` when shared).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from dashscope_core._protocol.request_cost import TokenNeed

__all__ = [
    "HEADROOM",
    "TOKEN_HEADROOM",
    "BudgetState",
    "Decision",
    "RateLimit",
    "Rates",
    "acquire",
    "settle",
    "throttled",
]

HEADROOM = 0.95
"""Fraction of the configured request rate a budget paces at: 50 ms of slack per one-second
window for the delays between a grant and its request reaching the server."""
TOKEN_HEADROOM = 0.98
"""The same for tokens: a server refuses once a window is full, so the slack there is this plus
the size of the request that fills it."""
JITTER = 0.002
"""A grant may come this much before its slot, and a late one keeps up to this much of it."""
TOKEN_CREDIT = 0.25
"""Seconds of token pace a refund may bank (a waiter asleep until its slot would lose it);
the exact one-second window still caps what is sent."""
RAMP_FLOOR = 0.3
RAMP_GROWTH = 1.25
RAMP_SECONDS = 0.5
CUT = 0.8
CUT_MIN = 0.1
CUT_EVERY = 1.0
RECOVERY = 0.05
OUTPUT_GUESS = 256
"""Expected output tokens of a model before its first answer (capped by ``max_tokens``)."""
_LEARN = 0.2


class _InvalidRateLimit(TypeError, ValueError):
    """A value of the wrong type: both a TypeError and the ValueError the contract names."""


def _positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _InvalidRateLimit(f"{name}: expected a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RateLimit:
    """A model's budget: requests and tokens per minute, optionally shared through Redis."""

    rpm: float | None = None
    """Requests per minute (also paced per second: RPM/60)."""
    tpm: float | None = None
    """Tokens per minute, input plus output (paced per second: TPM/60)."""
    redis_url: str | None = None
    """``redis://host:port/db``: share the budget with every process using the same key."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rpm", _positive("rpm", self.rpm))
        object.__setattr__(self, "tpm", _positive("tpm", self.tpm))
        if self.rpm is None and self.tpm is None:
            raise ValueError("rpm/tpm: a RateLimit needs rpm, tpm or both")
        url = self.redis_url
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://"))
        ):
            raise _InvalidRateLimit(
                f"redis_url: expected a redis://, rediss:// or unix:// URL, got {url!r}"
            )

    @staticmethod
    def per_model(value: Any) -> dict[str, RateLimit] | None:
        """Validate a ``rate_limit=`` argument: None, a ``RateLimit`` (the budget of every
        model, each its own, like the service's limits) or a dict of model name (``"*"``: any
        other) to ``RateLimit``. Returns the per-model form; bad values raise a ``ValueError``
        (also a ``TypeError`` for a wrong type) naming ``rate_limit``."""
        if value is None:
            return None
        if isinstance(value, RateLimit):
            return {"*": value}
        if isinstance(value, Mapping) and value:
            for model, limit in value.items():
                if not isinstance(model, str) or not model:
                    raise _InvalidRateLimit(
                        f"rate_limit: model names must be non-empty strings, got {model!r}"
                    )
                if not isinstance(limit, RateLimit):
                    raise _InvalidRateLimit(
                        f"rate_limit[{model!r}]: expected a RateLimit, got {type(limit).__name__}"
                    )
            return dict(value)
        raise _InvalidRateLimit(
            "rate_limit: expected a RateLimit or a non-empty dict of model name (or '*') to "
            f"RateLimit, got {value!r}"
        )


@dataclass(frozen=True)
class Rates:
    """What a budget paces at, per second (``HEADROOM`` of the configured limit)."""

    requests: float | None
    tokens: float | None

    @classmethod
    def of(cls, limit: RateLimit) -> Rates:
        """The per-second pace of ``limit``."""
        return cls(None if limit.rpm is None else limit.rpm / 60 * HEADROOM,
                   None if limit.tpm is None else limit.tpm / 60 * TOKEN_HEADROOM)  # fmt: skip

    def level(self, load: float) -> float:
        """The ramp: the fraction of the request rate a budget with this recent ``load`` (a
        fraction of the full rate) may run at; at least one request a second."""
        floor = max(RAMP_FLOOR, min(1.0, 1.0 / self.requests)) if self.requests else 1.0
        return min(1.0, max(floor, RAMP_GROWTH * load))


@dataclass(frozen=True)
class BudgetState:
    """One model's budget; every time is on the clock ``now`` comes from."""

    request_at: float = -math.inf
    """When the next request may go (GCRA theoretical arrival time)."""
    token_at: float = -math.inf
    """When the token clock has caught up with what was sent."""
    load: float = 0.0
    """Recent requests as a fraction of the full request rate (EWMA, ``RAMP_SECONDS``)."""
    load_at: float = 0.0
    request_scale: float = 1.0
    """Request rate left after ``Throttling.RateQuota`` cuts, as of ``cut_at``."""
    token_scale: float = 1.0
    cut_at: float = -math.inf
    output_tokens: float = 0.0
    """Learned mean output tokens per call (0: nothing learned yet)."""
    input_ratio: float = 1.0
    """Learned ratio of the used input tokens to the estimated ones (the text estimate's bias)."""
    second: tuple[tuple[float, float], ...] = ()
    """``(granted at, tokens)`` of the last second, settled ones corrected: paced tokens still
    overshoot a one-second window by one request, so the window is kept exactly."""

    def encode(self) -> str:
        """A compact text form (for Redis)."""
        head = ",".join(repr(getattr(self, f.name)) for f in fields(self)[:-1])
        return ";".join([head, *(f"{at!r},{n!r}" for at, n in self.second)])

    @classmethod
    def decode(cls, text: str | None) -> BudgetState:
        """The state ``encode`` wrote; a fresh state for None or anything unreadable."""
        try:
            head, *pairs = (text or "").split(";")
            values = [float(v) for v in head.split(",")]
            second = tuple((float(a), float(n)) for a, n in (p.split(",") for p in pairs))
        except ValueError:
            return cls()
        if len(values) != len(fields(cls)) - 1:
            return cls()
        request_at, token_at, load, load_at, request_scale, token_scale, cut_at, output, ratio = (
            values
        )
        return cls(request_at, token_at, load, load_at, request_scale, token_scale, cut_at,
                   output, ratio, second)  # fmt: skip


@dataclass(frozen=True)
class Decision:
    """The outcome of ``acquire``: granted, or how long to wait first."""

    granted: bool
    wait: float
    """Not granted: seconds until it could be. Granted: seconds until the next unit grant."""
    reason: str
    """The dimension that binds: ``"requests"`` or ``"tokens"``."""
    cost: float = 0.0
    """Tokens charged to the budget (settle replaces them by the used ones)."""
    at: float = 0.0
    """When it was decided (the grant's time, which settle needs)."""


def _now_view(state: BudgetState, now: float) -> tuple[float, float, float]:
    """Request scale, token scale and the decayed recent load at ``now``."""
    recovered = RECOVERY * max(0.0, now - state.cut_at) if state.cut_at > -math.inf else 1.0
    load = state.load * math.exp(-max(0.0, now - state.load_at) / RAMP_SECONDS)
    return min(1.0, state.request_scale + recovered), min(1.0, state.token_scale + recovered), load


def _last_second(state: BudgetState, now: float) -> tuple[tuple[float, float], ...]:
    return tuple(entry for entry in state.second if entry[0] > now - 1)


def _second_wait(
    second: tuple[tuple[float, float], ...], cost: float, cap: float, now: float
) -> float:
    """Seconds until ``cost`` more tokens fit the one-second window of ``cap`` tokens (an empty
    window takes anything: a request larger than a second's tokens must still go some time)."""
    total, wait = sum(n for _, n in second), 0.0
    for at, n in second:  # oldest first: each leaves the window at ``at + 1``
        if total <= 0 or total + cost <= cap:
            break
        total, wait = total - n, at + 1 - now
    return wait


def acquire(
    state: BudgetState, rates: Rates, need: TokenNeed, now: float
) -> tuple[BudgetState, Decision]:
    """Grant one request needing ``need`` tokens at ``now``, or say how long to wait (state as
    is)."""
    cost = need.cost(state.input_ratio, state.output_tokens or OUTPUT_GUESS)
    request_scale, token_scale, load = _now_view(state, now)
    second = _last_second(state, now)
    wait_requests = state.request_at - JITTER - now if rates.requests else -math.inf
    wait_tokens = -math.inf
    if rates.tokens:
        cap = rates.tokens * token_scale
        wait_tokens = max(state.token_at - JITTER - now, _second_wait(second, cost, cap, now))
    if wait_requests > 0 or wait_tokens > 0:
        reason = "requests" if wait_requests >= wait_tokens else "tokens"
        return state, Decision(False, max(wait_requests, wait_tokens), reason, cost, now)
    request_at, token_at = state.request_at, state.token_at
    if rates.requests:
        share = 1 / rates.requests / RAMP_SECONDS  # what one grant adds to the load
        # judged halfway through this grant: before it the EWMA is at its trough, after at a peak
        pace = rates.requests * request_scale * rates.level(load + share / 2)
        request_at = max(request_at, now - JITTER) + 1 / pace
        load += share
    if rates.tokens:
        token_at = max(token_at, now - TOKEN_CREDIT) + cost / (rates.tokens * token_scale)
        second = (*second, (now, cost))
    granted = replace(state, request_at=request_at, token_at=token_at, load=load, load_at=now,
                      second=second)  # fmt: skip
    ahead = {"requests": request_at - now if rates.requests else 0.0,
             "tokens": token_at - now if rates.tokens else 0.0}  # fmt: skip
    reason = max(ahead, key=ahead.__getitem__)
    return granted, Decision(True, max(0.0, ahead[reason]), reason, cost, now)


def settle(
    state: BudgetState, rates: Rates, need: TokenNeed, grant: Decision,
    usage: tuple[float | None, float | None], now: float,
) -> BudgetState:  # fmt: skip
    """Replace a ``grant``'s estimated tokens by the used ones (``usage``: total, output) and
    learn the model's output and the input estimate's bias from them."""
    used, output = usage
    ratio, learned = state.input_ratio, state.output_tokens
    if output is not None and output >= 0:
        learned = output if learned <= 0 else learned + _LEARN * (output - learned)
    used_input = None if used is None else used - (output or 0.0)
    if used_input is not None and used_input > 0 and need.input > 0:
        seen = min(5.0, max(0.2, used_input / need.input))
        ratio += _LEARN * (seen - ratio)
    state = replace(state, output_tokens=learned, input_ratio=ratio)
    if used is None or not rates.tokens or used == grant.cost:
        return state
    token_scale = _now_view(state, now)[1]
    token_at = state.token_at + (used - grant.cost) / (rates.tokens * token_scale)
    # corrected where it was charged: the service books a request's tokens when it admits it
    second = tuple((at, used if at == grant.at else n) for at, n in _last_second(state, now))
    return replace(state, token_at=token_at, second=second)


def throttled(state: BudgetState, code: str | None, now: float) -> BudgetState:
    """Adapt to a 429 with ``code`` (see the module rules); the cut recovers over time."""
    request_scale, token_scale, load = _now_view(state, now)
    if code == "Throttling.BurstRate":
        return replace(state, load=load / 2, load_at=now)
    if now - state.cut_at < CUT_EVERY:
        return state
    cut_requests = code != "Throttling.AllocationQuota"
    cut_tokens = code != "Throttling.RateQuota"
    return replace(
        state, cut_at=now,
        request_scale=max(CUT_MIN, request_scale * CUT) if cut_requests else request_scale,
        token_scale=max(CUT_MIN, token_scale * CUT) if cut_tokens else token_scale,
    )  # fmt: skip
