"""DashScope async tasks (PROTOCOL.md "Async tasks"): submit with ``X-DashScope-Async``, poll.

``wait`` follows the same policy as predictions: SUCCEEDED returns the task; FAILED raises
``TaskFailedError`` (``code``/``message`` from ``output``); CANCELED raises ``JobCancelledError``
(a ``CancelledError``); UNKNOWN (the server's answer for an id it does not know) raises
``NotFoundError``. A deadline or cancel request calls ``POST /tasks/{id}/cancel``, which only
works while PENDING: when the server refuses, the error says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.polling import TASKS, PollJob, check_poll_args
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._drivers import poll_async, poll_sync
from dashscope_core.types.tasks import Task, TaskList, TaskOutput

__all__ = ["AsyncTasks", "Tasks"]

ASYNC_HEADER = {"X-DashScope-Async": "enable"}
TaskProgress = Callable[[Task], Any]


def build_submit(
    route: str, *, model: str, input: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> RequestSpec:
    """POST ``route`` with ``X-DashScope-Async: enable``; never replayed on 5xx."""
    if not isinstance(route, str) or not route.strip("/") or route.startswith(("http:", "https:")):
        raise ValueError(
            f"route: expected a path below the base URL such as "
            f"'/services/aigc/text2image/image-synthesis', got {route!r}"
        )
    if not isinstance(model, str) or not model:
        raise ValueError("model: expected a model name such as 'wanx-v1'")
    if not isinstance(input, Mapping):
        raise TypeError("input: expected a mapping")
    body: dict[str, Any] = {"model": model, "input": drop_none(dict(input))}
    if parameters:
        body["parameters"] = drop_none(dict(parameters))
    path = route if route.startswith("/") else f"/{route}"
    return RequestSpec("POST", path, json=body, headers=ASYNC_HEADER, replay_safe=False)


def build_get(task_id: str) -> RequestSpec:
    """GET /tasks/{id}."""
    return RequestSpec("GET", f"/tasks/{check_segment(task_id, argument='task_id')}")


def build_cancel(task_id: str) -> RequestSpec:
    """POST /tasks/{id}/cancel (only a PENDING task can be cancelled)."""
    tid = check_segment(task_id, argument="task_id")
    return RequestSpec("POST", f"/tasks/{tid}/cancel", replay_safe=False)


def build_list(page_no: int = 1, page_size: int = 10, **filters: Any) -> RequestSpec:
    """GET /tasks?page_no=&page_size= plus filters (status, model_name, start_time, ...)."""
    for name, value in (("page_no", page_no), ("page_size", page_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    if "model" in filters:
        filters["model_name"] = filters.pop("model")
    params = drop_none({"page_no": page_no, "page_size": page_size, **filters})
    return RequestSpec("GET", "/tasks", params=params)


@response_parser
def parse_task(raw: RawResponse) -> Task:
    """A Task."""
    return Task.model_validate_json(raw.content)


@response_parser
def parse_list(raw: RawResponse) -> TaskList:
    """One page of tasks."""
    return TaskList.model_validate_json(raw.content)


def _after_cancel(raw: RawResponse, previous: Task) -> Task:
    # the cancel answer carries only a request_id: the task is now CANCELED
    out = previous.output.model_copy(update={"task_status": "CANCELED"})
    return previous.model_copy(update={"output": out})


def task_id_of(task: Task | str) -> str:
    """The id of a task object or id string."""
    tid = task if isinstance(task, str) else task.output.task_id
    if not tid:
        raise ValueError("task: expected a task id or a submitted Task with output.task_id")
    return tid


def wait_job(
    task: Task | str,
    interval: float = 1.0,
    timeout: float | None = None,
    progress: TaskProgress | None = None,
) -> tuple[PollJob[Task], Task]:
    """The poll job for ``task`` and its starting state (an id starts as PENDING)."""
    check_poll_args(interval, timeout, progress)
    tid = task_id_of(task)
    start = (
        Task(output=TaskOutput(task_id=tid, task_status="PENDING"))
        if isinstance(task, str)
        else task
    )
    job = PollJob(
        TASKS,
        build_get(tid),
        build_cancel(tid),
        parse_task,
        _after_cancel,
        interval,
        timeout,
        progress,
    )
    return job, start


class Tasks(SyncNamespace):
    """Submit, inspect, cancel, list and wait for DashScope async tasks."""

    def submit(
        self,
        route: str,
        *,
        model: str,
        input: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
    ) -> Task:
        """Submit a task; answers PENDING with ``output.task_id``."""
        spec = build_submit(route, model=model, input=input, parameters=parameters)
        return parse_task(self._client._send(spec))

    def get(self, task_id: str) -> Task:
        """Fetch a task's state (UNKNOWN for ids the server does not know)."""
        return parse_task(self._client._send(build_get(task_id)))

    def cancel(self, task_id: str) -> Any:
        """Cancel a PENDING task (400 ``UnsupportedOperation`` otherwise)."""
        return self._client._send(build_cancel(task_id)).json()

    def list(self, page_no: int = 1, page_size: int = 10, **filters: Any) -> TaskList:
        """One page of tasks; filters: status, model (or model_name), start_time, end_time."""
        return parse_list(self._client._send(build_list(page_no, page_size, **filters)))

    def wait(
        self,
        task: Task | str,
        interval: float = 1.0,
        progress: TaskProgress | None = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Task:
        """Poll until the task finishes; see the module docstring for what raises."""
        return poll_sync(self._client, *wait_job(task, interval, timeout, progress), cancel)


class AsyncTasks(AsyncNamespace):
    """Async twin of ``Tasks``."""

    async def submit(
        self,
        route: str,
        *,
        model: str,
        input: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
    ) -> Task:
        """Submit a task; answers PENDING with ``output.task_id``."""
        spec = build_submit(route, model=model, input=input, parameters=parameters)
        return parse_task(await self._client._send(spec))

    async def get(self, task_id: str) -> Task:
        """Fetch a task's state (UNKNOWN for ids the server does not know)."""
        return parse_task(await self._client._send(build_get(task_id)))

    async def cancel(self, task_id: str) -> Any:
        """Cancel a PENDING task (400 ``UnsupportedOperation`` otherwise)."""
        return (await self._client._send(build_cancel(task_id))).json()

    async def list(self, page_no: int = 1, page_size: int = 10, **filters: Any) -> TaskList:
        """One page of tasks; filters: status, model (or model_name), start_time, end_time."""
        return parse_list(await self._client._send(build_list(page_no, page_size, **filters)))

    async def wait(
        self,
        task: Task | str,
        interval: float = 1.0,
        progress: TaskProgress | None = None,
        timeout: float | None = None,
        cancel: Any = None,
    ) -> Task:
        """Poll until the task finishes; task cancellation cancels server-side and re-raises."""
        job, start = wait_job(task, interval, timeout, progress)
        return await poll_async(self._client, job, start, cancel)
