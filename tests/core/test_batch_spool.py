"""The JSONL input files ``submit`` writes: one model per file, split at the service's limits
(50,000 lines, 500 MB), files started in input order, all removed afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from dashscope_core import Batch, BatchJob
from dashscope_core._protocol.batch import MAX_FILE_LINES
from dashscope_core.resources._batch_files import ResultSpill, Spool

CHAT = "/v1/chat/completions"


def bodies(count: int, model: str = "qwen-plus") -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {"model": model, "messages": [{"role": "user", "content": f"q{i}"}]}


def test_a_file_holds_at_most_50000_lines() -> None:
    with Spool(CHAT) as spool:
        files = spool.add_all(bodies(MAX_FILE_LINES + 1))
        assert [f.lines for f in files] == [MAX_FILE_LINES, 1]
        assert files[0].path.read_bytes().count(b"\n") == MAX_FILE_LINES
        last = json.loads(files[1].path.read_bytes())
        assert last["custom_id"] == str(MAX_FILE_LINES)
        assert files[0].size == files[0].path.stat().st_size
        directory = files[0].path.parent
    assert not directory.exists()
    assert spool.ids.listed() is None and spool.ids.count == MAX_FILE_LINES + 1


def test_files_split_before_passing_the_byte_limit() -> None:
    with Spool(CHAT, max_bytes=1000) as spool:
        files = spool.add_all(bodies(40))
        assert len(files) > 1 and all(f.size <= 1000 for f in files)
        assert sum(f.lines for f in files) == 40
        custom_ids = [json.loads(line)["custom_id"] for f in files
                      for line in f.path.read_bytes().splitlines()]  # fmt: skip
        assert custom_ids == [str(i) for i in range(40)]


def test_one_model_per_file_in_the_order_models_first_appear() -> None:
    mixed = [next(bodies(1, m)) for m in ("qwen-max", "qwen-plus", "qwen-max", "qwen-turbo")]
    with Spool(CHAT, max_lines=1) as spool:
        files = spool.add_all(mixed)
        assert [f.model for f in files] == ["qwen-max", "qwen-plus", "qwen-max", "qwen-turbo"]
    with Spool(CHAT) as spool:
        files = spool.add_all(mixed)
        assert [(f.model, f.lines) for f in files] == [("qwen-max", 2), ("qwen-plus", 1),
                                                       ("qwen-turbo", 1)]  # fmt: skip


def test_a_line_larger_than_a_file_is_refused() -> None:
    huge = {"model": "qwen-plus", "messages": [{"role": "user", "content": "x" * 2000}]}
    with Spool(CHAT, max_bytes=1000) as spool, pytest.raises(ValueError, match=r"requests\[0\]"):
        spool.add(huge)


def test_spill_reads_results_back_in_input_order() -> None:
    job = BatchJob(endpoint="/v1/x", count=3, custom_ids=["a", "b", "c"],
                   batches=[Batch(id="b1", status="expired")])  # fmt: skip
    lines = [json.dumps({"custom_id": c, "response": {"body": {"n": c}}}) for c in ("c", "a")]
    with ResultSpill(job) as spill:
        spill.feed(("\n".join(lines)[:17]).encode())
        spill.feed(("\n".join(lines)[17:]).encode())
        spill.end_file()
        results = list(spill.results())
    assert [(r.index, r.custom_id) for r in results] == [(0, "a"), (1, "b"), (2, "c")]
    assert [r.response for r in results] == [{"n": "a"}, None, {"n": "c"}]
    assert results[1].error is not None and results[1].error.code == "batch_expired"
