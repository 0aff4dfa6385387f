"""Budgets shared through a real Redis: by clients of several processes, and pickled models.

The server is the emulator enforcing the same limits the clients are given; it counts the 429s it
sends. Three processes sharing one ``RateLimit(redis_url=...)`` get none; the same processes
pacing on their own (no Redis) are throttled, which shows the server is strict enough to notice.
"""

from __future__ import annotations

import multiprocessing
import pickle
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from _ratelimit_workers import MODEL, core_calls, model_calls

from dashscope_core import RateLimit
from dashscope_core.emulator import Emulator, ServerHandle, serve

RPM = 600
CLIENT = RateLimit(rpm=RPM * 0.9)
"""At or below the account's, as the contract asks: 10% spare covers a loaded machine's delays
between a grant and its request reaching the server."""
CALLS, PROCESSES, IN_FLIGHT = 8, 3, 4


@pytest.fixture
def limited() -> Iterator[ServerHandle]:
    """An emulator enforcing RPM for ``MODEL`` (per second too, and its burst guard)."""
    emulator = Emulator()
    emulator.rate_limits.set(MODEL, rpm=RPM)
    with serve(emulator) as handle:
        yield handle


def _in_processes(handle: ServerHandle, limit: RateLimit) -> list[list[str]]:
    key = f"sk-{uuid.uuid4().hex}"  # a fresh account: a fresh budget in Redis
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        job = (handle.base_url, key, limit, CALLS, IN_FLIGHT)
        return pool.starmap(core_calls, [job] * PROCESSES)


def test_processes_sharing_a_redis_budget_are_never_throttled(
    limited: ServerHandle, redis_url: str
) -> None:
    errors = _in_processes(limited, replace(CLIENT, redis_url=redis_url))

    assert errors == [[]] * PROCESSES
    counts = limited.emulator.rate_limits.snapshot()
    assert counts["throttled_total"] == 0
    assert counts["admitted"] == {MODEL: CALLS * PROCESSES}


def test_processes_pacing_alone_overrun_the_shared_limit(limited: ServerHandle) -> None:
    _in_processes(limited, CLIENT)  # each process believes the whole budget is its own

    assert limited.emulator.rate_limits.snapshot()["throttled_total"] > 0


def test_a_pickled_chat_model_shares_its_budget_in_worker_processes(
    limited: ServerHandle, redis_url: str
) -> None:
    from langchain_dashscope_ext import ChatDashScope

    model = ChatDashScope(
        model=MODEL, api_key=f"sk-{uuid.uuid4().hex}", base_url=limited.base_url,
        rate_limit=replace(CLIENT, redis_url=redis_url), max_retries=0,
    )  # fmt: skip
    assert pickle.loads(pickle.dumps(model)).rate_limit == model.rate_limit

    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        errors = pool.starmap(model_calls, [(model, CALLS)] * PROCESSES)

    assert errors == [[]] * PROCESSES
    counts = limited.emulator.rate_limits.snapshot()
    assert counts["throttled_total"] == 0
    assert counts["admitted"] == {MODEL: CALLS * PROCESSES}
