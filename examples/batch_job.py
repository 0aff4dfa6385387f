"""Label a dataset through DashScope's Batch API: ``ChatDashScope.batch(..., use_batch_api=True)``.

    python examples/batch_job.py

Every review goes into one batch job (half the real-time price; the service answers within its
completion window, minutes to hours), a progress bar follows the job, and the answers come back
in input order as ``AIMessage``s, with a typed error in place of any refused request. Without
DASHSCOPE_API_KEY it runs against the embedded emulator, whose batches take seconds. Against the
real service it runs only with DASHSCOPE_BATCH_DEMO=1 (a real job can take hours).
"""

from __future__ import annotations

import os

from _backend import Backend, backend

from dashscope_core import BatchJob
from langchain_dashscope_ext import ChatDashScope

REVIEWS = [
    "The kettle boils in two minutes and looks great on the counter.",
    "Broke after a week; the lid does not close any more.",
    "Does what it says. Nothing more, nothing less.",
    "Loud, slow, and the handle gets hot. Returning it.",
    "Perfect gift, my mother loves it!",
    "Fine for the price, although the cable is short.",
]
BAR_WIDTH = 30


def progress_bar(job: BatchJob) -> None:
    """Redraw one line: ``[#########.....]  3/6 in_progress``."""
    counts = job.request_counts
    done = counts.completed + counts.failed
    filled = round(BAR_WIDTH * done / counts.total) if counts.total else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    end = "\n" if job.done else ""
    print(f"\r  [{bar}] {done}/{counts.total or len(REVIEWS)} {job.status:<12}", end=end,
          flush=True)  # fmt: skip


def run(target: Backend) -> None:
    """Submit the reviews as one job, wait with a progress bar, print the labels."""
    if not target.emulated and os.environ.get("DASHSCOPE_BATCH_DEMO") != "1":
        print("skipped: a real batch job can take hours (set DASHSCOPE_BATCH_DEMO=1 to run it)")
        return
    model = ChatDashScope(api_key=target.api_key, base_url=target.base_url, temperature=0.1)
    prompts = [f"Label this review positive, negative or neutral: {r}" for r in REVIEWS]
    interval = 0.3 if target.emulated else 30.0
    answers = model.batch(prompts, use_batch_api=True, return_exceptions=True,
                          progress=progress_bar, poll_interval=interval)  # fmt: skip
    for review, answer in zip(REVIEWS, answers, strict=True):
        shown = answer.text if not isinstance(answer, Exception) else f"error: {answer}"
        print(f"  {review[:38]:<38} -> {shown[:70]}")
    tokens = sum(a.usage_metadata["total_tokens"] for a in answers if not isinstance(a, Exception)
                 and a.usage_metadata)  # fmt: skip
    print(f"{len(answers)} answers, {tokens} tokens billed at the batch price (half)")


if __name__ == "__main__":
    with backend() as where:
        print(where.describe())
        run(where)
