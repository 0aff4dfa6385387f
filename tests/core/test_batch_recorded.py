"""Every recorded ``*-compatible-nosse`` exchange (files and batches) replayed through
``httpx.MockTransport``, sync and async: the client sends the recorded request (method, URL,
query, body) and parses every recorded field."""

from __future__ import annotations

import json
from datetime import datetime
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from _recorded import RECORDED, recording_bytes

from dashscope_core import Batch, ChatCompletion, FileObject
from dashscope_core._protocol.batch import LineSplitter, outcome

BASE = "https://dashscope.aliyuncs.com/api/v1"
HOST = "https://dashscope.aliyuncs.com"
NAMES = sorted(
    p.name.removesuffix(".response.body.txt")
    for p in RECORDED.glob("*-compatible-nosse.response.body.txt")
)


def load(name: str, part: str) -> bytes:
    path = RECORDED / f"{name}.{part}"
    return recording_bytes(path.name) if path.exists() else b""


def recorded_request(name: str) -> tuple[str, str, dict[str, str]]:
    """Method, path and query of the recorded request (absolute or origin-form)."""
    method, target = load(name, "request.header.txt").decode().splitlines()[0].split()[:2]
    parts = urlsplit(target)
    return method, parts.path, dict(parse_qsl(parts.query))


