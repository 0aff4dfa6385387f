"""``ChatDashScope.batch(..., use_batch_api=True)``: LangChain inputs as one DashScope batch job.

Each input becomes the chat-completions body core's ``chat_completion_body`` builds from the
same request a real-time call would send (``ChatDashScope._request``); each result comes back
through ``ChatCompletion.to_generation_response()`` and the real-time converter, so messages,
tool calls and ``usage_metadata`` look exactly like ``invoke``'s. Runs are traced like
``batch()``'s: one chat-model run per input, started before the job is submitted and ended with
its result or error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import get_config_list

from dashscope_core import BatchJob, BatchResult, ChatCompletion, chat_completion_body
from langchain_dashscope_ext import _convert

if TYPE_CHECKING:
    from langchain_dashscope_ext.chat_models import ChatDashScope

__all__ = [
    "aend_runs",
    "astart_runs",
    "end_runs",
    "finish",
    "job_of",
    "outcomes",
    "request_bodies",
    "start_runs",
    "wait_options",
]

Outcome = AIMessage | Exception


def _seconds(value: Any, name: str, positive: bool) -> None:
    if value is None:
        return
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or not (value > 0 if positive else value >= 0):
        raise ValueError(f"{name}: expected seconds {'> 0' if positive else '>= 0'}, got {value!r}")


def wait_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The job's own options (``progress``, ``poll_interval``, ``wait_timeout``) popped from
    ``batch()``'s kwargs as ``wait``'s arguments, checked before anything is sent and named as
    the caller wrote them."""
    progress, timeout = kwargs.pop("progress", None), kwargs.pop("wait_timeout", None)
    interval = kwargs.pop("poll_interval", None)
    if progress is not None and not callable(progress):
        raise TypeError("progress: expected a callable taking the BatchJob")
    _seconds(interval, "poll_interval", positive=False)
    _seconds(timeout, "wait_timeout", positive=True)
    options = {"progress": progress, "timeout": timeout}
    return options if interval is None else {**options, "interval": interval}


def request_bodies(
    model: ChatDashScope, inputs: Sequence[Any], kwargs: dict[str, Any]
) -> list[dict[str, Any]]:
    """One chat-completions body per input, checked like a real-time call."""
    stop = kwargs.pop("stop", None)
    bodies = []
    for value in inputs:
        messages = model._convert_input(value).to_messages()
        request = model._request(messages, stop, dict(kwargs))
        bodies.append(chat_completion_body(**request))
    return bodies


def _message(result: BatchResult, default_model: str) -> Outcome:
    if result.error is not None:
        return result.error
    completion = result.response
    if not isinstance(completion, ChatCompletion):
        return TypeError(f"request {result.custom_id!r}: not a chat completion")
    native = completion.to_generation_response(result.request_id)
    chat = _convert.from_wire_response(native, completion.model or default_model)
    message = chat.generations[0].message
    return message if isinstance(message, AIMessage) else AIMessage(content=message.content)


def outcomes(results: Sequence[BatchResult], model: str) -> list[Outcome]:
    """Messages (or the request's typed error) in input order."""
    return [_message(result, model) for result in results]


def _configure(model: ChatDashScope, config: RunnableConfig) -> dict[str, Any]:
    """``CallbackManager.configure``'s arguments for one input (as ``invoke`` sets them up)."""
    return {"inheritable_callbacks": config.get("callbacks"), "local_callbacks": model.callbacks,
            "verbose": model.verbose, "inheritable_tags": config.get("tags"),
            "local_tags": model.tags, "inheritable_metadata": config.get("metadata"),
            "local_metadata": model.metadata}  # fmt: skip


def _start_args(model: ChatDashScope, messages: list[BaseMessage], config: RunnableConfig,
                size: int) -> dict[str, Any]:  # fmt: skip
    return {"serialized": dumpd(model), "messages": [messages],
            "invocation_params": model._identifying_params,
            "name": config.get("run_name"), "run_id": config.get("run_id"),
            "batch_size": size}  # fmt: skip


def start_runs(
    model: ChatDashScope, inputs: Sequence[Any], config: Any
) -> list[CallbackManagerForLLMRun]:
    """One chat-model run per input (the callbacks ``batch()`` would call)."""
    configs = get_config_list(config, len(inputs))
    runs = []
    for value, item in zip(inputs, configs, strict=True):
        messages = model._convert_input(value).to_messages()
        manager = CallbackManager.configure(**_configure(model, item))
        runs += manager.on_chat_model_start(**_start_args(model, messages, item, len(inputs)))
    return runs


async def astart_runs(
    model: ChatDashScope, inputs: Sequence[Any], config: Any
) -> list[AsyncCallbackManagerForLLMRun]:
    """``start_runs`` for ``abatch``."""
    configs = get_config_list(config, len(inputs))
    runs = []
    for value, item in zip(inputs, configs, strict=True):
        messages = model._convert_input(value).to_messages()
        manager = AsyncCallbackManager.configure(**_configure(model, item))
        runs += await manager.on_chat_model_start(**_start_args(model, messages, item,
                                                                len(inputs)))  # fmt: skip
    return runs


def _end(outcome: Outcome | BaseException) -> tuple[str, Any]:
    if isinstance(outcome, BaseException):
        return "error", outcome
    return "end", LLMResult(generations=[[ChatGeneration(message=outcome)]])


def end_runs(runs: Sequence[CallbackManagerForLLMRun], results: Sequence[Any]) -> None:
    """End each run with its message or error."""
    for run, outcome in zip(runs, results, strict=True):
        kind, value = _end(outcome)
        run.on_llm_error(value) if kind == "error" else run.on_llm_end(value)


async def aend_runs(runs: Sequence[AsyncCallbackManagerForLLMRun], results: Sequence[Any]) -> None:
    """``end_runs`` for ``abatch``."""
    for run, outcome in zip(runs, results, strict=True):
        kind, value = _end(outcome)
        await (run.on_llm_error(value) if kind == "error" else run.on_llm_end(value))


def finish(results: list[Outcome], return_exceptions: bool) -> list[Any]:
    """``batch()``'s answer: the list, or its first error raised."""
    if not return_exceptions:
        for outcome in results:
            if isinstance(outcome, Exception):
                raise outcome
    return list(results)


def job_of(job: Any) -> BatchJob:
    """A ``BatchJob`` (or its ``to_json()`` text)."""
    return BatchJob.from_json(job) if isinstance(job, (str, bytes)) else job
