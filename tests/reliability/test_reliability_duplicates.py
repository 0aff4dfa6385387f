"""No duplicates: faults on create never make the server create a prediction or task twice.

A 429 (refused before the handler) is retried; a dropped connection or a 5xx may come after
the server created the run, so the client surfaces it instead of creating a second one. The
emulator's own counters (``predictions_created``, ``tasks_submitted``) are the judge.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from _reliability_keys import KEY

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator.prediction_http import after_handler_faults
from dashscope_core.emulator.predictions import CREATE_KIND
from dashscope_core.emulator.predictions import settings as prediction_settings
from dashscope_core.emulator.tasks import SUBMIT_KIND
from dashscope_core.errors import (
    APIConnectionError,
    DashScopeError,
    InternalServerError,
    RateLimitError,
)

IMAGE_ROUTE = "/services/aigc/text2image/image-synthesis"
FAST = RetryPolicy(max_retries=2, backoff_base=0.001, backoff_max=0.01)


def _create_prediction(client: Any, i: int) -> Any:
    return client.predictions.create(model="emulator/hello-world", input={"text": f"t{i}"})


def _run_prediction(client: Any, i: int) -> Any:
    return client.run("emulator/hello-world", input={"text": f"r{i}"}, interval=0.01)


def _submit_task(client: Any, i: int) -> Any:
    return client.tasks.submit(IMAGE_ROUTE, model="wanx-v1", input={"prompt": f"cat {i}"})


OPS: dict[str, tuple[Callable[[Any, int], Any], str, str]] = {
    "predictions.create": (_create_prediction, CREATE_KIND, "predictions_created"),
    "run": (_run_prediction, CREATE_KIND, "predictions_created"),
    "tasks.submit": (_submit_task, SUBMIT_KIND, "tasks_submitted"),
}


def _call_all(mode: str, url: str, op: Callable[[Any, int], Any], n: int) -> list[Any]:
    """Call ``op`` ``n`` times; each result is the value or the exception raised."""
    if mode == "sync":
        with DashScope(api_key=KEY, base_url=url, retry_policy=FAST) as client:
            return [_outcome(lambda i=i: op(client, i)) for i in range(n)]

    async def go() -> list[Any]:
        async with AsyncDashScope(api_key=KEY, base_url=url, retry_policy=FAST) as client:
            return await asyncio.gather(*(op(client, i) for i in range(n)), return_exceptions=True)

    return asyncio.run(go())


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        return exc


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", list(OPS))
def test_faults_before_create_never_duplicate(
    rel_server: ServerHandle, rel_emu: Emulator, name: str, mode: str
) -> None:
    op, route, counter = OPS[name]
    prediction_settings(rel_emu).time_scale = 0.0
    for kind in ("throttle", "drop", "server_error", "unavailable"):
        rel_emu.faults.queue(kind, route=route, retry_after=0.01, times=3)
    outcomes = _call_all(mode, rel_server.base_url, op, 16)
    ok = [o for o in outcomes if not isinstance(o, BaseException)]
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert all(isinstance(e, DashScopeError) for e in failed), failed
    assert rel_emu.counters[counter] == len(ok)
    assert ok and failed  # some survived their retries, some surfaced (typed)
    assert {type(e) for e in failed} <= {InternalServerError, APIConnectionError, RateLimitError}


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("kind", ["error_after_handler", "drop_after_handler"])
@pytest.mark.parametrize("name", list(OPS))
def test_fault_after_create_surfaces_instead_of_creating_again(
    rel_server: ServerHandle, rel_emu: Emulator, name: str, kind: str, mode: str
) -> None:
    op, route, counter = OPS[name]
    prediction_settings(rel_emu).time_scale = 0.0
    after_handler_faults(rel_emu).queue(kind, route=route)
    (outcome,) = _call_all(mode, rel_server.base_url, op, 1)
    expected = InternalServerError if kind == "error_after_handler" else APIConnectionError
    assert isinstance(outcome, expected), outcome
    assert rel_emu.counters[counter] == 1  # created once, not replayed
    assert rel_emu.counters[route] == 1
