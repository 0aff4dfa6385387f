"""Emulator state: accepted keys, scripted replies, faults, what reached the wire, RNG, the
clock, and the endpoints' own state.

Rules of this module:
- Everything a test configures or inspects lives on one ``Emulator`` object; ``reset()`` brings
  it back to the state right after construction (same seed, same keys, the real time).
- One clock (``Emulator.clock``) serves every endpoint; endpoint modules keep their state in
  ``namespace(name)`` dicts or objects made once by ``get_or_create``.
- Request ids and random choices derive from the seed and a counter, so a run is reproducible.
- Mutations may come from a test thread while the server runs in another: a lock guards them.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from dashscope_core.emulator.faults import Faults
from dashscope_core.emulator.ratelimits import RateLimits

if TYPE_CHECKING:
    from dashscope_core.emulator._apps_registry import AppRegistry

__all__ = ["Clock", "Emulator", "ReceivedRequest", "Script", "Scripted"]

_INVALID_PREFIXES = ("invalid", "sk-invalid")
T = TypeVar("T")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as it reached the emulator."""

    method: str
    path: str
    """Path below ``/api/v1``."""
    kind: str | None
    """The route's kind (``"generation"``, ...); ``None`` for unknown paths."""
    headers: dict[str, str]
    """Lower-cased header names."""
    json: Any
    body: bytes
    request_id: str


@dataclass(frozen=True)
class Scripted:
    """A queued reply; ``data`` is endpoint specific (see ``Script``)."""

    kind: str | None
    """Route kind it applies to; ``None`` matches any route."""
    action: str
    """``"reply"`` (rendered by the endpoint), ``"error"`` or ``"json"`` (sent verbatim)."""
    data: dict[str, Any] = field(default_factory=dict)


