"""The client's rate limiter: the I/O shell around ``_protocol.ratelimit`` (pure pacing).

Rules of this module:
- A budget is one model's, for one account (API key, host and workspace, hashed: the key never
  appears in a budget's name). Budgets without ``redis_url`` live in a table shared by every
  client, thread and event loop of the process; with it, in Redis (``dashscope-ext:rate-limit:
  <scope>:<model>``), updated by compare-and-set on Redis's clock, so processes and machines
  share one budget. A Redis error falls back to the process table with a warning: calls go on,
  paced per process, and the service's 429s still adapt them.
- Waiting is check-or-wait (nothing is reserved while asleep). Local waiters of a budget share
  one "not before" time, so a process asks the store about once per slot, not once per waiter.
- Waits are visible: DEBUG logs on ``dashscope_core``, the client's ``on_rate_limit_wait`` and
  the callbacks of ``observe_rate_limits`` blocks (a ``RateLimitWait`` after each wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import logging
import math
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from dashscope_core._protocol import ratelimit
from dashscope_core._protocol.ratelimit import BudgetState, Decision, RateLimit, Rates
from dashscope_core._protocol.request import RawResponse, RequestSpec
from dashscope_core._protocol.request_cost import TokenNeed, limited_model, token_need, usage_of
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import APIStatusError, DashScopeError, RateLimitError
from dashscope_core.profiles import get_profile

__all__ = ["Limiter", "RateLimitWait", "Slot", "budget_scope", "observe_rate_limits"]

logger = logging.getLogger("dashscope_core")
_T = TypeVar("_T")
Step = Callable[[BudgetState, float], tuple[BudgetState, _T]]


@dataclass(frozen=True)
class RateLimitWait:
    """A request waited for its model's rate-limit budget (reported when the wait ends)."""

    model: str
    seconds: float
    reason: str
    """What the budget was short of: ``"requests"`` or ``"tokens"``."""
    tokens: float
    """The request's estimated token cost."""


Observer = Callable[[RateLimitWait], Any]
_OBSERVERS: ContextVar[tuple[Observer, ...]] = ContextVar("dashscope_rate_limit", default=())


@contextlib.contextmanager
def observe_rate_limits(callback: Observer) -> Iterator[None]:
    """Call ``callback(RateLimitWait)`` for each rate-limit wait of calls made in this block
    (this thread or task); an async client awaits what the callback returns."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), callback))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


class _Store(Protocol):
    remote: bool

    def update(self, key: str, step: Step[_T]) -> _T: ...


class _LocalStore:
    """The budgets of this process: a dict under a lock, on the monotonic clock."""

    remote = False

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, BudgetState] = {}

    def update(self, key: str, step: Step[_T]) -> _T:
        with self.lock:
            state, result = step(self.states.get(key, BudgetState()), time.monotonic())
            self.states[key] = state
        return result


# compare-and-set: the pure step runs in Python, the write happens only if nobody wrote since
_CAS = """
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
_TTL_MS = 600_000  # an idle budget is forgotten after 10 minutes (and starts cold again)
_CAS_TRIES = 100


class _RedisStore:
    """Budgets shared through Redis: read state and ``TIME``, step, compare-and-set."""

    remote = True

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:
            raise ImportError(
                "rate_limit: redis_url needs redis-py: pip install 'dashscope-ext[redis]'"
            ) from exc
        self.errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.cas = self.client.register_script(_CAS)

    def update(self, key: str, step: Step[_T]) -> _T:
        for _ in range(_CAS_TRIES):
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.time()
            raw, (seconds, micros) = pipe.execute()
            old = raw.decode() if raw else ""
            before = BudgetState.decode(old)
            state, result = step(before, seconds + micros / 1e6)
            if state == before or self.cas(keys=[key], args=[old, state.encode(), _TTL_MS]):
                return result
        raise DashScopeError(f"rate limit: budget {key!r} changed {_CAS_TRIES} times in a row")


_LOCAL = _LocalStore()
_REDIS: dict[str, _RedisStore] = {}
_REDIS_LOCK = threading.Lock()
_GATES: dict[str, tuple[float, str]] = {}
"""Per budget: the monotonic time before which local waiters need not ask the store, and why."""


