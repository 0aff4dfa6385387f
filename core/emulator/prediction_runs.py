"""Prediction and training runs: timing knobs, the timeline of one run, per-emulator state.

Rules of this module:
- A run's state is a pure function of (its plan, its creation time, its cancel time, now):
  ``starting`` for ``start_delay`` seconds, then ``processing`` while log lines and iterator
  tokens appear evenly over ``duration``, then ``succeeded`` / ``failed``. Nothing needs a
  background task to advance, so the same state serves the threaded server and in-process
  ``httpx.ASGITransport`` alike; time is ``emulator.clock``, which tests move.
- Everything lives on ``state(emulator)`` (``emulator.get_or_create``), so ``emulator.reset()``
  forgets it (built-in models come back on next use).
- Counters for the reliability suite go to ``emulator.counters``: ``predictions_created``,
  ``trainings_created`` (exact: incremented only when a run is really stored).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dashscope_core.emulator.prediction_models import Plan, Registry
from dashscope_core.emulator.state import Emulator

__all__ = [
    "TERMINAL",
    "PredictionState",
    "Run",
    "Settings",
    "Snapshot",
    "iso",
    "state",
]

TERMINAL = frozenset({"succeeded", "failed", "canceled"})


@dataclass
class Settings:
    """Timing and paging knobs of the prediction API (change them on ``state(emu).settings``)."""

    start_delay: float = 0.05
    """Seconds a run stays ``starting``."""
    run_time: float = 0.2
    """Processing seconds of a run whose model does not say (slow-counter uses its input)."""
    time_scale: float = 1.0
    """Multiplies every delay and duration (0 makes runs finish at once)."""
    page_size: int = 100
    """Results per page of every list endpoint."""
    prefer_wait_max: float = 60.0
    """Cap (and default) of ``Prefer: wait``."""
    poll_interval: float = 0.01
    """How often ``Prefer: wait``, streams and webhook senders look at a run."""
    keepalive: float = 1.0
    """Seconds of silence after which a stream sends ``: ping``."""
    sse_chunk_max: int | None = None
    """Hostile chunking: write streams in random pieces of 1..N bytes (None: whole events)."""


@dataclass(frozen=True)
class Snapshot:
    """A run as seen at one instant."""

    status: str
    logs: list[str]
    tokens: list[str]
    error: str | None
    started: float | None
    completed: float | None


@dataclass
class Run:
    """One prediction or training and its timeline."""

    id: str
    kind: str
    """``"prediction"`` or ``"training"``."""
    model: str
    version: str
    input: Any
    plan: Plan
    created: float
    start_delay: float
    duration: float
    iterator: bool = False
    stream: bool = False
    webhook: str | None = None
    events_filter: list[str] | None = None
    deployment: str | None = None
    destination: str | None = None
    canceled_at: float | None = None
    result: dict[str, Any] | None = None
    """Training output once the new version exists (``{"version", "weights"}``)."""
    base: str = ""
    """API base URL the run was created under (for URLs made later)."""

    def cancel(self, now: float) -> bool:
        """Cancel at ``now`` unless already terminal; whether it changed anything."""
        if self.snapshot(now).status in TERMINAL:
            return False
        self.canceled_at = now
        return True

    def snapshot(self, now: float) -> Snapshot:
        """The run's state at ``now``."""
        at = (self.canceled_at if self.canceled_at is not None else now) - self.created
        started = self.created + self.start_delay if at >= self.start_delay else None
        if self.canceled_at is not None:
            logs, tokens = self._progress(at)
            return Snapshot("canceled", logs, tokens, None, started, self.canceled_at)
        if started is None:
            return Snapshot("starting", [], [], None, None, None)
        if at < self.start_delay + self.duration:
            logs, tokens = self._progress(at)
            return Snapshot("processing", logs, tokens, None, started, None)
        end = self.created + self.start_delay + self.duration
        status = "failed" if self.plan.error is not None else "succeeded"
        return Snapshot(
            status, list(self.plan.logs), list(self.plan.tokens), self.plan.error, started, end
        )

    def _progress(self, at: float) -> tuple[list[str], list[str]]:
        if at < self.start_delay:
            return [], []
        frac = 1.0 if self.duration <= 0 else (at - self.start_delay) / self.duration
        return _shown(self.plan.logs, frac), _shown(self.plan.tokens, frac)

    def output(self, snap: Snapshot) -> Any:
        """The wire ``output`` for ``snap``."""
        if self.kind == "training":
            return self.result if snap.status == "succeeded" else None
        if self.iterator:
            return list(snap.tokens) if snap.tokens or snap.status == "succeeded" else None
        return self.plan.output if snap.status == "succeeded" else None


def _shown(items: Sequence[str], frac: float) -> list[str]:
    """Item ``i`` of ``n`` appears at fraction ``i / n`` of the processing time."""
    shown = list(items)
    if frac >= 1.0:
        return shown
    return shown[: min(len(shown), int(frac * len(shown)) + 1)]


def iso(ts: float | None) -> str | None:
    """``2024-01-01T00:00:00.000000Z`` for a wall-clock timestamp."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Delivery:
    """One webhook POST the emulator made."""

    url: str
    event: str
    run_id: str
    status: int | None
    """HTTP status the receiver answered (``None``: connection failed)."""


@dataclass
class PredictionState:
    """Everything the prediction API of one emulator knows."""

    emulator: Emulator
    settings: Settings = field(default_factory=Settings)
    registry: Registry = field(default_factory=Registry)
    runs: dict[str, Run] = field(default_factory=dict)
    """Predictions and trainings by id, in creation order."""
    deliveries: list[Delivery] = field(default_factory=list)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    """Webhook senders in flight (kept referenced until done)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    @property
    def webhook_secret(self) -> str:
        """The signing secret ``whsec_<base64>`` (deterministic per seed)."""
        raw = hashlib.sha256(f"emulator-webhook:{self.emulator.seed}".encode()).digest()[:24]
        return "whsec_" + base64.b64encode(raw).decode()

    def now(self) -> float:
        """The emulator's clock."""
        return self.emulator.clock()

    def new_id(self, kind: str) -> str:
        """A 26-char lowercase base32 id like the real service's."""
        with self.lock:
            self._count += 1
            n = self._count
        digest = hashlib.sha256(f"{kind}:{self.emulator.seed}:{n}".encode()).digest()
        return base64.b32encode(digest).decode().lower()[:26]

    def add(self, run: Run) -> None:
        """Store a run and count it (``predictions_created`` / ``trainings_created``)."""
        with self.lock:
            self.runs[run.id] = run
        self.emulator.counters[f"{run.kind}s_created"] += 1

    def listed(self, kind: str) -> list[Run]:
        """Runs of ``kind``, newest first."""
        with self.lock:
            return [r for r in reversed(self.runs.values()) if r.kind == kind]


def state(emulator: Emulator) -> PredictionState:
    """The prediction API state of ``emulator`` (created on first use)."""
    return emulator.get_or_create("predictions", lambda: PredictionState(emulator))
