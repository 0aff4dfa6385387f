"""Image synthesis on top of async tasks (fixtures ``image-synthesis-nosse``, ``get-task-*``)."""

from __future__ import annotations

from typing import Any

from dashscope_core._protocol.polling import check_not_cancelled, check_poll_args, report
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources.tasks import TaskProgress, build_submit, parse_task
from dashscope_core.types.tasks import Task

__all__ = ["AsyncImages", "Images"]

ROUTE = "/services/aigc/text2image/image-synthesis"


def build_generate(
    model: str, prompt: str, *, negative_prompt: str | None = None, **parameters: Any
) -> RequestSpec:
    """The submit request: ``input`` {prompt, negative_prompt?}, the rest in ``parameters``."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("prompt: expected a non-empty string")
    n = parameters.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 4):
        raise ValueError(f"n: expected an integer 1..4, got {n!r}")
    size = parameters.get("size")
    if size is not None and (not isinstance(size, str) or "*" not in size):
        raise ValueError(f"size: expected 'W*H' such as '1024*1024', got {size!r}")
    inputs = {"prompt": prompt, "negative_prompt": negative_prompt}
    return build_submit(ROUTE, model=model, input=inputs, parameters=parameters)


def plan_generate(
    model: str,
    prompt: str,
    *,
    interval: float = 1.0,
    progress: TaskProgress | None = None,
    timeout: float | None = None,
    cancel: Any = None,
    **parameters: Any,
) -> tuple[RequestSpec, tuple[float, TaskProgress | None, float | None, Any]]:
    """The submit request and ``tasks.wait`` arguments of ``generate``, validated up front.

    ``parameters`` (``n``, ``size``, ``negative_prompt``, ``style``, ``seed``, ...) go to the
    request; ``interval``/``progress``/``timeout``/``cancel`` behave as in ``tasks.wait``.
    """
    check_poll_args(interval, timeout, progress, cancel)
    check_not_cancelled(cancel, f"image synthesis with {model}")
    return build_generate(model, prompt, **parameters), (interval, progress, timeout, cancel)


class Images(SyncNamespace):
    """Text-to-image synthesis (``wanx-v1`` and friends)."""

    def submit(self, model: str, prompt: str, **parameters: Any) -> Task:
        """Submit only; returns the PENDING task (wait with ``client.tasks.wait``)."""
        return parse_task(self._client._send(build_generate(model, prompt, **parameters)))

    def generate(self, model: str, prompt: str, **options: Any) -> Task:
        """Submit and wait; ``options`` as in ``plan_generate``. The task has ``output.results``."""
        spec, wait_args = plan_generate(model, prompt, **options)
        task = report(wait_args[1], parse_task(self._client._send(spec)))
        return self._client.tasks.wait(task, *wait_args)


class AsyncImages(AsyncNamespace):
    """Async twin of ``Images``."""

    async def submit(self, model: str, prompt: str, **parameters: Any) -> Task:
        """Submit only; returns the PENDING task (wait with ``client.tasks.wait``)."""
        return parse_task(await self._client._send(build_generate(model, prompt, **parameters)))

    async def generate(self, model: str, prompt: str, **options: Any) -> Task:
        """Submit and wait; ``options`` as in ``plan_generate``. The task has ``output.results``."""
        spec, wait_args = plan_generate(model, prompt, **options)
        task = report(wait_args[1], parse_task(await self._client._send(spec)))
        return await self._client.tasks.wait(task, *wait_args)
