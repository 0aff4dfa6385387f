"""Goodput under real rate limits (issue 14): how much of an account's limit a client turns into
answers, side by side with the official SDK and the framework integrations users have today.

    .venv/bin/python -m bench.goodput            # about two minutes; writes bench/GOODPUT.md
    .venv/bin/python -m bench.goodput --check    # exit 1 when one of ours misses a target

Each row gets a fresh emulator process enforcing ``qwen-plus`` limits (RPM, TPM, their
per-second forms and the burst guard, with the service's 429 codes; ``--latency`` per reply) and
makes the same 300 mixed calls (prompts of 20 to 400 words, every third one streamed where the
row can stream) with 64 in flight. Ours are configured with the emulator's limits
(``rate_limit=RateLimit(rpm=, tpm=)``); ChatTongyi also runs with langchain-core's
``InMemoryRateLimiter`` at the same requests per second. Counted per row:

- calls and tokens per minute as a fraction of RPM and TPM, from the emulator's own counts
  (polled every 0.25 s) over the steady window between its 10% and 90% admitted marks, and over
  the whole run (which includes ramping up from cold and the tail);
- calls that failed at the caller: an exception, or an empty answer (llama-index-llms-dashscope
  turns a 429 into an empty completion);
- 429s the emulator sent, as a share of the requests it received.

Targets for ours: at least 0.9 of the binding limit (the larger of the two fractions, steady
window), no failed call, at most 2% of requests refused. The anchors run in the bench venv
(``bench/frameworks.py`` creates it); a row whose package is missing is skipped with a note.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.contenders import API_KEY, point_sdk_at
from bench.framework_contenders import MODEL
from bench.frameworks import BENCH_PY, ROOT, ensure_bench_venv, in_bench_venv

RPM, TPM = 1800, 360_000
CALLS, IN_FLIGHT = 300, 64
RESULTS = ROOT / "bench" / "GOODPUT.md"


def prompt(i: int) -> str:
    """Call ``i``'s question: 20 to 400 words, the same in every row."""
    return " ".join(["how do rate limits shape throughput"] * (4 + (i * 37) % 77))


Call = Callable[[int], Awaitable[str]]
"""One call of a row: the answer text (empty counts as a failure)."""


def _ours_core(base_url: str) -> Call:
    from dashscope_core import AsyncDashScope, RateLimit

    client = AsyncDashScope(api_key=API_KEY, base_url=base_url, rate_limit=RateLimit(RPM, TPM))
    messages = lambda i: [{"role": "user", "content": prompt(i)}]  # noqa: E731

    async def call(i: int) -> str:
        if i % 3 == 0:
            chunks = client.generation.stream(model=MODEL, messages=messages(i))
            return "".join([c.text async for c in chunks])
        return (await client.generation.call(model=MODEL, messages=messages(i))).text

    return call


def _langchain(model: Any) -> Call:
    async def call(i: int) -> str:
        if i % 3 == 0:
            return "".join([str(c.content) async for c in model.astream(prompt(i))])
        return str((await model.ainvoke(prompt(i))).content)

    return call


def _ours_langchain(base_url: str) -> Call:
    from dashscope_core import RateLimit
    from langchain_dashscope_ext import ChatDashScope

    limit = RateLimit(RPM, TPM)
    return _langchain(
        ChatDashScope(model=MODEL, api_key=API_KEY, base_url=base_url, rate_limit=limit)
    )


def _ours_llamaindex(base_url: str) -> Call:
    from dashscope_core import RateLimit
    from llamaindex_dashscope_ext import DashScopeLLM

    llm = DashScopeLLM(
        model=MODEL, api_key=API_KEY, base_url=base_url, rate_limit=RateLimit(RPM, TPM)
    )

    async def call(i: int) -> str:
        if i % 3 == 0:
            return "".join([r.delta or "" async for r in await llm.astream_complete(prompt(i))])
        return (await llm.acomplete(prompt(i))).text

    return call


def _official_sdk(base_url: str) -> Call:
    point_sdk_at(base_url)
    from dashscope.aigc.generation import AioGeneration

    async def call(i: int) -> str:
        response = await AioGeneration.call(model=MODEL, prompt=prompt(i), api_key=API_KEY)
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.code}")
        return str(response.output.text)

    return call


def _chat_tongyi(base_url: str, limiter: bool = False) -> Call:
    point_sdk_at(base_url)
    from langchain_community.chat_models.tongyi import ChatTongyi
    from langchain_core.rate_limiters import InMemoryRateLimiter

    rate_limiter = InMemoryRateLimiter(requests_per_second=RPM / 60) if limiter else None
    return _langchain(ChatTongyi(model=MODEL, api_key=API_KEY, rate_limiter=rate_limiter))  # type: ignore[call-arg]


def _li_llms_dashscope(base_url: str) -> Call:
    point_sdk_at(base_url)
    from llama_index.llms.dashscope import DashScope

    llm = DashScope(model_name=MODEL, api_key=API_KEY)

    async def call(i: int) -> str:
        return str((await llm.acomplete(prompt(i))).text)

    return call


ROWS: list[tuple[str, Callable[[str], Call]]] = [
    ("dashscope_core (ours)", _ours_core),
    ("ChatDashScope (ours)", _ours_langchain),
    ("DashScopeLLM (ours, li)", _ours_llamaindex),
    ("dashscope SDK (AioGeneration)", _official_sdk),
    ("ChatTongyi", _chat_tongyi),
    ("ChatTongyi + InMemoryRateLimiter", lambda url: _chat_tongyi(url, limiter=True)),
    ("llama-index-llms-dashscope", _li_llms_dashscope),
]


