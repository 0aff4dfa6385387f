"""Agent tools over predictions and image synthesis: fetch a version once, run it, summarise.

The public home of what the LangChain and LlamaIndex tools are built from (they only
translate; they call these helpers and import nothing private). A tool built with
one client flavour gets the other on demand (``async_twin``/``sync_twin``: same key, endpoint,
timeout and retry policy), so ``_arun``/``acall`` are truly async and ``_run`` never blocks an
event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dashscope_core._protocol.identifiers import ModelRef, parse_identifier
from dashscope_core._protocol.openapi import ToolSpec, tool_spec, wire_input
from dashscope_core._protocol.polling import check_poll_args
from dashscope_core._protocol.tool_output import (
    DEFAULT_MAX_CHARS,
    describe_failure,
    progress_event,
    summarize,
)
from dashscope_core.resources.predictions import prefer_header
from dashscope_core.types.predictions import Model, Version
from dashscope_core.types.tasks import Task

if TYPE_CHECKING:
    from dashscope_core._client import AsyncDashScope, DashScope

__all__ = [
    "DEFAULT_MAX_CHARS",
    "EventSink",
    "ProgressRecorder",
    "RunOptions",
    "ToolResult",
    "ToolSpec",
    "afetch_tool_spec",
    "arun_images",
    "arun_prediction",
    "async_twin",
    "describe_failure",
    "fetch_tool_spec",
    "prefer_header",
    "run_images",
    "run_prediction",
    "sync_twin",
]

EventSink = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class ToolResult:
    """A finished run: the text a model sees, the whole output, and the final job state."""

    content: str
    output: Any
    job: Any = None
    """The final ``Prediction`` or ``Task``."""

    def __str__(self) -> str:
        return self.content

    def artifact(self) -> dict[str, Any]:
        """The full result for programs: ``output`` plus the job's id, status and metrics."""
        job = self.job
        if isinstance(job, Task):
            return {
                "output": self.output,
                "id": job.output.task_id,
                "status": job.output.task_status,
                "usage": job.usage,
            }
        return {
            "output": self.output,
            "id": getattr(job, "id", None),
            "status": getattr(job, "status", None),
            "metrics": getattr(job, "metrics", None),
        }


@dataclass
class ProgressRecorder:
    """A ``progress`` callback: keeps the latest job state, reports each change to ``sink``."""

    sink: EventSink | None = None
    kind: str = "prediction"
    last: Any = None
    _previous: dict[str, Any] | None = field(default=None, repr=False)

    def __call__(self, item: Any) -> None:
        self.last = item
        event = progress_event(item, self.kind)
        if event != self._previous and self.sink is not None:
            self.sink(f"{self.kind}_progress", event)
        self._previous = event


@dataclass(frozen=True)
class RunOptions:
    """How a tool waits: ``Prefer: wait`` seconds, poll interval, deadline, summary length."""

    wait: bool | int = 1
    interval: float = 0.5
    timeout: float | None = None
    max_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self) -> None:
        check_poll_args(self.interval, self.timeout, None)
        prefer_header(self.wait)
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int):
            raise TypeError(f"max_output_chars: expected an int, got {self.max_chars!r}")
        if self.max_chars < 1:
            raise ValueError(f"max_output_chars: expected >= 1, got {self.max_chars}")

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``client.run``."""
        return {"wait": self.wait, "interval": self.interval, "timeout": self.timeout}


def async_twin(client: DashScope) -> AsyncDashScope:
    """An ``AsyncDashScope`` with ``client``'s key, endpoint, timeout and retry policy."""
    from dashscope_core._client import AsyncDashScope

    return AsyncDashScope(**client._settings)


def sync_twin(client: AsyncDashScope) -> DashScope:
    """A ``DashScope`` with ``client``'s key, endpoint, timeout and retry policy."""
    from dashscope_core._client import DashScope

    return DashScope(**client._settings)


def _spec(
    ref: ModelRef, model: Model, version: Version, name: str | None, description: str | None
) -> ToolSpec:
    return tool_spec(
        ref.owner,
        ref.name,
        version.id or ref.version or "",  # a version body without "id" is the one we asked for
        version.openapi_schema,
        model_description=model.description,
        tool_name_=name,
        description=description,
    )


