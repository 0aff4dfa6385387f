"""Long-running model runs as LangChain tools: ``DashScopePredictionTool`` (a prediction-API
model version, argument schema from its OpenAPI ``Input``) and ``DashScopeImageSynthesisTool``
(DashScope's async image-synthesis tasks).

While a run is going, each change of state is sent as the custom callback event
``prediction_progress`` (``task_progress`` for image tasks) with ``id``, ``status`` and, when
the logs carry a tqdm bar, ``percentage``/``current``/``total``: ``astream_events`` shows them
as ``on_custom_event``. A sync run stops early when its ``threading.Event`` is set: the tool's
``cancel_event`` or, per call, ``config={"configurable": {"cancel_event": event}}``; the job is
cancelled server-side (async runs: cancel the task). Failures (a failed prediction, a rejected
request, a deadline, a cancellation) become a
``ToolException`` whose message tells the model what to do; with ``handle_tool_error=True``
(the default here) the model receives it as the tool's answer. Both tools answer
``(content, artifact)``: content is a summary (iterator output joined, file outputs as URLs,
long text cut with ``[truncated N chars]``), the artifact holds the whole output and the job's
id, status and metrics.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core import tools as runs
from dashscope_core.errors import DashScopeError
from dashscope_core.tools import DEFAULT_MAX_CHARS, ToolSpec, describe_failure, prefer_header

__all__ = ["DashScopeImageSynthesisTool", "DashScopePredictionTool"]


def _sync_sink(run_manager: CallbackManagerForToolRun | None) -> runs.EventSink | None:
    if run_manager is None:
        return None
    manager = run_manager.get_child()

    def sink(name: str, data: dict[str, Any]) -> None:
        manager.on_custom_event(name, data, run_id=run_manager.run_id)

    return sink


class _AsyncSink:
    """Sends custom events from the (synchronous) progress callback without blocking polls."""

    def __init__(self, run_manager: AsyncCallbackManagerForToolRun | None) -> None:
        self._run_manager = run_manager
        self._pending: list[asyncio.Task[Any]] = []

    def __call__(self, name: str, data: dict[str, Any]) -> None:
        rm = self._run_manager
        if rm is not None:
            coro = rm.get_child().on_custom_event(name, data, run_id=rm.run_id)
            self._pending.append(asyncio.ensure_future(coro))

    async def flush(self) -> None:
        """Wait until every event has been delivered (in order of creation)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


