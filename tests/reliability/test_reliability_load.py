"""Load under 30% injected faults: every call is right or fails typed; nothing leaks."""

from __future__ import annotations

import os

import pytest
from _reliability_load import Figures, run_load


def _check(figures: Figures, calls: int) -> None:
    print(
        f"\ncalls={figures.calls} faults={figures.faults_injected} "
        f"succeeded={figures.succeeded} retried={figures.retried} "
        f"failed_typed={figures.failed_typed} wrong={figures.wrong} "
        f"untyped={figures.untyped} leaks={figures.leaks} errors={figures.errors}"
    )
    assert figures.calls == calls
    assert figures.wrong == 0
    assert figures.untyped == 0, figures.errors
    assert figures.leaks == 0
    assert figures.succeeded + figures.failed_typed == calls
    # the faults really struck and the retries really rescued calls
    assert figures.faults_injected > calls * 0.2
    assert figures.retried > 0 and figures.succeeded > figures.failed_typed


def test_load_2000_mixed_calls_with_30_percent_faults() -> None:
    _check(run_load(2000, 0.3, seed=7), 2000)


@pytest.mark.slow
def test_load_large_variant() -> None:
    calls = int(os.environ.get("RELIABILITY_CALLS") or 20000)
    _check(run_load(calls, 0.3, seed=11), calls)
