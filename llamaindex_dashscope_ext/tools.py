"""Prediction-API models as LlamaIndex ``FunctionTool``s: ``DashScopePredictionToolSpec``.

Each tool's ``fn_schema`` is a pydantic model built from the model version's OpenAPI ``Input``
(``dashscope_core.tools``); the version is fetched once, when the tool is built,
and every call runs exactly that version. Tools have a sync ``fn`` and a truly async
``async_fn`` (``AsyncDashScope``, no threads). A call returns a ``ToolResult``: its text (what
the agent sees) summarises the output; ``raw_output.output`` keeps all of it. A failed run
raises ``PredictionToolError`` with a message an agent can act on (agents report it to the
model as the tool's answer). Setting ``cancel_event`` (a ``threading.Event``) stops a sync call
in progress and cancels its prediction server-side; async calls stop when their task is
cancelled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.tools import FunctionTool

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core import tools as runs
from dashscope_core.errors import DashScopeError
from dashscope_core.tools import DEFAULT_MAX_CHARS, ToolResult, ToolSpec, describe_failure

__all__ = ["DashScopePredictionToolSpec", "PredictionToolError", "ToolResult"]

ProgressHandler = Callable[[str, dict[str, Any]], Any]


class PredictionToolError(RuntimeError):
    """A prediction tool's run failed; the message says what the agent can do about it."""

    def __init__(self, message: str, *, cause: DashScopeError) -> None:
        super().__init__(message)
        self.cause = cause


class DashScopePredictionToolSpec:
    """Builds ``FunctionTool``s for prediction-API models (``owner/name[:version]``)."""

    def __init__(
        self,
        client: DashScope | None = None,
        models: Sequence[str] = (),
        *,
        async_client: AsyncDashScope | None = None,
        timeout: float | None = None,
        interval: float = 0.5,
        wait: bool | int = 1,
        max_output_chars: int = DEFAULT_MAX_CHARS,
        progress: ProgressHandler | None = None,
        cancel_event: threading.Event | None = None,
    ) -> None:
        if client is None and async_client is None:
            raise ValueError("client: pass a DashScope client (or async_client=)")
        if client is not None and not isinstance(client, DashScope):
            raise TypeError(f"client: expected a DashScope client, got {type(client).__name__}")
        if isinstance(models, str):
            raise TypeError("models: expected a list of 'owner/name[:version]' strings")
        if progress is not None and not callable(progress):
            raise TypeError("progress: expected a callable taking (event_name, data)")
        if cancel_event is not None and not isinstance(cancel_event, threading.Event):
            raise TypeError("cancel_event: expected a threading.Event or None")
        self.cancel_event = cancel_event
        self._client, self._async_client = client, async_client
        self.models = list(models)
        self.options = runs.RunOptions(wait, interval, timeout, max_output_chars)
        self.progress = progress

    @property
    def client(self) -> DashScope:
        """The sync client (derived from ``async_client`` when only that was given)."""
        if self._client is None:
            assert self._async_client is not None
            self._client = runs.sync_twin(self._async_client)
        return self._client

    @property
    def async_client(self) -> AsyncDashScope:
        """The async client (derived from ``client`` when only that was given)."""
        if self._async_client is None:
            self._async_client = runs.async_twin(self.client)
        return self._async_client

    def _failure(self, exc: DashScopeError, spec: ToolSpec) -> PredictionToolError:
        target = spec.identifier.split(":", 1)[0]
        return PredictionToolError(describe_failure(exc, target), cause=exc)

    def tool_from_spec(self, spec: ToolSpec) -> FunctionTool:
        """A ``FunctionTool`` running ``spec``'s pinned version."""

        def run(**kwargs: Any) -> ToolResult:
            try:
                return runs.run_prediction(
                    self.client, spec, kwargs, self.options, self.progress, self.cancel_event
                )
            except DashScopeError as exc:
                raise self._failure(exc, spec) from exc

        async def arun(**kwargs: Any) -> ToolResult:
            try:
                client = self.async_client
                return await runs.arun_prediction(client, spec, kwargs, self.options, self.progress)
            except DashScopeError as exc:
                raise self._failure(exc, spec) from exc

        return FunctionTool.from_defaults(
            fn=run, async_fn=arun, name=spec.name, description=spec.description,
            fn_schema=spec.args_schema,
        )  # fmt: skip

    def to_tool(
        self, model: str, name: str | None = None, description: str | None = None
    ) -> FunctionTool:
        """Fetch ``owner/name[:version]`` once (latest when no version) and build its tool."""
        return self.tool_from_spec(runs.fetch_tool_spec(self.client, model, name, description))

    async def ato_tool(
        self, model: str, name: str | None = None, description: str | None = None
    ) -> FunctionTool:
        """``to_tool`` with the async client."""
        spec = await runs.afetch_tool_spec(self.async_client, model, name, description)
        return self.tool_from_spec(spec)

    def to_tool_list(self, models: Sequence[str] | None = None) -> list[FunctionTool]:
        """One tool per model (default: the ``models`` given to the constructor)."""
        chosen = self.models if models is None else list(models)
        if isinstance(models, str) or not chosen:
            raise ValueError("models: expected a non-empty list of 'owner/name[:version]'")
        return [self.to_tool(model) for model in chosen]

    async def ato_tool_list(self, models: Sequence[str] | None = None) -> list[FunctionTool]:
        """``to_tool_list`` with the async client."""
        chosen = self.models if models is None else list(models)
        if isinstance(models, str) or not chosen:
            raise ValueError("models: expected a non-empty list of 'owner/name[:version]'")
        return [await self.ato_tool(model) for model in chosen]
