"""``AppSession`` / ``AsyncAppSession``: a conversation that keeps the app's ``session_id``.

The state (app id, defaults, current session id) and the merging of per-call overrides are
in ``SessionState``; the twins only send and remember.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dashscope_core.types.apps import AppChunk, AppResponse

if TYPE_CHECKING:
    from dashscope_core.resources.apps import Apps, AsyncApps

__all__ = ["AppSession", "AsyncAppSession", "SessionState"]


class SessionState:
    """App id, call defaults and the server-side session id of one conversation."""

    def __init__(self, app_id: str, session_id: str | None, defaults: Mapping[str, Any]) -> None:
        if "prompt" in defaults or "messages" in defaults:
            raise ValueError("defaults: prompt and messages are per call, not session defaults")
        self.app_id = app_id
        self.session_id = session_id
        self.defaults = dict(defaults)

    def kwargs(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments of the next call: defaults, then overrides, then the session id."""
        merged = {**self.defaults, **overrides}
        if merged.get("session_id") is None:
            merged["session_id"] = self.session_id
        return merged

    def remember(self, session_id: str | None) -> None:
        """Keep the session id the server answered with."""
        if session_id:
            self.session_id = session_id


class _SessionBase:
    """What both twins share: the state and its read-only view."""

    _state: SessionState

    @property
    def app_id(self) -> str:
        """The app this session talks to."""
        return self._state.app_id

    @property
    def session_id(self) -> str | None:
        """The current session id (save it to resume later); None before the first answer."""
        return self._state.session_id

    def reset(self) -> None:
        """Forget the session id: the next call starts a new conversation."""
        self._state.session_id = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(app_id={self.app_id!r}, session_id={self.session_id!r})"


class AppSession(_SessionBase):
    """A conversation with one app: each call continues the server-side session."""

    def __init__(
        self, apps: Apps, app_id: str, session_id: str | None, defaults: Mapping[str, Any]
    ) -> None:
        self._apps = apps
        self._state = SessionState(app_id, session_id, defaults)

    def call(self, prompt: str | None = None, **overrides: Any) -> AppResponse:
        """Ask the app in this session."""
        response = self._apps.call(self.app_id, prompt, **self._state.kwargs(overrides))
        self._state.remember(response.session_id)
        return response

    def stream(self, prompt: str | None = None, **overrides: Any) -> Iterator[AppChunk]:
        """Ask the app in this session and yield delta chunks."""
        chunks = self._apps.stream(self.app_id, prompt, **self._state.kwargs(overrides))
        return _remembering(chunks, self._state)


class AsyncAppSession(_SessionBase):
    """A conversation with one app: each call continues the server-side session (async)."""

    def __init__(
        self, apps: AsyncApps, app_id: str, session_id: str | None, defaults: Mapping[str, Any]
    ) -> None:
        self._apps = apps
        self._state = SessionState(app_id, session_id, defaults)

    async def call(self, prompt: str | None = None, **overrides: Any) -> AppResponse:
        """Ask the app in this session."""
        response = await self._apps.call(self.app_id, prompt, **self._state.kwargs(overrides))
        self._state.remember(response.session_id)
        return response

    def stream(self, prompt: str | None = None, **overrides: Any) -> AsyncIterator[AppChunk]:
        """Ask the app in this session and yield delta chunks."""
        chunks = self._apps.stream(self.app_id, prompt, **self._state.kwargs(overrides))
        return _aremembering(chunks, self._state)


def _remembering(chunks: Iterator[AppChunk], state: SessionState) -> Iterator[AppChunk]:
    for chunk in chunks:
        state.remember(chunk.output.session_id)
        yield chunk


async def _aremembering(
    chunks: AsyncIterator[AppChunk], state: SessionState
) -> AsyncIterator[AppChunk]:
    async for chunk in chunks:
        state.remember(chunk.output.session_id)
        yield chunk
