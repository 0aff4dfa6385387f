"""Memory of a large batch job in the client process (issue 14): submit, wait and read the
results of a 100,000-request job through the emulator, which runs in its own process.

    .venv/bin/python -m bench.batch_memory                 # 100,000 requests
    .venv/bin/python -m bench.batch_memory --requests 20000 --endpoint /v1/embeddings

Measured in this process only: ``tracemalloc``'s peak of Python allocations during the job, and
the growth of the resident set (``VmHWM``, the high-water mark, minus ``VmRSS`` before the job).
Requests come from a generator and results are counted, never kept, as a user streaming a
dataset through a job would write it. Target: peak growth ≤ 50 MB. Not a timed test: wall times
are printed for information.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dashscope_core import BatchJob, DashScope

TARGET_MB = 50.0


def _status_kb(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(match[1]) if match else 0


def requests(count: int, endpoint: str) -> Iterator[dict[str, Any]]:
    """``count`` request bodies, made one at a time."""
    for i in range(count):
        if endpoint == "/v1/embeddings":
            yield {"model": "text-embedding-v4", "input": [f"passage {i} about rivers"],
                   "dimensions": 64}  # fmt: skip
        else:
            yield {"model": "qwen-plus", "messages": [
                {"role": "system", "content": "You label customer reviews."},
                {"role": "user", "content": f"Review {i}: the kettle boils fast and looks nice."},
            ]}  # fmt: skip


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process: batches run at once, uploads up to 600 MB."""
    args = [sys.executable, "-m", "dashscope_core.emulator", "--port", "0",
            "--batch-time-scale", "0", "--max-body-size", str(600 * 1000 * 1000)]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    match = re.search(r"(http://\S+/api/v1)", line)
    if not match:
        process.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return process, match[1]


def run(count: int, endpoint: str) -> dict[str, float]:
    """One job; the figures of this process."""
    process, base_url = start_emulator()
    try:
        client = DashScope(api_key="sk-bench", base_url=base_url, timeout=600)
        client.files.list()  # connections, imports and parsers warmed up before measuring
        rss_before = _status_kb("VmRSS")
        tracemalloc.start()
        started = time.perf_counter()
        job = client.batches.submit(requests(count, endpoint), endpoint=endpoint)
        submitted = time.perf_counter()
        job = client.batches.wait(job, interval=0.5)
        waited = time.perf_counter()
        ok = failed = 0
        for result in client.batches.results(job):
            ok, failed = (ok + 1, failed) if result.ok else (ok, failed + 1)
        read = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = (_status_kb("VmHWM") - rss_before) / 1024
        assert isinstance(job, BatchJob) and ok + failed == count
        return {"requests": count, "batches": len(job.ids), "ok": ok, "failed": failed,
                "job_json_kb": len(job.to_json()) / 1024,
                "tracemalloc_peak_mb": peak / 1e6, "rss_growth_mb": rss_growth,
                "submit_s": submitted - started, "wait_s": waited - submitted,
                "results_s": read - waited}  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """Print the figures (``--check``: exit 1 when the target is missed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--endpoint", default="/v1/chat/completions")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    figures = run(args.requests, args.endpoint)
    for name, value in figures.items():
        print(f"{name:>20}: {value:,.1f}" if isinstance(value, float) else f"{name:>20}: {value}")
    worst = max(figures["tracemalloc_peak_mb"], figures["rss_growth_mb"])
    print(f"peak growth {worst:.1f} MB (target ≤ {TARGET_MB:.0f} MB)")
    return 1 if args.check and worst > TARGET_MB else 0


if __name__ == "__main__":
    sys.exit(main())
