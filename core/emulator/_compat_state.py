"""State of the emulator's OpenAI-compatible mode: batch timing knobs, batches, list pages.

Rules of this module:
- Everything lives on ``compat_state(emulator)`` (``emulator.get_or_create``), so
  ``emulator.reset()`` forgets batches and changed settings; files are the emulator's one store
  (``_file_store``), shared with the native file API.
- Time is the emulator's clock (``emu.clock``): tests move it to make hours pass at once, or
  set ``time_scale=0``. ``BatchSettings.clock``, when set, replaces it for files and batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator._file_store import FileStore, StoredFile, file_store
from dashscope_core.emulator.routing import COMPATIBLE_PREFIX, ApiError, Handler, Route
from dashscope_core.emulator.state import Emulator

__all__ = [
    "BatchSettings",
    "CompatState",
    "compat_file",
    "compat_state",
    "list_page",
    "route",
    "settings",
]


@dataclass
class BatchSettings:
    """Timing of batches (seconds, multiplied by ``time_scale``) and the clock."""

    validating: float = 1.0
    """Seconds a batch stays ``validating``."""
    per_line: float = 0.02
    """Seconds of ``in_progress`` per request line (at least ``min_running``)."""
    min_running: float = 1.0
    finalizing: float = 1.0
    """Seconds of ``finalizing`` before ``completed`` (and of ``cancelling``)."""
    time_scale: float = 1.0
    """Multiplies every duration (0: batches finish at the first look)."""
    page_size: int = 20
    """Default ``limit`` of the list routes."""
    clock: Callable[[], float] | None = None
    """A clock for files and batches only (seconds); None: the emulator's ``emu.clock``."""


@dataclass
class CompatState:
    """Settings, files and batches of one emulator."""

    settings: BatchSettings
    files: FileStore
    emulator_clock: Callable[[], float]
    batches: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        """The settings' clock if set, else the emulator's."""
        return (self.settings.clock or self.emulator_clock)()


def compat_file(state: CompatState, file_id: str, *, delete: bool = False) -> StoredFile:
    """The file (forgotten with ``delete=True``), or 404 as compatible mode answers."""
    found = state.files.delete(file_id) if delete else state.files.find(file_id)
    if found is None:
        raise ApiError(404, "NotFound", f"The file {file_id} does not exist.")
    return found


def compat_state(emulator: Emulator) -> CompatState:
    """The compatible-mode state of ``emulator`` (created on first use)."""
    return emulator.get_or_create(
        "compatible", lambda: CompatState(BatchSettings(), file_store(emulator), emulator.clock)
    )


def settings(emulator: Emulator) -> BatchSettings:
    """The batch timing knobs and clock of ``emulator`` (``emulator.reset()`` restores them)."""
    return compat_state(emulator).settings


def list_page(items: list[dict[str, Any]], query: dict[str, str], default_limit: int) -> Any:
    """One OpenAI-style page of ``items`` (newest first) after ``query["after"]``; an empty
    page is ``"data": null`` as the service answers (``list-batches-empty-compatible-nosse``)."""
    limit_text = query.get("limit") or str(default_limit)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
        raise ApiError(400, "InvalidParameter", "limit should be an integer in [1, 100].")
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[: int(limit_text)]
    return {"object": "list", "data": page or None,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > len(page)}  # fmt: skip


def route(method: str, path: str, handler: Handler, kind: str) -> Route:
    """A route below ``/compatible-mode/v1``."""
    return Route(method, path, handler, kind=kind, prefix=COMPATIBLE_PREFIX)