class _RunSettings(BaseModel):
    """Clients and waiting options shared by both tools."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    client: DashScope | None = Field(default=None, exclude=True, repr=False)
    """Sync client (``_run``); derived from ``async_client`` when only that is given."""
    async_client: AsyncDashScope | None = Field(default=None, exclude=True, repr=False)
    """Async client (``_arun``); derived from ``client`` when only that is given."""
    timeout: float | None = Field(default=None, gt=0)
    """Deadline of one run in seconds: past it the job is cancelled server-side."""
    interval: float = Field(default=0.5, ge=0)
    """Seconds between polls."""
    max_output_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=1)
    """Longer content is truncated with an explicit marker (the artifact keeps all)."""
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool | str | Callable[[ToolException], str] | None = True
    cancel_event: threading.Event | None = Field(default=None, exclude=True, repr=False)
    """Set it to cancel the sync run in progress (server-side); clear it before the next run.
    ``config["configurable"]["cancel_event"]`` gives one event per call instead."""
    _twins: dict[str, Any] = PrivateAttr(default_factory=dict)

    def _cancel(self, config: RunnableConfig | None) -> threading.Event | None:
        event = ((config or {}).get("configurable") or {}).get("cancel_event")
        if event is not None and not isinstance(event, threading.Event):
            raise TypeError("configurable.cancel_event: expected a threading.Event")
        return event or self.cancel_event

    def _twin(self, kind: str, given: Any, other: Any, derive: Callable[[Any], Any]) -> Any:
        """``given``, else a client of ``kind`` derived once from ``other``."""
        if given is not None:
            return given
        if other is None:
            raise ValueError("client: pass a DashScope client (or async_client=)")
        if kind not in self._twins:
            self._twins[kind] = derive(other)
        return self._twins[kind]

    def _sync(self) -> DashScope:
        client: DashScope = self._twin("sync", self.client, self.async_client, runs.sync_twin)
        return client

    def _async(self) -> AsyncDashScope:
        client: AsyncDashScope = self._twin(
            "async", self.async_client, self.client, runs.async_twin
        )
        return client

    def _options(self, wait: bool | int = 1) -> runs.RunOptions:
        return runs.RunOptions(wait, self.interval, self.timeout, self.max_output_chars)


def _answer(tool: BaseTool, result: runs.ToolResult) -> Any:
    if tool.response_format == "content_and_artifact":
        return result.content, result.artifact()
    return result.content


class DashScopePredictionTool(_RunSettings, BaseTool):  # type: ignore[misc]  # pydantic + BaseTool metaclasses
    """Runs one version of a prediction-API model; build it with ``from_model``."""

    name: str = "prediction"
    description: str = "Runs a model and returns its output."
    identifier: str = Field(pattern=r"^[^/:\s]+/[^/:\s]+:[A-Za-z0-9]+$")
    """``owner/name:version``: every run uses this exact version."""
    args_schema: type[BaseModel]
    """Built from the version's OpenAPI ``Input`` (``dashscope_core.tools``)."""
    iterator_output: bool = False
    """The model's output is an iterator: its pieces are joined into one text."""
    wait: bool | int = 1
    """``Prefer: wait`` seconds before polling starts (``False``: poll only)."""

    @field_validator("wait")
    @classmethod
    def _check_wait(cls, value: bool | int) -> bool | int:
        prefer_header(value)
        return value

    @classmethod
    def from_spec(cls, spec: ToolSpec, **fields: Any) -> DashScopePredictionTool:
        """A tool from an already built ``ToolSpec``."""
        return cls(
            name=spec.name,
            description=spec.description,
            identifier=spec.identifier,
            args_schema=spec.args_schema,
            iterator_output=spec.iterator,
            **fields,
        )

    @classmethod
    def from_model(
        cls,
        client: DashScope,
        model: str,
        name: str | None = None,
        description: str | None = None,
        async_client: AsyncDashScope | None = None,
        **fields: Any,
    ) -> DashScopePredictionTool:
        """Fetch ``owner/name[:version]`` (latest when no version) once and build the tool."""
        if not isinstance(client, DashScope):
            raise TypeError(f"client: expected a DashScope client, got {type(client).__name__}")
        spec = runs.fetch_tool_spec(client, model, name, description)
        return cls.from_spec(spec, client=client, async_client=async_client, **fields)

    @classmethod
    async def afrom_model(
        cls,
        async_client: AsyncDashScope,
        model: str,
        name: str | None = None,
        description: str | None = None,
        **fields: Any,
    ) -> DashScopePredictionTool:
        """``from_model`` with an ``AsyncDashScope`` (no blocking request)."""
        if not isinstance(async_client, AsyncDashScope):
            raise TypeError(
                f"async_client: expected an AsyncDashScope, got {type(async_client).__name__}"
            )
        spec = await runs.afetch_tool_spec(async_client, model, name, description)
        return cls.from_spec(spec, async_client=async_client, **fields)

    def _spec(self) -> ToolSpec:
        return ToolSpec(
            self.identifier, self.name, self.description, self.args_schema, self.iterator_output
        )

    def _failure(self, exc: DashScopeError) -> ToolException:
        return ToolException(describe_failure(exc, self.identifier.split(":", 1)[0]))

    def _run(
        self,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            result = runs.run_prediction(
                self._sync(),
                self._spec(),
                kwargs,
                self._options(self.wait),
                _sync_sink(run_manager),
                self._cancel(config),
            )
        except DashScopeError as exc:
            raise self._failure(exc) from exc
        return _answer(self, result)

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        sink = _AsyncSink(run_manager)
        try:
            result = await runs.arun_prediction(
                self._async(), self._spec(), kwargs, self._options(self.wait), sink
            )
        except DashScopeError as exc:
            raise self._failure(exc) from exc
        finally:
            await sink.flush()
        return _answer(self, result)


class ImageSynthesisInput(BaseModel):
    """Arguments of ``DashScopeImageSynthesisTool``."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, description="What the image should show")
    negative_prompt: str | None = Field(default=None, description="What it should not show")
    n: int = Field(default=1, ge=1, le=4, description="How many images to make")
    size: str | None = Field(
        default=None, pattern=r"^\d+\*\d+$", description="Width*height in pixels, e.g. 1024*1024"
    )


class DashScopeImageSynthesisTool(_RunSettings, BaseTool):  # type: ignore[misc]  # as above
    """Text-to-image through DashScope's async tasks (``client.images.generate``)."""

    name: str = "image_synthesis"
    description: str = (
        "Draws images from a text prompt and returns their URLs. Takes a few seconds."
    )
    args_schema: type[BaseModel] = ImageSynthesisInput
    model: str = Field(default="wanx-v1", min_length=1)
    """The image model, e.g. ``wanx-v1``."""
    interval: float = Field(default=1.0, ge=0)
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Extra parameters sent with every task (``style``, ``seed``, ...)."""

    def _failure(self, exc: DashScopeError) -> ToolException:
        return ToolException(describe_failure(exc, f"image model {self.model}"))

    def _run(
        self,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        values, sink = {**self.parameters, **kwargs}, _sync_sink(run_manager)
        try:
            result = runs.run_images(
                self._sync(), self.model, values, self._options(), sink, self._cancel(config)
            )
        except DashScopeError as exc:
            raise self._failure(exc) from exc
        return _answer(self, result)

    async def _arun(
        self, run_manager: AsyncCallbackManagerForToolRun | None = None, **kwargs: Any
    ) -> Any:
        sink, values = _AsyncSink(run_manager), {**self.parameters, **kwargs}
        try:
            result = await runs.arun_images(
                self._async(), self.model, values, self._options(), sink
            )
        except DashScopeError as exc:
            raise self._failure(exc) from exc
        finally:
            await sink.flush()
        return _answer(self, result)