def _known_version(model: Model, ref: ModelRef) -> Version | None:
    latest = model.latest_version
    if latest is not None and latest.id and (ref.version is None or latest.id == ref.version):
        return latest
    if ref.version is None:
        raise ValueError(f"model: {ref} has no versions yet; pass 'owner/name:version'")
    return None


def fetch_tool_spec(
    client: DashScope, identifier: str, name: str | None = None, description: str | None = None
) -> ToolSpec:
    """GET the model (and the version, when it is not the latest) once; build its spec."""
    ref = parse_identifier(identifier, argument="model")
    model = client.models.get(ref.owner, ref.name)
    version = _known_version(model, ref)
    if version is None:
        assert ref.version is not None
        version = client.models.versions.get(ref.owner, ref.name, ref.version)
    return _spec(ref, model, version, name, description)


async def afetch_tool_spec(
    client: AsyncDashScope,
    identifier: str,
    name: str | None = None,
    description: str | None = None,
) -> ToolSpec:
    """``fetch_tool_spec`` with the async client."""
    ref = parse_identifier(identifier, argument="model")
    model = await client.models.get(ref.owner, ref.name)
    version = _known_version(model, ref)
    if version is None:
        assert ref.version is not None
        version = await client.models.versions.get(ref.owner, ref.name, ref.version)
    return _spec(ref, model, version, name, description)


def _prediction_result(
    spec: ToolSpec, output: Any, recorder: ProgressRecorder, options: RunOptions
) -> ToolResult:
    content = summarize(output, iterator=spec.iterator, max_chars=options.max_chars)
    return ToolResult(content, output, recorder.last)


def run_prediction(
    client: DashScope,
    spec: ToolSpec,
    values: Mapping[str, Any],
    options: RunOptions,
    sink: EventSink | None = None,
    cancel: Any = None,
) -> ToolResult:
    """Validate ``values`` against the spec, run the pinned version, summarise its output.

    ``cancel`` (a ``threading.Event``) set while it runs cancels the prediction server-side.
    """
    wire = wire_input(spec.args_schema, values)
    recorder = ProgressRecorder(sink)
    kwargs = options.run_kwargs()
    output = client.run(spec.identifier, wire, progress=recorder, cancel=cancel, **kwargs)
    return _prediction_result(spec, output, recorder, options)


async def arun_prediction(
    client: AsyncDashScope,
    spec: ToolSpec,
    values: Mapping[str, Any],
    options: RunOptions,
    sink: EventSink | None = None,
) -> ToolResult:
    """``run_prediction`` with the async client (task cancellation cancels server-side)."""
    wire = wire_input(spec.args_schema, values)
    recorder = ProgressRecorder(sink)
    output = await client.run(spec.identifier, wire, progress=recorder, **options.run_kwargs())
    return _prediction_result(spec, output, recorder, options)


def _image_args(values: Mapping[str, Any], options: RunOptions) -> dict[str, Any]:
    args = {k: v for k, v in values.items() if v is not None}
    return {**args, "interval": options.interval, "timeout": options.timeout}


def _image_result(task: Task, options: RunOptions) -> ToolResult:
    results = task.output.results or []
    urls = [r.url for r in results if r.url]
    failed = [f"{r.code}: {r.message}" for r in results if not r.url and (r.code or r.message)]
    content = summarize(urls, max_chars=options.max_chars)
    if failed:
        content += "\nSome images failed: " + "; ".join(failed)
    return ToolResult(content, urls, task)


def run_images(
    client: DashScope,
    model: str,
    values: Mapping[str, Any],
    options: RunOptions,
    sink: EventSink | None = None,
    cancel: Any = None,
) -> ToolResult:
    """Submit an image-synthesis task, wait for it, list the image URLs (``cancel`` as above)."""
    recorder = ProgressRecorder(sink, kind="task")
    args = _image_args(values, options)
    task = client.images.generate(model, progress=recorder, cancel=cancel, **args)
    return _image_result(task, options)


async def arun_images(
    client: AsyncDashScope,
    model: str,
    values: Mapping[str, Any],
    options: RunOptions,
    sink: EventSink | None = None,
) -> ToolResult:
    """``run_images`` with the async client."""
    recorder = ProgressRecorder(sink, kind="task")
    task = await client.images.generate(model, progress=recorder, **_image_args(values, options))
    return _image_result(task, options)