class Script:
    """FIFO of exact replies for the next calls, per route kind.

    ``emu.script.generation(text="Hi")`` makes the next generation call answer "Hi" (still
    rendered through the generation renderer: result_format, streaming, usage apply).
    """

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._queue: list[Scripted] = []

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, item: Scripted) -> Script:
        """Queue ``item``; returns ``self`` so calls chain."""
        with self._lock:
            self._queue.append(item)
        return self

    def reply(self, kind: str, **data: Any) -> Script:
        """Queue an endpoint-specific reply for the next call of route ``kind``."""
        return self.push(Scripted(kind, "reply", data))

    def generation(
        self,
        text: str | None = None,
        *,
        tool_calls: list[dict[str, Any]] | None = None,
        reasoning: str | None = None,
        finish_reason: str | None = None,
        usage: dict[str, int] | None = None,
    ) -> Script:
        """Queue the next text-generation answer.

        Args:
            text: the answer text.
            tool_calls: ``[{"name": ..., "arguments": {...} | "json", "id"?: ...}]``; several
                make parallel tool calls.
            reasoning: ``reasoning_content`` streamed before the text.
            finish_reason: override (default: ``tool_calls`` / ``stop`` / ``length``).
            usage: override ``input_tokens`` / ``output_tokens``.
        """
        data = {
            "text": text,
            "tool_calls": tool_calls,
            "reasoning": reasoning,
            "finish_reason": finish_reason,
            "usage": usage,
        }
        return self.reply("generation", **{k: v for k, v in data.items() if v is not None})

    def reasoning(self, reasoning: str, text: str = "") -> Script:
        """Queue a generation answer with ``reasoning_content`` (thinking) then ``text``."""
        return self.generation(text, reasoning=reasoning)

    def error(
        self,
        status: int = 429,
        code: str = "Throttling",
        message: str = "Requests rate limit exceeded, please try again later.",
        *,
        retry_after: float | None = None,
        kind: str | None = None,
    ) -> Script:
        """Queue an error reply for the next call (of route ``kind``, or any route)."""
        data: dict[str, Any] = {"status": status, "code": code, "message": message}
        if retry_after is not None:
            data["retry_after"] = retry_after
        return self.push(Scripted(kind, "error", data))

    def json(
        self,
        body: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> Script:
        """Queue a verbatim JSON reply (``request_id`` is filled in when ``body`` lacks one)."""
        return self.push(
            Scripted(kind, "json", {"body": body, "status": status, "headers": headers or {}})
        )

    def take(self, kind: str) -> Scripted | None:
        """Remove and return the first item for ``kind`` (or for any kind)."""
        with self._lock:
            for i, item in enumerate(self._queue):
                if item.kind is None or item.kind == kind:
                    return self._queue.pop(i)
        return None

    def clear(self) -> None:
        """Drop every queued item."""
        with self._lock:
            self._queue.clear()


def _wall_time() -> float:
    """Wall-clock seconds that never step back (the epoch taken once, then monotonic)."""
    return _EPOCH + time.monotonic()


_EPOCH = time.time() - time.monotonic()


class Clock:
    """The emulator's one clock, in wall-clock seconds: task, prediction and batch timelines,
    timestamps, context-cache TTLs, upload expiries and rate-limit windows all read it.

    Tests move it with ``advance`` (``emu.clock.advance(301)`` expires a 5-minute cache and
    finishes a running task) or replace its ``source`` with a fake (``emu.clock.source =
    lambda: 1_700_000_000.0``); ``Emulator.reset()`` restores both.
    """

    def __init__(self) -> None:
        self.source: Callable[[], float] = _wall_time
        """Where the time comes from (a fake in tests)."""
        self.offset = 0.0
        """Seconds added by ``advance``."""

    def __call__(self) -> float:
        return self.source() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the emulated time forward by ``seconds``."""
        self.offset += seconds

    def reset(self) -> None:
        """Back to the real time."""
        self.source, self.offset = _wall_time, 0.0


class Emulator:
    """Configuration and state of one emulated DashScope service.

    Args:
        seed: seeds request ids, the RNG and anything random the endpoints do.
        api_keys: accepted keys; ``None`` accepts any non-empty key except ones starting
            with ``invalid`` / ``sk-invalid``.
        latency: seconds every reply waits before its first byte (a model's think time).
    """

    def __init__(
        self, *, seed: int = 0, api_keys: Iterable[str] | None = None, latency: float = 0.0
    ) -> None:
        self.seed = seed
        self.api_keys: set[str] | None = None if api_keys is None else set(api_keys)
        self.latency = latency
        self._lock = threading.Lock()
        self.script = Script(self._lock)
        self.faults = Faults(self._lock, seed=seed)
        self.rate_limits = RateLimits()
        """Per-model RPM/TPM/per-second/burst limits (``rate_limits.set("qwen-plus", rpm=600)``)."""
        self.requests: list[ReceivedRequest] = []
        self.counters: Counter[str] = Counter()
        self.rng = random.Random(seed)
        self.clock = Clock()
        self._counter = 0
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, Any] = {}
        self._objects_lock = threading.RLock()  # a maker may ask for another object

    def reset(self) -> None:
        """Forget scripts, faults, received requests, counters and endpoint state."""
        with self._lock:
            self.requests.clear()
            self.counters.clear()
            self.rng.seed(self.seed)
            self.clock.reset()
            self._counter = 0
            self._namespaces.clear()
        with self._objects_lock:
            self._objects.clear()
        self.script.clear()
        self.faults.reset(seed=self.seed)
        self.rate_limits.reset()

    def accepts(self, key: str) -> bool:
        """Whether ``key`` is an accepted API key."""
        if self.api_keys is not None:
            return key in self.api_keys
        return bool(key) and not key.lower().startswith(_INVALID_PREFIXES)

    def next_request_id(self) -> str:
        """A uuid4-looking id derived from the seed and a counter."""
        with self._lock:
            self._counter += 1
            n = self._counter
        digest = hashlib.sha256(f"dashscope-emulator:{self.seed}:{n}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def record(self, request: ReceivedRequest) -> None:
        """Remember a received request and count it under its route kind."""
        with self._lock:
            self.requests.append(request)
            self.counters[request.kind or "unknown"] += 1

    def received(self, kind: str | None = None) -> list[ReceivedRequest]:
        """Received requests, optionally only those of route ``kind``."""
        with self._lock:
            return [r for r in self.requests if kind is None or r.kind == kind]

    def namespace(self, name: str) -> dict[str, Any]:
        """A dict an endpoint module may keep state in (sessions, tasks...); cleared by reset."""
        with self._lock:
            return self._namespaces.setdefault(name, {})

    def get_or_create(self, name: str, make: Callable[[], T]) -> T:
        """The endpoint state object ``name``, made by ``make`` on first use (once, even
        under concurrent requests); forgotten by ``reset``."""
        with self._objects_lock:
            if name not in self._objects:
                self._objects[name] = make()
            found: T = self._objects[name]
            return found

    @property
    def apps(self) -> AppRegistry:
        """The emulated Bailian apps (``register`` / ``load``); the demo app after ``reset()``."""
        from dashscope_core.emulator.apps import registry  # the endpoint module imports this one

        return registry(self)
