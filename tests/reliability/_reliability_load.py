"""The load scenario behind the README's Reliability figures (used by a test and by report.py).

Mixed calls (sync and async; streaming and not; generation, apps, embeddings, predictions)
against a loopback emulator that faults a share of responses (429 + Retry-After, 500, 503,
connection dropped before the response). Each call must either return exactly the answer the
same input got fault-free, or raise a ``DashScopeError`` after its retries.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._protocol.app_stream import accumulate_app
from dashscope_core._protocol.generation_stream import accumulate
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core.emulator import Emulator, ServerHandle, serve
from dashscope_core.emulator.predictions import settings as prediction_settings
from dashscope_core.errors import DashScopeError

__all__ = ["OPS", "Figures", "run_load"]

KEY = "sk-reliability-load"
APP_ID = "demo-rag-app"
PROMPTS = 24
"""Distinct inputs per operation: the expected answers are computed fault-free for each."""
OPS = ("gen", "gen_stream", "apps", "apps_stream", "embed", "predict")
_RETRIES: contextvars.ContextVar[list[int]] = contextvars.ContextVar("retries")


@dataclass
class Figures:
    """What a load run counted."""

    calls: int = 0
    fault_rate: float = 0.0
    faults_injected: int = 0
    succeeded: int = 0
    retried: int = 0
    """Calls that needed at least one retry (whatever their outcome)."""
    failed_typed: int = 0
    wrong: int = 0
    """Calls that returned a result different from the fault-free answer."""
    untyped: int = 0
    """Calls that raised something other than a ``DashScopeError``."""
    leaks: int = 0
    """Connections still open on the server plus tasks still pending after the run."""
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str, retried: bool, error: str | None = None) -> None:
        """Record one call."""
        with self.lock:
            self.calls += 1
            self.retried += retried
            setattr(self, outcome, getattr(self, outcome) + 1)
            if error is not None:
                self.errors[error] = self.errors.get(error, 0) + 1


def _policy() -> RetryPolicy:
    # defaults (max_retries=2) but short, non-zero backoff so the run stays fast
    return RetryPolicy(max_retries=2, backoff_base=0.01, backoff_max=0.05)


def _sleep_sync(seconds: float) -> None:
    _note_retry()
    time.sleep(seconds)


async def _sleep_async(seconds: float) -> None:
    _note_retry()
    await asyncio.sleep(seconds)


def _note_retry() -> None:
    box = _RETRIES.get(None)
    if box is not None:
        box[0] += 1


def _prompt(op: str, i: int) -> str:
    return f"reliability {op} question {i % PROMPTS}"


def _gen_args(text: str) -> dict[str, Any]:
    return {"model": "qwen-plus", "messages": [{"role": "user", "content": text}],
            "result_format": "message"}  # fmt: skip


def _norm_gen(response: Any) -> Any:
    choice = response.output.choices[0]
    usage = response.usage
    return (choice.message.content, choice.finish_reason, usage.output_tokens, usage.input_tokens)


def _norm_app(response: Any) -> Any:
    out = response.output
    refs = [(r.doc_id, r.index_id) for r in out.doc_references or []]
    return (out.text, out.finish_reason, refs)


def _norm_embed(response: Any) -> Any:
    return [tuple(e.embedding) for e in response.output.embeddings]


def sync_op(client: DashScope, op: str, text: str) -> Any:
    """One call of ``op`` with input ``text``, normalised for comparison."""
    if op == "gen":
        return _norm_gen(client.generation.call(**_gen_args(text)))
    if op == "gen_stream":
        chunks = client.generation.stream(**_gen_args(text), incremental_output=True)
        return _norm_gen(accumulate(chunks))
    if op == "apps":
        return _norm_app(client.apps.call(APP_ID, text))
    if op == "apps_stream":
        return _norm_app(accumulate_app(client.apps.stream(APP_ID, text, incremental_output=True)))
    if op == "embed":
        return _norm_embed(client.embeddings.call(model="text-embedding-v3", texts=[text, "x"]))
    return client.run("emulator/hello-world", input={"text": text}, interval=0.01)


async def async_op(client: AsyncDashScope, op: str, text: str) -> Any:
    """The async twin of ``sync_op``."""
    if op == "gen":
        return _norm_gen(await client.generation.call(**_gen_args(text)))
    if op == "gen_stream":
        stream = client.generation.stream(**_gen_args(text), incremental_output=True)
        return _norm_gen(accumulate([c async for c in stream]))
    if op == "apps":
        return _norm_app(await client.apps.call(APP_ID, text))
    if op == "apps_stream":
        stream = client.apps.stream(APP_ID, text, incremental_output=True)
        return _norm_app(accumulate_app([c async for c in stream]))
    if op == "embed":
        return _norm_embed(
            await client.embeddings.call(model="text-embedding-v3", texts=[text, "x"])
        )
    return await client.run("emulator/hello-world", input={"text": text}, interval=0.01)


def _judge(figures: Figures, expected: Any, call: Callable[[], Any]) -> None:
    box = [0]
    _RETRIES.set(box)
    try:
        result = call()
    except DashScopeError as exc:
        figures.count("failed_typed", box[0] > 0, type(exc).__name__)
        return
    except Exception as exc:
        figures.count("untyped", box[0] > 0, f"untyped {type(exc).__name__}: {exc}")
        return
    ok = result == expected
    figures.count("succeeded" if ok else "wrong", box[0] > 0, None if ok else "wrong")


async def _ajudge(figures: Figures, expected: Any, call: Callable[[], Awaitable[Any]]) -> None:
    box = [0]
    _RETRIES.set(box)
    try:
        result = await call()
    except DashScopeError as exc:
        figures.count("failed_typed", box[0] > 0, type(exc).__name__)
        return
    except Exception as exc:
        figures.count("untyped", box[0] > 0, f"untyped {type(exc).__name__}: {exc}")
        return
    ok = result == expected
    figures.count("succeeded" if ok else "wrong", box[0] > 0, None if ok else "wrong")


def _expected(base_url: str) -> dict[tuple[str, str], Any]:
    """Every input's fault-free answer (computed before faults are switched on)."""
    with DashScope(api_key=KEY, base_url=base_url) as client:
        return {
            (op, _prompt(op, i)): sync_op(client, op, _prompt(op, i))
            for op in OPS
            for i in range(PROMPTS)
        }


