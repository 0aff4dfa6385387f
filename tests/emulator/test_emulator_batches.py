"""The emulator's compatible-mode files and batches over raw HTTP: the lifecycle on an injected
clock, validation errors with their line numbers, create arguments, list filters, cancel rules,
OpenAI-shaped errors, and the result lines' shape (recorded
``get-file-content-compatible-nosse``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashscope_core.emulator import Emulator, ServerHandle, batch_settings

AUTH = {"Authorization": "Bearer sk-emulator-batches"}
CHAT = "/v1/chat/completions"


class Clock:
    def __init__(self) -> None:
        self.now = 1_776_414_394.0  # 2026-04-17 16:26:34 Beijing time

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(emu: Emulator) -> Clock:
    fake = Clock()
    knobs = batch_settings(emu)
    emu.clock.source = fake
    knobs.validating, knobs.per_line, knobs.min_running, knobs.finalizing = 10, 5, 1, 20
    return fake


@pytest.fixture
def http(server: ServerHandle, clock: Clock) -> Iterator[httpx.Client]:
    base = f"{server.origin}/compatible-mode/v1"
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
        yield client


def line(custom_id: Any, body: Any = None, url: str = CHAT, **extra: Any) -> dict[str, Any]:
    body = body or {
        "model": "qwen-plus",
        "messages": [{"role": "user", "content": f"q {custom_id}"}],
    }
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body, **extra}


def upload(http: httpx.Client, content: bytes | list[dict[str, Any]], purpose: str = "batch"):
    if isinstance(content, list):
        content = b"\n".join(json.dumps(item).encode() for item in content)
    answer = http.post("/files", files={"file": ("in.jsonl", content)}, data={"purpose": purpose})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def create(http: httpx.Client, file_id: str, endpoint: str = CHAT, **extra: Any) -> httpx.Response:
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra}
    return http.post("/batches", json=body)


def test_lifecycle_timeline_counts_and_files(http: httpx.Client, clock: Clock) -> None:
    created = create(http, upload(http, [line(str(i)) for i in range(4)])).json()
    assert (created["status"], created["request_counts"]) == (
        "validating", {"total": 0, "completed": 0, "failed": 0})  # fmt: skip
    assert created["created_at"] == int(clock.now) and created["expires_at"] is None
    path = f"/batches/{created['id']}"
    clock.now += 10 + 10  # validated, then 2 of 4 lines' worth of running
    running = http.get(path).json()
    assert (
        running["status"] == "in_progress"
        and running["in_progress_at"] == created["created_at"] + 10
    )
    assert running["request_counts"] == {"total": 4, "completed": 2, "failed": 0}
    assert running["output_file_id"] is None
    clock.now += 10
    assert http.get(path).json()["status"] == "finalizing"
    clock.now += 20
    done = http.get(path).json()
    assert done["status"] == "completed" and done["request_counts"]["completed"] == 4
    assert done["completed_at"] == created["created_at"] + 50 and done["error_file_id"] is None
    output = http.get(f"/files/{done['output_file_id']}/content")
    lines = [json.loads(raw) for raw in output.content.splitlines()]
    assert [item["custom_id"] for item in lines] == ["0", "1", "2", "3"]
    first = lines[0]
    assert sorted(first) == ["custom_id", "error", "id", "response"] and first["error"] is None
    assert sorted(first["response"]) == ["body", "request_id", "status_code"]
    assert first["response"]["request_id"] == first["id"]
    body = first["response"]["body"]
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert sorted(body["usage"])[:3] == [
        "completion_tokens",
        "prompt_tokens",
        "prompt_tokens_details",
    ]
    output_file = http.get(f"/files/{done['output_file_id']}").json()
    assert output_file["purpose"] == "batch_output" and output_file["id"].startswith(
        "file-batch_output-"
    )


@pytest.mark.parametrize(
    ("content", "code", "number"),
    [
        (b"", "empty_file", 0),
        (b'{"custom_id": "1"\n', "invalid_json_line", 1),
        ([line("1"), line(None)], "missing_custom_id", 2),
        ([line("1"), line("1")], "duplicate_custom_id", 2),
        ([line("1", url="/v1/embeddings")], "invalid_url", 1),
        ([line("1", method="GET")], "invalid_url", 1),
        ([line("1", {"messages": []})], "missing_model", 1),
        ([line("1"), line("2", {"model": "qwen-max", "messages": []})], "mismatched_model", 2),
        ([line("1", {"model": "gpt-4o", "messages": []})], "model_not_found", 1),
    ],
)
def test_inputs_that_do_not_validate_fail_with_line_errors(
    http: httpx.Client, clock: Clock, content: Any, code: str, number: int
) -> None:
    created = create(http, upload(http, content)).json()
    assert created["status"] == "validating"
    clock.now += 10
    failed = http.get(f"/batches/{created['id']}").json()
    assert failed["status"] == "failed" and failed["failed_at"] == created["created_at"] + 10
    (error,) = failed["errors"]["data"]
    assert (error["code"], error["line"]) == (code, number) and error["message"]


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"completion_window": "2h"}, 400, "completion_window"),
        ({"completion_window": "15d"}, 400, "completion_window"),
        ({"endpoint": "/v1/completions"}, 400, "endpoint"),
        ({"metadata": {"n": 1}}, 400, "metadata"),
        ({"input_file_id": "file-batch-nope"}, 404, "does not exist"),
        ({"input_file_id": None}, 400, "input_file_id"),
    ],
)
def test_create_refuses_bad_arguments_at_once(
    http: httpx.Client, change: dict[str, Any], status: int, fragment: str
) -> None:
    body = {"input_file_id": upload(http, [line("1")]), "endpoint": CHAT,
            "completion_window": "24h", **change}  # fmt: skip
    answer = http.post("/batches", json=body)
    assert answer.status_code == status and fragment in answer.json()["error"]["message"]
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_a_file_of_another_purpose_is_not_a_batch_input(http: httpx.Client) -> None:
    answer = create(http, upload(http, [line("1")], purpose="file-extract"))
    assert answer.status_code == 400 and "purpose" in answer.json()["error"]["message"]


def test_expiry(http: httpx.Client, clock: Clock, emu: Emulator) -> None:
    batch_settings(emu).per_line = 10 * 3600
    created = create(http, upload(http, [line(str(i)) for i in range(4)])).json()
    clock.now += 10 + 15 * 3600  # one line ran
    path = f"/batches/{created['id']}"
    assert http.get(path).json()["request_counts"]["completed"] == 1
    clock.now += 10 * 3600
    expired = http.get(path).json()
    assert expired["status"] == "expired" and expired["expired_at"] == created["created_at"] + 86400
    assert expired["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    errors = [json.loads(x) for x in http.get(f"/files/{expired['error_file_id']}/content")
              .content.splitlines()]  # fmt: skip
    assert [(e["custom_id"], e["error"]["code"], e["response"]) for e in errors] == [
        ("2", "batch_expired", None), ("3", "batch_expired", None)]  # fmt: skip


def test_cancel_rules(http: httpx.Client, clock: Clock) -> None:
    created = create(http, upload(http, [line(str(i)) for i in range(4)])).json()
    clock.now += 10 + 10
    cancelling = http.post(f"/batches/{created['id']}/cancel").json()
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] == int(clock.now)
    again = http.post(f"/batches/{created['id']}/cancel")
    assert again.status_code == 400
    clock.now += 20
    cancelled = http.get(f"/batches/{created['id']}").json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] == int(clock.now)
    assert cancelled["request_counts"] == {"total": 4, "completed": 2, "failed": 0}
    kept = http.get(f"/files/{cancelled['output_file_id']}/content").content.splitlines()
    assert [json.loads(x)["custom_id"] for x in kept] == ["0", "1"]
    assert http.post("/batches/batch_unknown/cancel").status_code == 404


def test_refused_lines_go_to_the_error_file(http: httpx.Client, clock: Clock) -> None:
    bad = {"model": "qwen-plus", "messages": [{"role": "user", "content": "x"}], "top_p": 7}
    created = create(http, upload(http, [line("ok"), line("bad", bad)])).json()
    clock.now += 1000
    done = http.get(f"/batches/{created['id']}").json()
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    (error,) = [json.loads(x) for x in http.get(f"/files/{done['error_file_id']}/content")
                .content.splitlines()]  # fmt: skip
    assert error["custom_id"] == "bad" and error["error"]["code"] == "invalid_parameter_error"
    assert error["response"]["status_code"] == 400
    assert error["response"]["body"]["error"]["code"] == "invalid_parameter_error"


def test_embedding_and_test_endpoints(http: httpx.Client, clock: Clock) -> None:
    emb = line("e", {"model": "text-embedding-v4", "input": ["a b", "c"], "dimensions": 64},
               url="/v1/embeddings")  # fmt: skip
    test = line("t", {"model": "batch-test-model", "messages": [{"role": "user", "content": "x"}]},
                url="/v1/chat/ds-test")  # fmt: skip
    first = create(http, upload(http, [emb]), "/v1/embeddings").json()
    second = create(http, upload(http, [test]), "/v1/chat/ds-test").json()
    clock.now += 1000
    for created, check in ((first, "data"), (second, "choices")):
        done = http.get(f"/batches/{created['id']}").json()
        (out,) = http.get(f"/files/{done['output_file_id']}/content").content.splitlines()
        assert check in json.loads(out)["response"]["body"]
    body = json.loads(out)["response"]["body"]
    assert body["model"] == "batch-test-model" and body["choices"][0]["message"]["content"]


def test_list_filters_paging_and_null_data(http: httpx.Client, clock: Clock) -> None:
    assert http.get("/batches").json() == {"object": "list", "data": None, "first_id": None,
                                           "last_id": None, "has_more": False}  # fmt: skip
    file_a, file_b = upload(http, [line("1")]), upload(http, [line("1")])
    a = create(http, file_a, metadata={"ds_name": "nightly"}).json()
    clock.now += 3600
    b = create(http, file_b).json()
    clock.now += 5
    assert [x["id"] for x in http.get("/batches").json()["data"]] == [b["id"], a["id"]]
    page = http.get("/batches", params={"limit": 1}).json()
    assert page["data"][0]["id"] == b["id"] and page["has_more"] and page["last_id"] == b["id"]
    rest = http.get("/batches", params={"limit": 1, "after": page["last_id"]}).json()
    assert [x["id"] for x in rest["data"]] == [a["id"]] and not rest["has_more"]
    by_name = http.get("/batches", params={"ds_name": "nightly"}).json()["data"]
    assert [x["id"] for x in by_name] == [a["id"]]
    by_files = http.get("/batches", params={"input_file_ids": f"{file_b},other"}).json()["data"]
    assert [x["id"] for x in by_files] == [b["id"]]
    by_status = http.get("/batches", params={"status": "validating,failed"}).json()["data"]
    assert [x["id"] for x in by_status] == [b["id"]]
    # a was created at 16:26:34 Beijing time, b an hour later
    after = http.get("/batches", params={"create_after": "20260417170000"}).json()["data"]
    assert [x["id"] for x in after] == [b["id"]]
    before = http.get("/batches", params={"create_before": "20260417170000"}).json()["data"]
    assert [x["id"] for x in before] == [a["id"]]
    assert http.get("/batches", params={"create_after": "2026-04-17"}).status_code == 400
    assert http.get("/batches", params={"limit": 0}).status_code == 400


def test_files_routes_and_their_errors(http: httpx.Client, emu: Emulator) -> None:
    assert http.post("/files", data={"purpose": "batch"}).status_code == 400
    missing = http.post("/files", files={"file": ("a.jsonl", b"x")})
    assert missing.status_code == 400 and "purpose" in missing.json()["error"]["message"]
    file_id = upload(http, b"abc")
    assert http.get(f"/files/{file_id}/content").content == b"abc"
    assert http.delete(f"/files/{file_id}").json() == {"id": file_id, "object": "file",
                                                       "deleted": True}  # fmt: skip
    gone = http.get(f"/files/{file_id}")
    assert gone.status_code == 404 and gone.json()["error"]["type"] == "invalid_request_error"
    emu.reset()
    assert http.get("/files").json()["data"] is None


def test_errors_are_openai_shaped_on_compatible_routes(server: ServerHandle) -> None:
    base = f"{server.origin}/compatible-mode/v1"
    with httpx.Client(base_url=base) as http:
        unauthorized = http.get("/batches", headers={"Authorization": "Bearer sk-invalid-1"})
        assert unauthorized.status_code == 401
        error = unauthorized.json()["error"]
        assert (error["code"], error["type"], error["param"]) == (
            "invalid_api_key", "invalid_request_error", None)  # fmt: skip
        assert unauthorized.json()["request_id"] == unauthorized.headers["x-request-id"]
        unknown = http.get("/nothing-here", headers=AUTH)
        assert unknown.status_code == 404 and "error" in unknown.json()
        native = http.get(f"{server.base_url}/nothing-here", headers=AUTH)
        assert native.json()["code"] == "NotFound"  # native routes keep DashScope's shape