@dataclass
class Result:
    """One row's figures."""

    name: str
    seconds: float = 0.0
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)
    samples: list[tuple[float, int, float]] = field(default_factory=list)
    """``(time, admitted, tokens)`` polled from the emulator."""
    skipped: str = ""

    def steady(self) -> tuple[float, float]:
        """Calls/RPM and tokens/TPM over the window between the 10% and 90% admitted marks."""
        total = self.samples[-1][1] if self.samples else 0
        inside = [s for s in self.samples if 0.1 * total <= s[1] <= 0.9 * total]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return self.whole()
        (t0, a0, k0), (t1, a1, k1) = inside[0], inside[-1]
        return (a1 - a0) / (t1 - t0) * 60 / RPM, (k1 - k0) / (t1 - t0) * 60 / TPM

    def whole(self) -> tuple[float, float]:
        """Calls/RPM and tokens/TPM over the whole run."""
        admitted, tokens = self.server.get("admitted", {}), self.server.get("tokens", {})
        minutes = self.seconds / 60
        return admitted.get(MODEL, 0) / minutes / RPM, tokens.get(MODEL, 0) / minutes / TPM

    def refused_share(self) -> float:
        refused = self.server.get("throttled_total", 0)
        return refused / max(1, refused + self.server.get("admitted", {}).get(MODEL, 0))


class Emulator:
    """A fresh emulator process with the limits, and a poller of its counts."""

    def __init__(self, latency: float) -> None:
        args = [sys.executable, "-m", "dashscope_core.emulator", "--port", "0", "--latency",
                str(latency), "--rate-limit", f"{MODEL}:rpm={RPM},tpm={TPM}"]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().split()[-1]
        self.samples: list[tuple[float, int, float]] = []
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, daemon=True)
        self._poller.start()

    def counts(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base_url}/emulator/rate-limits", timeout=5) as r:
            return dict(json.load(r))

    def _poll(self) -> None:
        while not self._stop.wait(0.25):
            counts = self.counts()
            admitted = counts["admitted"].get(MODEL, 0)
            self.samples.append((time.monotonic(), admitted, counts["tokens"].get(MODEL, 0.0)))

    def close(self) -> dict[str, Any]:
        self._stop.set()
        self._poller.join()
        counts = self.counts()
        self.process.terminate()
        self.process.wait()
        return counts


async def _drive(call: Call, result: Result) -> None:
    queue = list(range(CALLS))

    async def worker() -> None:
        while queue:
            i = queue.pop(0)
            try:
                if not (await call(i)).strip():
                    raise RuntimeError("empty answer")
                result.ok += 1
            except Exception as exc:
                result.failed += 1
                name = type(exc).__name__
                result.errors[name] = result.errors.get(name, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
    result.seconds = time.monotonic() - started


def run_row(name: str, make: Callable[[str], Call], latency: float) -> Result:
    """One row against its own emulator."""
    result = Result(name)
    emulator = Emulator(latency)
    try:
        call = make(emulator.base_url)
        asyncio.run(_drive(call, result))
    except ImportError as exc:
        result.skipped = f"not installed: {exc.name}"
    finally:
        result.server = emulator.close()
        result.samples = emulator.samples
    return result


def render(results: list[Result], latency: float) -> str:
    """The table, with ours checked against the targets."""
    lines = [
        f"{CALLS} calls ({CALLS // 3} streamed where possible), {IN_FLIGHT} in flight; emulator "
        f"limits {MODEL} rpm={RPM} tpm={TPM}, latency {latency} s; python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs",
        "",
        "| row | answered | calls/RPM steady | tokens/TPM steady | calls/RPM run | tokens/TPM run "
        "| failed at caller | server 429s | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.skipped:
            lines.append(f"| {r.name} | {r.skipped} | | | | | | | |")
            continue
        (sc, st), (wc, wt) = r.steady(), r.whole()
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r.errors.items()))
        failed = f"{r.failed}" + (f" ({errors})" if errors else "")
        refused = f"{r.server.get('throttled_total', 0)} ({r.refused_share():.1%})"
        figures = f"{sc:.2f} | {st:.2f} | {wc:.2f} | {wt:.2f}"
        lines.append(f"| {r.name} | {r.ok}/{CALLS} | {figures} | {failed} | {refused} "
                     f"| {r.seconds:.1f} |")  # fmt: skip
    lines += ["", "targets for ours: >= 0.9 of the binding limit (steady), 0 failed, <= 2% 429s"]
    for r in results:
        if "ours" in r.name and not r.skipped:
            ok = max(r.steady()) >= 0.9 and r.failed == 0 and r.refused_share() <= 0.02
            lines.append(f"  {r.name:<28} {'OK' if ok else 'MISSED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every row in the bench venv; ``--check``: exit 1 when one of ours misses a target."""
    parser = argparse.ArgumentParser(prog="python -m bench.goodput")
    parser.add_argument("--latency", type=float, default=0.3, help="emulator seconds per reply")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/GOODPUT.md")
    parser.add_argument("--only", default="", help="run the rows whose name contains this")
    args = parser.parse_args(argv)
    if not in_bench_venv():
        ensure_bench_venv()
        given = sys.argv[1:] if argv is None else argv
        return subprocess.call([str(BENCH_PY), "-m", "bench.goodput", *given], cwd=ROOT)
    results = []
    for name, make in ROWS:
        if args.only not in name:
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run_row(name, make, args.latency))
    text = render(results, args.latency)
    print(text)
    if not args.no_write:
        RESULTS.write_text(
            f"# Goodput under rate limits (generated by `python -m bench.goodput`)\n\n{text}\n"
        )
    missed = "MISSED" in text
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
