"""Cancelling in-flight async calls and streams leaks nothing, and cancels runs server-side.

The server's own count of open connections is the judge for the pool (it sees a socket only
once the client really closed it), ``asyncio.all_tasks()`` for the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _reliability_keys import KEY

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle, serve
from dashscope_core.emulator.predictions import CREATE_KIND

N = 100
MESSAGES = [{"role": "user", "content": "Tell me a long story about lamps."}]


@pytest.fixture(scope="module")
def quiet_server() -> Iterator[ServerHandle]:
    """A server of its own: no other test's keep-alive connections in the count."""
    with serve(Emulator(seed=5)) as handle:
        yield handle


async def _settled_connections(handle: ServerHandle) -> int:
    assert handle.server is not None
    for _ in range(150):
        if handle.server.open_connections == 0:
            return 0
        await asyncio.sleep(0.02)
    return handle.server.open_connections


async def _wait_for(predicate: Any, what: str) -> None:
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _client(transport: str, url: str) -> AsyncDashScope:
    if transport == "httpx":
        return AsyncDashScope(api_key=KEY, base_url=url, http_client=httpx.AsyncClient())
    return AsyncDashScope(api_key=KEY, base_url=url)  # the default sender


async def _call(client: AsyncDashScope, started: list[int]) -> None:
    started.append(1)
    await client.generation.call(model="qwen-plus", messages=MESSAGES)


async def _stream(client: AsyncDashScope, started: list[int]) -> None:
    stream = client.generation.stream(model="qwen-plus", messages=MESSAGES, incremental_output=True)
    async for _ in stream:
        started.append(1)  # a first chunk arrived; waiting for the next one (it stalls)


@pytest.mark.parametrize("transport", ["default", "httpx"])
async def test_cancelling_100_calls_and_streams_leaves_nothing_open(
    quiet_server: ServerHandle, transport: str
) -> None:
    emu = quiet_server.emulator
    emu.reset()
    emu.faults.queue("slow_first_byte", delay=30, times=N // 2, route="generation")
    baseline = len(asyncio.all_tasks())
    client = _client(transport, quiet_server.base_url)
    calls: list[int] = []
    chunks: list[int] = []
    tasks = [asyncio.create_task(_call(client, calls)) for _ in range(N // 2)]
    await _wait_for(lambda: emu.counters["generation"] == N // 2, "the calls to arrive")
    emu.faults.queue("stall", after=1, delay=30, times=N // 2, route="generation")
    tasks += [asyncio.create_task(_stream(client, chunks)) for _ in range(N // 2)]
    await _wait_for(lambda: len(chunks) == N // 2, "every stream's first chunk")
    assert quiet_server.server is not None and quiet_server.server.open_connections >= N
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    # before the client is closed: no reply was complete, so no connection may be kept
    assert await _settled_connections(quiet_server) == 0
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == baseline
    # and the client still works afterwards
    emu.faults.clear()
    response = await client.generation.call(model="qwen-plus", messages=MESSAGES)
    assert response.output.text or response.output.choices
    await client.close()
    if transport == "httpx":  # an injected client is the caller's to close
        await client._transport.injected.aclose()
    assert await _settled_connections(quiet_server) == 0


@pytest.mark.parametrize(
    "wait",
    # wait=2: the create holds its answer up to 2 s (Prefer: wait=2); a run cancelled during
    # it waits for that answer, then cancels the prediction it names
    [False, 2],
)
async def test_cancelled_runs_are_cancelled_server_side(
    quiet_server: ServerHandle, wait: bool | int
) -> None:
    emu = quiet_server.emulator
    emu.reset()
    baseline = len(asyncio.all_tasks())
    async with AsyncDashScope(api_key=KEY, base_url=quiet_server.base_url) as client:
        slow = {"steps": 3, "seconds": 60}
        runs = [
            asyncio.create_task(
                client.run("emulator/slow-counter", input=slow, interval=0.05, wait=wait)
            )
            for _ in range(20)
        ]
        await _wait_for(lambda: emu.counters["predictions_created"] == 20, "20 creates")
        await asyncio.sleep(0.2)  # every run is polling (or blocked in its create) now
        for task in runs:
            task.cancel()
        results = await asyncio.gather(*runs, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results), results
    assert len(asyncio.all_tasks()) == baseline
    assert await _settled_connections(quiet_server) == 0
    assert len(emu.received(CREATE_KIND)) == 20
    with DashScope(api_key=KEY, base_url=quiet_server.base_url) as sync_client:
        page = sync_client.predictions.list()
        statuses = [p.status for p in page.results]
    assert statuses == ["canceled"] * 20


def test_no_unclosed_session_warnings_after_cancellation(
    quiet_server: ServerHandle, recwarn: pytest.WarningsRecorder
) -> None:
    async def go() -> None:
        client = AsyncDashScope(api_key=KEY, base_url=quiet_server.base_url)
        task = asyncio.create_task(client.generation.call(model="qwen-plus", messages=MESSAGES))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()

    quiet_server.emulator.reset()
    quiet_server.emulator.faults.queue("slow_first_byte", delay=5, route="generation")
    gc.collect()  # what earlier tests left for the collector must not be counted here
    recwarn.clear()
    asyncio.run(go())
    gc.collect()
    time.sleep(0.01)
    assert not [w for w in recwarn if "nclosed" in str(w.message)]