class Recorder:
    """A MockTransport handler answering with the recorded response of ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        status = int(load(self.name, "response.header.txt").split()[1])
        request_id = "recorded-rid"
        return httpx.Response(status, content=load(self.name, "response.body.txt"),
                              headers={"x-request-id": request_id})  # fmt: skip


def call(name: str, client: Any) -> Any:
    """The library call that makes the recorded request."""
    if name == "create-batch-compatible-nosse":
        body = json.loads(load(name, "request.body.json"))
        return client.batches.create(**body)
    if name.startswith("get-") and "batch" in name:
        return client.batches.get(recorded_request(name)[1].rsplit("/", 1)[1])
    if name == "list-batches-empty-compatible-nosse":
        return client.batches.list(limit=2, input_file_ids=["hello"])
    if name == "get-file-content-compatible-nosse":
        return client.files.content(recorded_request(name)[1].split("/")[-2])
    if name == "delete-file-compatible-nosse":
        return client.files.delete(recorded_request(name)[1].rsplit("/", 1)[1])
    if name == "upload-file-compatible-nosse":
        return client.files.create(b"content", "file-extract", filename="test2.txt")
    raise AssertionError(f"no call for {name}")


def test_every_compatible_recording_has_a_call() -> None:
    assert len(NAMES) == 7


@pytest.mark.parametrize("name", NAMES)
def test_recorded_request_is_reproduced(name: str, hub_make: Any) -> None:
    recorder = Recorder(name)
    hub = hub_make(recorder, base_url=BASE)
    hub.run(call(name, hub.client))
    (sent,) = recorder.sent
    method, path, query = recorded_request(name)
    assert (sent.method, sent.url.path, dict(sent.url.params)) == (method, path, query)
    assert str(sent.url).startswith(HOST + "/compatible-mode/v1/")
    assert sent.headers["authorization"] == "Bearer sk-hub-secret-0123456789"
    recorded_body = load(name, "request.body.json").strip()
    if recorded_body and method == "POST" and "multipart" not in str(sent.headers):
        assert json.loads(sent.content) == json.loads(recorded_body)


def test_upload_is_the_recorded_multipart_form(hub_make: Any) -> None:
    recorder = Recorder("upload-file-compatible-nosse")
    hub = hub_make(recorder, base_url=BASE)
    made = hub.run(call("upload-file-compatible-nosse", hub.client))
    (sent,) = recorder.sent
    content_type = sent.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    form = BytesParser(policy=policy.HTTP).parsebytes(head + sent.content)
    parts = {p.get_param("name", header="content-disposition"): p for p in form.iter_parts()}
    assert sorted(parts) == ["file", "purpose"]  # the recorded field names
    assert parts["file"].get_filename() == "test2.txt"
    assert parts["file"].get_payload(decode=True) == b"content"
    assert parts["purpose"].get_payload(decode=True) == b"file-extract"
    assert made == FileObject.model_validate_json(load("upload-file-compatible-nosse",
                                                       "response.body.txt"))  # fmt: skip
    assert (made.id, made.bytes, made.purpose) == ("file-fe-5d5eb068893f4b5e8551ada4", 7,
                                                   "file-extract")  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "create-batch-compatible-nosse",
        "get-completed-batch-compatible-nosse",
        "get-inprogress-batch-compatible-nosse",
    ],
)
def test_recorded_batches_parse_every_field(name: str, hub_make: Any) -> None:
    hub = hub_make(Recorder(name), base_url=BASE)
    batch = hub.run(call(name, hub.client))
    recorded = json.loads(load(name, "response.body.txt"))
    assert isinstance(batch, Batch)
    assert batch.model_dump(exclude_unset=True) == recorded
    counts = recorded["request_counts"]
    assert (batch.request_counts.total, batch.request_counts.completed) == (
        counts["total"], counts["completed"])  # fmt: skip
    assert batch.done == (recorded["status"] == "completed")
    assert batch.metadata == recorded["metadata"]


def test_recorded_empty_list_with_data_null(hub_make: Any) -> None:
    hub = hub_make(Recorder("list-batches-empty-compatible-nosse"), base_url=BASE)
    page = hub.run(call("list-batches-empty-compatible-nosse", hub.client))
    assert (page.data, list(page), page.has_more, page.first_id, page.last_id) == (
        [], [], False, None, None)  # fmt: skip


def test_recorded_delete(hub_make: Any) -> None:
    hub = hub_make(Recorder("delete-file-compatible-nosse"), base_url=BASE)
    gone = hub.run(call("delete-file-compatible-nosse", hub.client))
    assert (gone.id, gone.object, gone.deleted) == ("file-fe-d5c0ea9110bd47afb0505f43", "file",
                                                    True)  # fmt: skip


def test_recorded_output_file_bytes_and_lines(hub_make: Any) -> None:
    name = "get-file-content-compatible-nosse"
    recorded = load(name, "response.body.txt")
    hub = hub_make(Recorder(name), base_url=BASE)
    assert hub.run(call(name, hub.client)) == recorded
    file_id = recorded_request(name)[1].split("/")[-2]
    streamed = hub.collect(hub.client.files.iter_content(file_id))
    assert b"".join(streamed) == recorded
    splitter = LineSplitter()
    lines = splitter.feed(recorded) + splitter.close()
    results = [outcome(i, str(i + 1), line, "/v1/chat/completions", "completed")
               for i, line in enumerate(lines)]  # fmt: skip
    assert [r.custom_id for r in results] == ["1", "2"] and all(r.ok for r in results)
    first = results[0].response
    assert isinstance(first, ChatCompletion)
    assert first.model == "qwen-flash" and first.choices[0].finish_reason == "stop"
    assert first.text.startswith("你好！很高兴见到你")
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (26, 49)
    assert results[1].response.usage.total_tokens == 172


def test_list_filters_are_comma_joined_and_times_compact(hub_make: Any) -> None:
    recorder = Recorder("list-batches-empty-compatible-nosse")
    hub = hub_make(recorder, base_url=BASE)
    hub.run(hub.client.batches.list(status=["in_progress", "completed"], ds_name="nightly",
                                    input_file_ids=["file-a", "file-b"], after="batch_x",
                                    create_after=datetime(2026, 4, 17, 8, 5, 9),
                                    create_before="20260418000000"))  # fmt: skip
    (sent,) = recorder.sent
    assert dict(sent.url.params) == {
        "status": "in_progress,completed", "ds_name": "nightly", "after": "batch_x",
        "input_file_ids": "file-a,file-b", "create_after": "20260417080509",
        "create_before": "20260418000000",
    }  # fmt: skip
    with pytest.raises(ValueError, match="create_after"):
        hub.run(hub.client.batches.list(create_after="yesterday"))
    with pytest.raises(ValueError, match="status"):
        hub.run(hub.client.batches.list(status=["ok", ""]))
    assert len(recorder.sent) == 1
