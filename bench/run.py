"""Run every benchmark in one go and print the table of ratios (see bench/README.md).

    .venv/bin/python -m bench            # or: .venv/bin/python bench/run.py
    .venv/bin/python -m bench --quick    # fewer iterations (a smoke run, noisier)
    .venv/bin/python -m bench --check    # exit 1 when a target is missed

Method: the server runs in its own process (bench/server.py), so only client CPU is counted
(``time.process_time`` of this process). Each metric gets a warm-up, then several blocks whose
median is kept; blocks of different contenders are interleaved so a burst of machine load hits
every row alike.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contenders import CONTENDERS, Contender

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = 64


@dataclass
class Settings:
    """Iteration counts; ``quick`` divides them."""

    calls: int = 300
    streams: int = 20
    chunks: int = 200
    async_calls: int = 3000
    blocks: int = 5
    imports: int = 9

    def scaled(self, quick: bool) -> Settings:
        if not quick:
            return self
        return Settings(60, 5, self.chunks, 800, 3, 5)


@dataclass
class Row:
    """One contender's results (None: not supported)."""

    name: str
    cpu_call: list[float] = field(default_factory=list)
    cpu_chunk: list[float] = field(default_factory=list)
    calls_per_s: list[float] = field(default_factory=list)
    async_cpu_call: list[float] = field(default_factory=list)

    @staticmethod
    def med(values: list[float]) -> float | None:
        return statistics.median(values) if values else None