def _reset_after_fork() -> None:  # a lock held by another thread at fork() stays held forever
    global _REDIS_LOCK
    _LOCAL.lock = threading.Lock()
    _REDIS_LOCK = threading.Lock()
    _GATES.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def _store(url: str | None) -> _Store:
    if url is None:
        return _LOCAL
    with _REDIS_LOCK:
        if url not in _REDIS:
            _REDIS[url] = _RedisStore(url)
        return _REDIS[url]


def budget_scope(api_key: str, origin: str, workspace: str | None) -> str:
    """The account part of a budget's name: a hash, so the key never shows."""
    return hashlib.sha256(f"{api_key}\n{origin}\n{workspace or ''}".encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Budget:
    model: str
    key: str
    rates: Rates
    store: _Store

    def need(self, spec: RequestSpec) -> TokenNeed:
        """The request's estimated tokens; its output capped by the model's limit if known."""
        profile = get_profile(self.model)
        return token_need(spec.json, profile.max_output_tokens if profile.known else math.inf)

    def update(self, step: Step[_T]) -> _T:
        if not self.store.remote:
            return self.store.update(self.key, step)
        try:
            return self.store.update(self.key, step)
        except self.store.errors as exc:  # type: ignore[attr-defined]  # only _RedisStore is remote
            logger.warning("rate limit: Redis unavailable (%s); pacing %s in this process", exc,
                           self.model)  # fmt: skip
            return _LOCAL.update(self.key, step)

    async def aupdate(self, step: Step[_T]) -> _T:
        """``update`` without blocking the event loop on Redis."""
        if not self.store.remote:
            return self.update(step)
        return await asyncio.to_thread(self.update, step)


class Slot:
    """One request let through by its budget; ``done`` settles it with the outcome."""

    def __init__(
        self, budget: _Budget | None = None, need: TokenNeed | None = None,
        grant: Decision | None = None,
    ) -> None:  # fmt: skip
        self._budget = budget
        self._need = need or TokenNeed(0)
        self._grant = grant or Decision(True, 0.0, "requests")

    def done(self, outcome: RawResponse | SSEEvent | BaseException | None) -> None:
        """Settle: usage of a response or last stream frame; refund an error; adapt to a 429."""
        budget, step = self._settlement(outcome)
        if step is not None:
            budget.update(step)

    async def adone(self, outcome: RawResponse | SSEEvent | BaseException | None) -> None:
        """``done`` for the async client."""
        budget, step = self._settlement(outcome)
        if step is not None:
            await budget.aupdate(step)

    def _settlement(self, outcome: object) -> tuple[Any, Step[None] | None]:
        budget, need, grant = self._budget, self._need, self._grant
        if budget is None:
            return None, None
        self._budget = None  # settled once
        code: str | None = None
        if isinstance(outcome, RawResponse):
            usage = usage_of(outcome.content)
        elif isinstance(outcome, SSEEvent):
            usage = usage_of(outcome.data)
        elif isinstance(outcome, APIStatusError):  # refused: no tokens were consumed
            usage = (0.0, None)
            if isinstance(outcome, RateLimitError):
                code = outcome.code or "Throttling"
                logger.debug("rate limit: %s for %s: adapting its budget", code, budget.model)
        else:
            return None, None  # sent or not, unknown: the estimate stands
        _GATES.pop(budget.key, None)  # a refund or a cut changes when the next may go

        def settle(state: BudgetState, now: float) -> tuple[BudgetState, None]:
            state = ratelimit.settle(state, budget.rates, need, grant, usage, now)
            return (state if code is None else ratelimit.throttled(state, code, now)), None

        return budget, settle


_NO_SLOT = Slot()


class _Wait:
    """One request waiting for its budget: what to ask the store, what its answers mean."""

    def __init__(self, budget: _Budget, need: TokenNeed) -> None:
        self.budget, self.need = budget, need
        self.started = time.monotonic()
        self.first: Decision | None = None
        """The first refusal (its reason is the wait's)."""
        self.grant: Decision | None = None

    def step(self, state: BudgetState, now: float) -> tuple[BudgetState, Decision]:
        return ratelimit.acquire(state, self.budget.rates, self.need, now)

    def gate(self) -> Decision | None:
        """Another local waiter already learned the budget is busy until some time."""
        until, reason = _GATES.get(self.budget.key, (0.0, ""))
        wait = until - time.monotonic()
        return Decision(False, wait, reason) if wait > 0 else None

    def delay(self, decision: Decision) -> float | None:
        """Seconds to sleep before asking again, or None: granted."""
        _GATES[self.budget.key] = (time.monotonic() + decision.wait, decision.reason)
        if decision.granted:
            self.grant = decision
            return None
        self.first = self.first or decision
        return decision.wait + random.uniform(0, ratelimit.JITTER)  # spread local waiters

    def slot(self) -> Slot:
        return Slot(self.budget, self.need, self.grant)


class Limiter:
    """A client's rate limits: the budget a request draws from, waiting for it, reporting."""

    def __init__(
        self,
        limits: Mapping[str, RateLimit] | None,
        scope: str,
        on_wait: Observer | None = None,
    ) -> None:
        self._limits = dict(limits or {})
        self._scope = scope
        self._on_wait = on_wait
        self._budgets: dict[str, _Budget | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_budgets": {}}  # stores hold connections and locks

    def _budget(self, model: str | None) -> _Budget | None:
        if model is None or not self._limits:
            return None
        if model not in self._budgets:
            limit = self._limits.get(model) or self._limits.get("*")
            key = f"dashscope-ext:rate-limit:{self._scope}:{model}"
            self._budgets[model] = None if limit is None else _Budget(
                model, key, Rates.of(limit), _store(limit.redis_url)
            )  # fmt: skip
        return self._budgets[model]

    def applies(self, spec: RequestSpec) -> bool:
        """Whether ``spec`` draws from a budget (its throttling errors are then waited out)."""
        return self._budget(limited_model(spec.json)) is not None

    def acquire(self, spec: RequestSpec) -> Slot:
        """Wait (sleeping) until the request's budget lets it go; a no-op slot if unlimited."""
        wait = self._wait(spec)
        if wait is None:
            return _NO_SLOT
        while True:
            decision = wait.gate()
            if decision is None:
                decision = wait.budget.update(wait.step)
            if (delay := wait.delay(decision)) is None:
                break
            time.sleep(delay)
        for result in self._report(wait):
            if inspect.iscoroutine(result):  # a sync client runs no coroutine callbacks
                result.close()
        return wait.slot()

    async def aacquire(self, spec: RequestSpec) -> Slot:
        """``acquire`` for the async client (sleeps without blocking the loop)."""
        wait = self._wait(spec)
        if wait is None:
            return _NO_SLOT
        while True:  # sleeps until a computed slot, not a poll: ASYNC110 does not apply
            decision = wait.gate()
            if decision is None:
                decision = await wait.budget.aupdate(wait.step)
            if (delay := wait.delay(decision)) is None:
                break
            await asyncio.sleep(delay)
        for result in self._report(wait):
            await result
        return wait.slot()

    def _wait(self, spec: RequestSpec) -> _Wait | None:
        budget = self._budget(limited_model(spec.json))
        return None if budget is None else _Wait(budget, budget.need(spec))

    def _report(self, wait: _Wait) -> list[Awaitable[Any]]:
        """Log a wait that happened and tell the observers; what async callbacks gave back."""
        if wait.first is None or wait.grant is None:
            return []
        event = RateLimitWait(wait.budget.model, time.monotonic() - wait.started,
                              wait.first.reason, wait.grant.cost)  # fmt: skip
        logger.debug("rate limit: %s waited %.3f s for %s (estimated %d tokens)",
                     event.model, event.seconds, event.reason, event.tokens)  # fmt: skip
        observers = (self._on_wait, *_OBSERVERS.get()) if self._on_wait else _OBSERVERS.get()
        results = [observer(event) for observer in observers]
        return [r for r in results if inspect.isawaitable(r)]