def _plan(calls: int) -> list[tuple[str, str, bool]]:
    """``(op, text, is_async)`` for every call: ops round-robin, every other call async."""
    return [(OPS[i % len(OPS)], _prompt(OPS[i % len(OPS)], i // len(OPS)), i % 2 == 1)
            for i in range(calls)]  # fmt: skip


def _run_sync(base_url: str, jobs: Iterable[tuple[str, str]], expected: Any, fig: Figures) -> None:
    client = DashScope(api_key=KEY, base_url=base_url, retry_policy=_policy(), sleep=_sleep_sync)

    def one(job: tuple[str, str]) -> None:
        op, text = job
        ctx = contextvars.copy_context()
        ctx.run(_judge, fig, expected[job], lambda: sync_op(client, op, text))

    with client, ThreadPoolExecutor(8) as pool:
        list(pool.map(one, jobs))


async def _run_async(
    base_url: str, jobs: list[tuple[str, str]], expected: Any, fig: Figures
) -> int:
    """Run ``jobs`` 32 at a time; returns the tasks left pending afterwards (leaks)."""
    baseline = len(asyncio.all_tasks())
    gate = asyncio.Semaphore(32)
    client = AsyncDashScope(
        api_key=KEY, base_url=base_url, retry_policy=_policy(), sleep=_sleep_async
    )

    async def one(op: str, text: str) -> None:
        async with gate:
            await _ajudge(fig, expected[(op, text)], lambda: async_op(client, op, text))

    async with client:
        await asyncio.gather(*(one(op, text) for op, text in jobs))
    await asyncio.sleep(0.05)
    return len(asyncio.all_tasks()) - baseline


def _open_connections(handle: ServerHandle) -> int:
    assert handle.server is not None
    for _ in range(100):  # the server notices closed sockets a moment later
        if handle.server.open_connections == 0:
            return 0
        time.sleep(0.02)
    return handle.server.open_connections


def run_load(calls: int = 2000, fault_rate: float = 0.3, seed: int = 7) -> Figures:
    """Run the scenario on a fresh loopback emulator and return its figures."""
    emulator = Emulator(seed=seed)
    prediction_settings(emulator).time_scale = 0.0
    figures = Figures(fault_rate=fault_rate)
    with serve(emulator) as handle:
        expected = _expected(handle.base_url)
        emulator.faults.set_rate(fault_rate, seed=seed, retry_after=0.05)
        plan = _plan(calls)
        sync_jobs = [(op, text) for op, text, is_async in plan if not is_async]
        async_jobs = [(op, text) for op, text, is_async in plan if is_async]
        started = time.perf_counter()
        worker = threading.Thread(
            target=_run_sync, args=(handle.base_url, sync_jobs, expected, figures)
        )
        worker.start()
        pending = asyncio.run(_run_async(handle.base_url, async_jobs, expected, figures))
        worker.join()
        figures.seconds = time.perf_counter() - started
        figures.faults_injected = emulator.faults.total
        figures.leaks = max(pending, 0) + _open_connections(handle)
    return figures