@contextmanager
def server(chunks: int, module: str = "bench.server") -> Iterator[str]:
    """Start bench/server.py (or ``module``) in a separate process; yield its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--chunks", str(chunks)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_per_op(op: Callable[[], object], n: int) -> float:
    """Client CPU seconds per call of ``op`` over ``n`` calls."""
    gc.collect()
    start = time.process_time()
    for _ in range(n):
        op()
    return (time.process_time() - start) / n


def measure_sync(contenders: list[Contender], rows: dict[str, Row], s: Settings) -> None:
    """CPU per call and per streamed chunk, blocks interleaved across contenders."""
    for c in contenders:  # warm-up: connections, caches, lazy imports
        for _ in range(20):
            getattr(c, "call", lambda: None)()
        for _ in range(3):
            getattr(c, "stream", lambda: 0)()
    for _ in range(s.blocks):
        for c in contenders:
            if hasattr(c, "call"):
                rows[c.name].cpu_call.append(cpu_per_op(c.call, s.calls))
            if hasattr(c, "stream"):
                seen = c.stream()
                if seen != s.chunks:
                    raise RuntimeError(f"{c.name}: {seen} chunks, expected {s.chunks}")
                per_stream = cpu_per_op(c.stream, s.streams)
                rows[c.name].cpu_chunk.append(per_stream / s.chunks)


async def _throughput(c: Contender, total: int) -> tuple[float, float]:
    """(calls/s, client CPU s per call) with ``CONCURRENCY`` calls in flight.

    ``CONCURRENCY`` workers each await their share of calls one after another. (Gathering all
    ``total`` calls behind a semaphore would park thousands of coroutines, and the garbage
    collector would walk them on every pass: a harness cost charged to every row alike, which
    squeezes the ratios between fast and slow rows.)
    """

    async def worker(calls: int) -> None:
        for _ in range(calls):
            await c.acall()  # type: ignore[attr-defined]

    async def run(calls_each: int) -> int:
        await asyncio.gather(*(worker(calls_each) for _ in range(CONCURRENCY)))
        return calls_each * CONCURRENCY

    await run(4)  # warm-up: open the pool
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    done = await run(max(1, total // CONCURRENCY))
    return done / (time.perf_counter() - start), (time.process_time() - cpu) / done


def measure_async(contenders: list[Contender], rows: dict[str, Row], s: Settings) -> None:
    """Calls/s with 64 in flight; each block runs every contender once on a fresh loop."""
    for _ in range(s.blocks):
        for c in contenders:
            if not hasattr(c, "acall"):
                continue

            async def block(c: Contender = c) -> tuple[float, float]:
                try:
                    return await _throughput(c, s.async_calls // c.async_divisor)
                finally:
                    await c.aclose()

            rate, cpu = asyncio.run(block())
            rows[c.name].calls_per_s.append(rate)
            rows[c.name].async_cpu_call.append(cpu)


def import_times(n: int) -> tuple[float, float]:
    """Median wall ms of ``python -c "import dashscope_core"`` and its ``-X importtime`` ms."""
    walls, inner = [], []
    for _ in range(n):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import dashscope_core"], check=True, cwd="/")
        walls.append((time.perf_counter() - start) * 1000)
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import dashscope_core"],
            check=True, cwd="/", capture_output=True, text=True,
        )  # fmt: skip
        match = re.search(r"\|\s*(\d+)\s*\|\s*dashscope_core\s*$", done.stderr, re.M)
        inner.append(int(match.group(1)) / 1000 if match else float("nan"))
    return statistics.median(walls), statistics.median(inner)


def _fmt(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


def report(rows: dict[str, Row], imports: tuple[float, float]) -> list[tuple[str, bool]]:
    """Print the table and the target checks; return (check, passed) pairs."""
    print(f"\n{'contender':<18}{'CPU/call µs':>13}{'CPU/chunk µs':>14}{'calls/s @64':>13}"
          f"{'async CPU/call µs':>19}")  # fmt: skip
    for row in rows.values():
        print(
            f"{row.name:<18}{_fmt(Row.med(row.cpu_call), 1e6, 1):>13}"
            f"{_fmt(Row.med(row.cpu_chunk), 1e6, 2):>14}{_fmt(Row.med(row.calls_per_s), 1, 0):>13}"
            f"{_fmt(Row.med(row.async_cpu_call), 1e6, 1):>19}"
        )
    core, httpx_row, aio, sdk = (
        rows.get("dashscope_core"),
        rows.get("raw httpx"),
        rows.get("raw aiohttp"),
        rows.get("dashscope SDK"),
    )
    checks: list[tuple[str, bool]] = []

    def ratio(
        label: str, mine: float | None, base: float | None, limit: float | None, le: bool = True
    ) -> None:
        if mine is None or base is None:
            return
        value = mine / base
        if limit is None:  # shown for reading, not a target
            print(f"  {label:<44}{value:6.2f}x")
            return
        ok = value <= limit if le else value >= limit
        checks.append((label, ok))
        sign = "<=" if le else ">="
        print(f"  {label:<44}{value:6.2f}x  (target {sign} {limit}x)  {'OK' if ok else 'MISSED'}")

    print("\nratios (dashscope_core vs baseline):")
    if core and httpx_row:
        ratio("CPU per non-streaming call / raw httpx", Row.med(core.cpu_call),
              Row.med(httpx_row.cpu_call), 1.3)  # fmt: skip
        ratio("CPU per streamed chunk / raw httpx", Row.med(core.cpu_chunk),
              Row.med(httpx_row.cpu_chunk), None)  # fmt: skip
    if core and aio:
        ratio("async calls/s at 64 in flight / raw aiohttp", Row.med(core.calls_per_s),
              Row.med(aio.calls_per_s), 0.3, le=False)  # fmt: skip
    if sdk and aio:
        ratio("(official SDK calls/s @64 / raw aiohttp)", Row.med(sdk.calls_per_s),
              Row.med(aio.calls_per_s), None)  # fmt: skip
    if core and sdk:
        ratio("(CPU per call: ours / official SDK)", Row.med(core.cpu_call),
              Row.med(sdk.cpu_call), None)  # fmt: skip
    if core and aio:
        # the same on CPU (raw / ours): steadier than calls/s on a busy machine
        mine, base = Row.med(core.async_cpu_call), Row.med(aio.async_cpu_call)
        if mine and base:
            print(f"  {'(async CPU per call: raw aiohttp / ours)':<44}{base / mine:6.2f}x")
    wall, inner = imports
    ok = wall < 120
    checks.append(("import", ok))
    label = 'python -c "import dashscope_core" (wall)'
    print(f"  {label:<44}{wall:6.1f} ms (target < 120 ms)  {'OK' if ok else 'MISSED'}"
          f"   [-X importtime: {inner:.1f} ms]")  # fmt: skip
    return checks


def main(argv: list[str] | None = None) -> int:
    """Run all benchmarks; with ``--check`` exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--chunks", type=int, default=200, help="SSE chunks per stream")
    parser.add_argument(
        "--frameworks", action="store_true", help="then the framework rows (bench/frameworks.py)"
    )
    args = parser.parse_args(argv)
    settings = Settings(chunks=args.chunks).scaled(args.quick)
    began = time.perf_counter()
    with server(settings.chunks) as base_url:
        contenders: list[Contender] = []
        for cls in CONTENDERS:
            try:
                contenders.append(cls(base_url))
            except ImportError as exc:
                print(f"skipping {cls.name}: {exc}", file=sys.stderr)
        rows = {c.name: Row(c.name) for c in contenders}
        try:
            measure_sync(contenders, rows, settings)
            measure_async(contenders, rows, settings)
        finally:
            for c in contenders:
                c.close()
    imports = import_times(settings.imports)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, chunks/stream "
          f"{settings.chunks}, {time.perf_counter() - began:.0f} s")  # fmt: skip
    checks = report(rows, imports)
    failed = args.check and not all(ok for _, ok in checks)
    if args.frameworks:
        from bench import frameworks

        print()
        rest = ["--quick"] * args.quick + ["--check"] * args.check
        failed = bool(frameworks.main(rest)) or failed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
