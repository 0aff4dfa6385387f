"""The framework bench compares a pair of rows only when both ran the same framework version.

The per-chunk ratio in issue 11 compared ChatDashScope on langchain-core 1.8.3 with a figure
from 1.7.2; the bench records what each row ran and refuses such a comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: bench

from bench.framework_contenders import versions_of
from bench.frameworks import Check, checks, framework_mismatch, render
from bench.run import Row


def _rows() -> dict[str, Row]:
    fast, slow = [1e-5] * 3, [3e-5] * 3
    return {name: Row(name, cpu_call=c, cpu_chunk=c, calls_per_s=[1.0 / c[0]])
            for name, c in (("ChatDashScope", fast), ("ChatTongyi", slow),
                            ("DashScopeLLM (li)", fast), ("li-llms-dashscope", slow))}  # fmt: skip


def test_rows_on_the_same_framework_version_are_compared() -> None:
    same = {name: {"langchain-core": "1.8.3", "llama-index-core": "0.14.25"} for name in _rows()}
    found = checks(_rows(), {}, same)
    assert found and all(c.refused is None for c in found)
    assert next(c for c in found if "stream CPU/chunk" in c.label).ok is True


@pytest.mark.parametrize(("ours", "theirs"), [("1.8.3", "1.7.2"), ("1.8.3", None)])
def test_a_pair_on_different_framework_versions_is_refused(ours: str, theirs: str | None) -> None:
    versions = {name: {"llama-index-core": "0.14.25"} for name in _rows()}
    versions["ChatDashScope"]["langchain-core"] = ours
    if theirs is not None:
        versions["ChatTongyi"]["langchain-core"] = theirs
    found = checks(_rows(), {}, versions)
    langchain = [c for c in found if c.label.startswith("LC ")]
    assert langchain and all(c.refused and c.ok is False for c in langchain)
    assert all(c.refused is None for c in found if c.label.startswith("LI "))
    text = render(_rows(), {}, found, "header", versions)
    assert "REFUSED" in text and "langchain-core 1.8.3" in text


def test_mismatch_names_both_versions() -> None:
    why = framework_mismatch({"a": {"x": "1"}, "b": {"x": "2"}}, "a", "b", "x")
    assert why == "a ran x 1, b ran x 2"
    assert Check("c", 0.4, 0.5, True, refused=why).line().endswith(f"REFUSED: {why}")


def test_a_rows_versions_are_its_class_distributions() -> None:
    from langchain_dashscope_ext import ChatDashScope

    found = versions_of(ChatDashScope(api_key="sk-test", base_url="http://127.0.0.1:9/api/v1"))
    assert "langchain-core" in found and "pydantic" in found
    assert found["dashscope-ext"]
