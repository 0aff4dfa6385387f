"""The Batch API's pure rules: the compatible-mode base, request lines and their ids, output
line splitting, outcomes, the job's aggregate status and its JSON form."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from dashscope_core import BatchJob, ChatCompletion, CreateEmbeddingResponse
from dashscope_core._protocol.batch import (
    CustomIds,
    JobWait,
    LineSplitter,
    batch_failure,
    check_completion_window,
    check_endpoint,
    list_time,
    outcome,
    request_line,
)
from dashscope_core._protocol.config import REGIONS, compatible_base
from dashscope_core.errors import (
    APIResponseValidationError,
    APIStatusError,
    BadRequestError,
    BatchFailedError,
    RateLimitError,
    WaitTimeoutError,
)
from dashscope_core.types.batches import Batch

CHAT = "/v1/chat/completions"
BODY = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_compatible_base_of_every_region(region: str) -> None:
    native = REGIONS[region]
    assert compatible_base(native) == native.removesuffix("/api/v1") + "/compatible-mode/v1"


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8089/api/v1", "http://127.0.0.1:8089/compatible-mode/v1"),
        ("http://127.0.0.1:8089/api/v1/", "http://127.0.0.1:8089/compatible-mode/v1"),
        ("https://gw.example/ds/api/v1", "https://gw.example/ds/compatible-mode/v1"),
        ("https://h/compatible-mode/v1", "https://h/compatible-mode/v1"),
        ("https://gw.example/dashscope", "https://gw.example/dashscope/compatible-mode/v1"),
    ],
)
def test_compatible_base_of_custom_urls(base: str, expected: str) -> None:
    assert compatible_base(base) == expected


@pytest.mark.parametrize("window", ["24h", "336h", "1d", "14d", "48h"])
def test_completion_windows_accepted(window: str) -> None:
    assert check_completion_window(window) == window


@pytest.mark.parametrize("window", ["23h", "337h", "15d", "0h", "24", "24H", 24, None, "024h"])
def test_completion_windows_refused_naming_the_argument(window: object) -> None:
    with pytest.raises(ValueError, match="completion_window"):
        check_completion_window(window)


@pytest.mark.parametrize("endpoint", ["chat/completions", "/v2/x", "", None, "/v1/a b"])
def test_bad_endpoints_name_the_argument(endpoint: object) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        check_endpoint(endpoint)


def test_list_time_writes_yyyymmddhhmmss() -> None:
    assert list_time(datetime(2026, 4, 17, 8, 5, 9), "create_after") == "20260417080509"
    assert list_time("20260417080509", "create_after") == "20260417080509"
    utc = datetime(2026, 4, 17, 0, 5, 9, tzinfo=timezone.utc)  # the service's filters: Beijing
    assert list_time(utc, "create_after") == "20260417080509"
    with pytest.raises(ValueError, match="create_before"):
        list_time("2026-04-17", "create_before")


def test_auto_ids_are_positions_and_cost_nothing() -> None:
    ids = CustomIds()
    assert [ids.add(None, f"requests[{i}]") for i in range(3)] == ["0", "1", "2"]
    assert ids.listed() is None


def test_explicit_ids_keep_input_order() -> None:
    ids = CustomIds()
    got = [ids.add(x, "r") for x in ("a", None, "c", None)]
    assert got == ["a", "1", "c", "3"]
    assert ids.listed() == ["a", "1", "c", "3"]


@pytest.mark.parametrize(
    "sequence",
    [
        ["a", "a"],
        [None, "0"],  # explicit id equal to an earlier auto id
        ["2", None, None],  # auto id equal to an earlier explicit id
    ],
)
def test_duplicate_ids_raise_naming_the_request(sequence: list[str | None]) -> None:
    ids = CustomIds()
    with pytest.raises(ValueError, match=r"requests\[\d\]: duplicate custom_id"):
        for i, value in enumerate(sequence):
            ids.add(value, f"requests[{i}]")


def test_ids_that_only_look_like_positions_are_not_duplicates() -> None:
    ids = CustomIds()
    assert [ids.add(x, "r") for x in (None, "00", "1", "٣")] == ["0", "00", "1", "٣"]


def test_request_line_of_a_bare_body() -> None:
    ids = CustomIds()
    model, line = request_line({**BODY, "temperature": None}, 0, CHAT, ids)
    assert model == "qwen-plus"
    assert line.endswith(b"\n")
    assert json.loads(line) == {"custom_id": "0", "method": "POST", "url": CHAT, "body": BODY}


def test_request_line_of_a_wrapper() -> None:
    ids = CustomIds()
    item = {"custom_id": "q-7", "method": "POST", "url": CHAT, "body": BODY}
    _, line = request_line(item, 0, CHAT, ids)
    assert json.loads(line)["custom_id"] == "q-7"
    _, line = request_line({"body": BODY}, 1, CHAT, ids)
    assert json.loads(line)["custom_id"] == "1"


@pytest.mark.parametrize(
    ("item", "error", "match"),
    [
        ("text", TypeError, r"requests\[0\]: expected a request body dict"),
        ({"messages": []}, ValueError, r"requests\[0\]\.model"),
        ({"model": "qwen-plus"}, ValueError, r"requests\[0\]\.messages"),
        ({"custom_id": "x"}, TypeError, r"requests\[0\]\.body"),
        ({"custom_id": 3, "body": BODY}, TypeError, r"requests\[0\]\.custom_id"),
        ({"url": "/v1/embeddings", "body": BODY}, ValueError, r"requests\[0\]: method/url"),
    ],
)
def test_bad_requests_name_their_position(item: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        request_line(item, 0, CHAT, CustomIds())


def test_embedding_lines_need_input() -> None:
    with pytest.raises(ValueError, match=r"requests\[0\]\.input"):
        request_line({"model": "text-embedding-v4", "input": []}, 0, "/v1/embeddings", CustomIds())


DATA = b'\xef\xbb\xbf{"custom_id":"1"}\r\n\n{"custom_id":"\xe4\xbd\xa0"}\n{"custom_id":"3"}'
LINES = [b'{"custom_id":"1"}', b'{"custom_id":"\xe4\xbd\xa0"}', b'{"custom_id":"3"}']


def _split(chunks: list[bytes]) -> list[bytes]:
    splitter = LineSplitter()
    out = [line for chunk in chunks for line in splitter.feed(chunk)]
    return out + splitter.close()


def test_line_splitter_whole_bytewise_and_at_every_offset() -> None:
    assert _split([DATA]) == LINES
    assert _split([DATA[i : i + 1] for i in range(len(DATA))]) == LINES
    for cut in range(len(DATA) + 1):
        assert _split([DATA[:cut], DATA[cut:]]) == LINES


def _line(**fields: object) -> bytes:
    return json.dumps({"id": "r", "custom_id": "1", **fields}).encode()


def test_outcome_of_a_chat_answer() -> None:
    body = {"id": "chatcmpl-1", "object": "chat.completion", "model": "qwen-plus",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hello"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip
    line = _line(response={"status_code": 200, "request_id": "r1", "body": body}, error=None)
    result = outcome(0, "1", line, CHAT, "completed")
    assert result.ok and result.error is None
    assert isinstance(result.response, ChatCompletion)
    assert result.response.text == "hello"
    native = result.response.to_generation_response()
    assert native.text == "hello" and native.usage.input_tokens == 3
    assert native.request_id == "chatcmpl-1"


def test_outcome_of_an_embeddings_answer_in_base64() -> None:
    body = {"data": [{"index": 1, "embedding": "AACAPwAAAEA="}, {"index": 0, "embedding": [0.5]}]}
    line = _line(response={"status_code": 200, "body": body})
    result = outcome(0, "1", line, "/v1/embeddings", "completed")
    assert isinstance(result.response, CreateEmbeddingResponse)
    assert result.response.embeddings == [[0.5], [1.0, 2.0]]


def test_outcome_of_an_error_line() -> None:
    refusal = {"error": {"code": "invalid_parameter_error", "message": "bad temperature"}}
    line = _line(
        response={"status_code": 400, "request_id": "r9", "body": refusal},
        error={"code": "invalid_parameter_error", "message": "bad temperature"},
    )
    result = outcome(4, "1", line, CHAT, "completed")
    assert result.response is None and not result.ok
    assert isinstance(result.error, BadRequestError)
    assert (result.error.code, result.error.request_id) == ("invalid_parameter_error", "r9")
    assert "bad temperature" in str(result.error)


def test_outcome_of_a_failed_status_without_error_field() -> None:
    refusal = {"error": {"code": "limit_requests", "message": "slow down"}, "request_id": "r2"}
    result = outcome(0, "1", _line(response={"status_code": 429, "body": refusal}), CHAT, "x")
    assert isinstance(result.error, RateLimitError)
    assert (result.error.code, result.error.request_id) == ("limit_requests", "r2")


def test_outcome_of_an_error_without_response() -> None:
    line = _line(response=None, error={"code": "batch_expired", "message": "too late"})
    result = outcome(0, "1", line, CHAT, "expired")
    assert isinstance(result.error, APIStatusError) and result.error.code == "batch_expired"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("expired", "batch_expired"),
        ("cancelled", "batch_cancelled"),
        ("completed", "missing_result"),
    ],
)
def test_a_request_without_a_line_gets_an_error_saying_why(status: str, code: str) -> None:
    result = outcome(2, "c", None, CHAT, status)
    assert (result.index, result.custom_id, result.response) == (2, "c", None)
    assert result.error is not None and result.error.code == code


def test_a_body_that_is_not_the_promised_shape_is_a_typed_error() -> None:
    line = _line(response={"status_code": 200, "body": {"choices": "nope"}})
    result = outcome(0, "1", line, CHAT, "completed")
    assert isinstance(result.error, APIResponseValidationError)


def test_failed_batch_error_carries_every_line_error() -> None:
    batch = Batch.model_validate({
        "id": "b1", "status": "failed",
        "errors": {"data": [{"code": "duplicate_custom_id", "message": "dup", "line": 3},
                            {"code": "mismatched_model", "message": "model", "line": 4}]},
    })  # fmt: skip
    error = batch_failure(batch)
    assert isinstance(error, BatchFailedError)
    assert error.code == "duplicate_custom_id" and len(error.errors) == 2
    assert "line 3: duplicate_custom_id" in str(error) and "line 4" in str(error)
    assert batch_failure(batch.model_copy(update={"status": "completed"})) is None


def _job(*statuses: str) -> BatchJob:
    batches = [Batch(id=f"b{i}", status=s) for i, s in enumerate(statuses)]
    return BatchJob(endpoint=CHAT, batches=batches, count=2)


@pytest.mark.parametrize(
    ("statuses", "status", "done"),
    [
        (("completed", "in_progress"), "in_progress", False),
        (("validating", "finalizing"), "validating", False),
        (("completed", "completed"), "completed", True),
        (("completed", "expired"), "expired", True),
        (("cancelled", "failed"), "failed", True),
        (("completed", "queued"), "queued", False),
    ],
)
def test_job_status_aggregates_its_batches(statuses: tuple[str, ...], status: str, done: bool):
    job = _job(*statuses)
    assert (job.status, job.done) == (status, done)


def test_job_json_round_trip_keeps_ids_and_order() -> None:
    job = BatchJob(endpoint=CHAT, batches=[Batch(id="b1", status="in_progress")], count=3,
                   custom_ids=["z", "1", "a"])  # fmt: skip
    again = BatchJob.from_json(job.to_json())
    assert again == job and again.ids == ["b1"] and again.custom_ids == ["z", "1", "a"]
    assert "null" not in job.to_json()


def test_wait_decisions_progress_deadline_and_failure() -> None:
    seen: list[str] = []
    waiting = JobWait(lambda job: seen.append(job.status), timeout=25, interval=10, start=100)
    assert waiting.after_poll(_job("in_progress"), now=100) == 10
    assert waiting.after_poll(_job("in_progress"), now=118) == 7  # ends on the deadline
    with pytest.raises(WaitTimeoutError) as caught:
        waiting.after_poll(_job("finalizing"), now=125)
    assert caught.value.job.status == "finalizing"
    assert waiting.after_poll(_job("completed"), now=130) is None  # done wins over the clock
    assert seen == ["in_progress", "in_progress", "finalizing", "completed"]
    failed = Batch.model_validate({"id": "b", "status": "failed", "errors": {"data": []}})
    with pytest.raises(BatchFailedError):
        JobWait(None, None, 10, 0).after_poll(BatchJob(endpoint=CHAT, batches=[failed]), 0)
    assert JobWait(None, None, 10, 0).after_poll(_job("validating"), now=10**9) == 10
