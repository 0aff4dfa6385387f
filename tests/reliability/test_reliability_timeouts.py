"""A stalled server raises ``APITimeoutError`` within the configured bound (plus a margin).

A correctness bound with a generous margin (a hang would take the stall's full 5 s), not a
benchmark: before the first byte (``timeout``), and between stream events (``timeout`` as the
read bound, or ``stream_idle_timeout``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from _reliability_keys import KEY

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import APITimeoutError

BOUND = 0.5
MARGIN = 1.5
STALL = 5.0
MESSAGES = [{"role": "user", "content": "hello"}]


def _consume(mode: str, url: str, stream: bool, **options: Any) -> None:
    if mode == "sync":
        with DashScope(api_key=KEY, base_url=url, max_retries=0, **options) as client:
            if stream:
                list(client.generation.stream(model="qwen-plus", messages=MESSAGES,
                                              incremental_output=True))  # fmt: skip
            else:
                client.generation.call(model="qwen-plus", messages=MESSAGES)
        return

    async def go() -> None:
        async with AsyncDashScope(api_key=KEY, base_url=url, max_retries=0, **options) as client:
            if stream:
                gen = client.generation.stream(model="qwen-plus", messages=MESSAGES,
                                               incremental_output=True)  # fmt: skip
                [chunk async for chunk in gen]
            else:
                await client.generation.call(model="qwen-plus", messages=MESSAGES)

    asyncio.run(go())


def _elapsed_raising(mode: str, url: str, stream: bool, **options: Any) -> float:
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        _consume(mode, url, stream, **options)
    return time.monotonic() - started


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True])
def test_stall_before_first_byte(
    rel_server: ServerHandle, rel_emu: Emulator, mode: str, stream: bool
) -> None:
    rel_emu.faults.queue("slow_first_byte", delay=STALL, route="generation")
    assert _elapsed_raising(mode, rel_server.base_url, stream, timeout=BOUND) < BOUND + MARGIN


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "options", [{"timeout": BOUND}, {"stream_idle_timeout": BOUND}], ids=["timeout", "idle"]
)
def test_stall_between_stream_events(
    rel_server: ServerHandle, rel_emu: Emulator, mode: str, options: dict[str, float]
) -> None:
    rel_emu.faults.queue("stall", after=1, delay=STALL, route="generation")
    elapsed = _elapsed_raising(mode, rel_server.base_url, True, **options)
    assert elapsed < BOUND + MARGIN
    assert rel_emu.counters["generation"] == 1  # a half-read stream is never replayed


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_default_retries_stay_bounded(
    rel_server: ServerHandle, rel_emu: Emulator, mode: str
) -> None:
    """With max_retries=2 each of the three attempts is bounded: the whole call too."""
    rel_emu.faults.queue("slow_first_byte", delay=STALL, route="generation", times=3)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        if mode == "sync":
            with DashScope(api_key=KEY, base_url=rel_server.base_url, timeout=BOUND) as client:
                client.generation.call(model="qwen-plus", messages=MESSAGES)
        else:

            async def go() -> None:
                async with AsyncDashScope(
                    api_key=KEY, base_url=rel_server.base_url, timeout=BOUND
                ) as client:
                    await client.generation.call(model="qwen-plus", messages=MESSAGES)

            asyncio.run(go())
    backoff = (0.5 + 1.0) * 1.25  # the default policy's two backoffs at most (jitter 25%)
    assert time.monotonic() - started < 3 * BOUND + backoff + MARGIN
    assert rel_emu.counters["generation"] == 3
