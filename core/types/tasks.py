"""Wire models of DashScope async tasks (PROTOCOL.md "Async tasks", fixtures ``get-task-*``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default

__all__ = ["Task", "TaskList", "TaskOutput", "TaskResult", "TaskUsage"]


class TaskResult(WireModel):
    """One result of a finished task (image synthesis: ``{"url": ...}``)."""

    url: str | None = None
    code: str | None = None
    message: str | None = None


class TaskOutput(WireModel):
    """``output``: id, status (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED, UNKNOWN), results."""

    task_id: str | None = None
    task_status: str = "UNKNOWN"
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    results: list[TaskResult] | None = None
    url: str | None = None
    """The result file of a finished batch embedding task (``client.embeddings.batch``)."""
    task_metrics: dict[str, Any] | None = None
    code: str | None = None
    """Set on a FAILED task (PROTOCOL.md: ``code``/``message`` live inside ``output``)."""
    message: str | None = None

    _nulls = null_means_default("task_status")


class TaskUsage(WireModel):
    """``usage`` of a finished task."""

    image_count: int | None = None


class Task(WireModel):
    """A submitted or polled task: ``{"request_id", "output": {...}, "usage"?}``."""

    request_id: str | None = None
    output: TaskOutput = Field(default_factory=TaskOutput)
    usage: TaskUsage | None = None

    _nulls = null_means_default("output")

    @property
    def task_id(self) -> str | None:
        """``output.task_id``."""
        return self.output.task_id

    @property
    def status(self) -> str:
        """``output.task_status``."""
        return self.output.task_status


class TaskList(WireModel):
    """``GET /tasks``: one page of tasks (``data``) with paging counters."""

    request_id: str | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)
    total: int | None = None
    total_page: int | None = None
    page_no: int | None = None
    page_size: int | None = None

    _nulls = null_means_default("data")
