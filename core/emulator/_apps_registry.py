"""The registry of emulated Bailian apps (one per emulator; see ``apps.registry``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator.knowledge import Document, documents

__all__ = ["AppRegistry", "EmulatedApp"]


@dataclass
class EmulatedApp:
    """One app: its knowledge base (pipeline id → documents) and the model it reports."""

    app_id: str
    name: str
    pipelines: dict[str, list[Document]] = field(default_factory=dict)
    model_id: str = "qwen-plus"
    top_k: int = 3
    """Passages cited per answer at most."""


class AppRegistry:
    """Apps by id: ``register`` from Python, ``load`` from the ``--apps`` JSON format."""

    def __init__(self) -> None:
        self._apps: dict[str, EmulatedApp] = {}
        self._lock = threading.Lock()

    def register(
        self,
        app_id: str,
        *,
        name: str | None = None,
        pipelines: Mapping[str, Sequence[Mapping[str, Any] | Document]] | None = None,
        model_id: str = "qwen-plus",
        top_k: int = 3,
    ) -> EmulatedApp:
        """Add (or replace) an app; documents are dicts with ``doc_id`` and ``text`` at least."""
        if not isinstance(app_id, str) or not app_id or "/" in app_id:
            raise ValueError(f"app_id: expected a non-empty string without '/', got {app_id!r}")
        if not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k: expected a positive integer, got {top_k!r}")
        kb = {str(pid): documents(docs) for pid, docs in (pipelines or {}).items()}
        app = EmulatedApp(app_id, name or app_id, kb, model_id, top_k)
        with self._lock:
            self._apps[app_id] = app
        return app

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[str]:
        """Register apps from ``{"apps": [...]}``, a list of apps, or one app; returns ids."""
        items = data.get("apps", [data]) if isinstance(data, Mapping) else list(data)
        ids = []
        for item in items:
            if not isinstance(item, Mapping) or "app_id" not in item:
                raise ValueError(f"apps: every app needs an 'app_id', got {item!r:.80}")
            options = {k: item[k] for k in ("name", "pipelines", "model_id", "top_k") if k in item}
            ids.append(self.register(str(item["app_id"]), **options).app_id)
        return ids

    def get(self, app_id: str) -> EmulatedApp | None:
        """The app with ``app_id``, or None."""
        with self._lock:
            return self._apps.get(app_id)

    def remove(self, app_id: str) -> None:
        """Forget an app (a later call answers "App not found")."""
        with self._lock:
            self._apps.pop(app_id, None)

    def __contains__(self, app_id: object) -> bool:
        return app_id in self._apps

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._apps))

    def __len__(self) -> int:
        return len(self._apps)
