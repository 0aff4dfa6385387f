"""The job layer against an independent stdlib server (``_replay_server``), not our emulator:
result files in any order, cut anywhere, with a BOM and CRLF; lines for unknown or repeated
requests; a submit that fails half-way; creates never replayed; uploads re-sent whole."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _replay_server import Act, Replay, json_act, pieces, replay_server

from dashscope_core import Batch, BatchJob, DashScope, RetryPolicy
from dashscope_core.errors import (
    APIResponseValidationError,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)

CHAT = "/v1/chat/completions"


@pytest.fixture
def replay() -> Iterator[Replay]:
    with replay_server() as state:
        yield state


def client(replay: Replay) -> DashScope:
    policy = RetryPolicy(backoff_base=0.001, jitter=0.0)
    return DashScope(api_key="sk-x", base_url=replay.base_url, retry_policy=policy,
                     sleep=lambda _: None)  # fmt: skip


def answer(custom_id: str, text: str) -> dict[str, Any]:
    body = {"id": f"chatcmpl-{custom_id}", "object": "chat.completion", "model": "qwen-plus",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}]}  # fmt: skip
    response = {"status_code": 200, "request_id": f"r-{custom_id}", "body": body}
    return {"id": f"r-{custom_id}", "custom_id": custom_id, "error": None, "response": response}


def refusal(custom_id: str) -> dict[str, Any]:
    error = {"code": "invalid_parameter_error", "message": "no"}
    return {"id": f"r-{custom_id}", "custom_id": custom_id, "error": error,
            "response": {"status_code": 400, "request_id": f"r-{custom_id}",
                         "body": {"error": error}}}  # fmt: skip


def file_act(lines: list[dict[str, Any]], split: int, *, bom: bool = False) -> Act:
    raw = b"\r\n".join(json.dumps(line, ensure_ascii=False).encode() for line in lines) + b"\r\n"
    return Act(200, [("content-type", "application/octet-stream")],
               pieces((b"\xef\xbb\xbf" if bom else b"") + raw, split))  # fmt: skip


def finished_job(count: int, custom_ids: list[str] | None = None, **files: str) -> BatchJob:
    batch = Batch(id="batch_1", status="completed", **files)
    return BatchJob(endpoint=CHAT, batches=[batch], count=count, custom_ids=custom_ids)


@pytest.mark.parametrize("split", [0, 1, 7, 64])
def test_results_are_joined_in_input_order_whatever_the_file_order(replay: Replay, split: int):
    ids = [f"id-{i}" for i in range(8)]
    outputs = [answer(c, f"answer {c}") for c in ids if c != "id-5"]
    random.Random(split).shuffle(outputs)
    replay.queue(file_act(outputs, split, bom=True), file_act([refusal("id-5")], split))
    job = finished_job(8, ids, output_file_id="out-1", error_file_id="err-1")
    results = list(client(replay).batches.results(job))
    assert [r.custom_id for r in results] == ids
    assert [r.response.text for r in results if r.ok] == [f"answer {c}" for c in ids if c != "id-5"]
    assert isinstance(results[5].error, BadRequestError) and results[5].error.request_id == "r-id-5"
    paths = [r["path"] for r in replay.received]
    assert paths == ["/compatible-mode/v1/files/out-1/content",
                     "/compatible-mode/v1/files/err-1/content"]  # fmt: skip


def test_a_request_without_any_line_is_reported_not_dropped(replay: Replay) -> None:
    replay.queue(file_act([answer("0", "a"), answer("2", "c")], 0))
    results = list(client(replay).batches.results(finished_job(3, output_file_id="out")))
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error.code == "missing_result"


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        ([answer("0", "a"), answer("0", "again")], "twice"),
        ([answer("0", "a"), answer("7", "stranger")], "not a request of this job"),
        ([answer("x", "not a position")], "not a request of this job"),
    ],
)
def test_lines_that_do_not_match_the_job_raise(replay: Replay, lines: list[Any], match: str):
    replay.queue(file_act(lines, 5))
    with pytest.raises(APIResponseValidationError, match=match):
        list(client(replay).batches.results(finished_job(2, output_file_id="out")))


def test_a_line_that_is_not_json_raises(replay: Replay) -> None:
    replay.queue(Act(200, [], [b'{"custom_id": "0"}\nnot json\n']))
    with pytest.raises(APIResponseValidationError, match="not JSON"):
        list(client(replay).batches.results(finished_job(2, output_file_id="out")))


def batch_json(batch_id: str, file_id: str) -> dict[str, Any]:
    return {"id": batch_id, "object": "batch", "status": "validating", "input_file_id": file_id,
            "endpoint": CHAT, "completion_window": "24h"}  # fmt: skip


def file_json(file_id: str) -> dict[str, Any]:
    return {"id": file_id, "object": "file", "purpose": "batch", "bytes": 1}


def test_a_submit_that_fails_half_way_cancels_and_deletes_what_it_made(replay: Replay) -> None:
    replay.queue(
        json_act(200, file_json("f1")),
        json_act(200, file_json("f2")),
        json_act(200, batch_json("b1", "f1")),
        json_act(400, {"error": {"code": "invalid_parameter_error", "message": "nope"}}),
        json_act(200, {**batch_json("b1", "f1"), "status": "cancelling"}),
        json_act(200, {"id": "f1", "object": "file", "deleted": True}),
        json_act(200, {"id": "f2", "object": "file", "deleted": True}),
    )
    requests = [{"model": m, "messages": [{"role": "user", "content": "x"}]}
                for m in ("qwen-plus", "qwen-max")]  # fmt: skip
    with pytest.raises(BadRequestError) as caught:
        client(replay).batches.submit(requests)
    assert caught.value.code == "invalid_parameter_error"
    calls = [(r["method"], r["path"]) for r in replay.received]
    assert calls == [
        ("POST", "/compatible-mode/v1/files"),
        ("POST", "/compatible-mode/v1/files"),
        ("POST", "/compatible-mode/v1/batches"),
        ("POST", "/compatible-mode/v1/batches"),
        ("POST", "/compatible-mode/v1/batches/b1/cancel"),
        ("DELETE", "/compatible-mode/v1/files/f1"),
        ("DELETE", "/compatible-mode/v1/files/f2"),
    ]
    created = [r["json"] for r in replay.received if r["path"].endswith("/batches")]
    assert [c["input_file_id"] for c in created] == ["f1", "f2"]


def test_a_create_is_never_replayed_on_a_server_error(replay: Replay) -> None:
    replay.queue(json_act(500, {"error": {"code": "internal_error", "message": "boom"}}))
    with pytest.raises(InternalServerError):
        client(replay).batches.create(input_file_id="f1")
    assert len(replay.received) == 1


def test_a_throttled_upload_is_sent_again_whole(replay: Replay, tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * 200_000)
    replay.queue(
        json_act(429, {"error": {"code": "limit_requests", "message": "slow"}}),
        json_act(200, file_json("f1")),
    )
    made = client(replay).files.create(path)
    assert made.id == "f1"
    first, second = (r["body"] for r in replay.received)
    assert len(first) == len(second)  # a fresh boundary, the same whole file
    assert b"x" * 200_000 in first and b"x" * 200_000 in second


def test_compatible_errors_are_typed_with_code_and_request_id(replay: Replay) -> None:
    body = {"error": {"message": "Requests rate limit exceeded", "type": "limit_requests",
                      "param": None, "code": "limit_requests"}, "request_id": "rid-9"}  # fmt: skip
    replay.queue(*[json_act(429, body)] * 3)
    with pytest.raises(RateLimitError) as caught:
        client(replay).batches.get("b1")
    error = caught.value
    assert (error.status_code, error.code, error.request_id) == (429, "limit_requests", "rid-9")
    assert "Requests rate limit exceeded" in error.message
