"""The native file API over raw HTTP: multipart uploads, quotas, paging, recorded shapes."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from _recorded import EXTRA, recording_text
from emulator_helpers import covers, shape

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator import files as native_files

DATA = b'{"messages": []}\r\n\x00\xff binary \r\n'


def _recorded(name: str) -> Any:
    return json.loads(recording_text(f"{name}.response.body.txt", EXTRA))


def _upload(client: httpx.Client, *names: str, **form: Any) -> dict[str, Any]:
    files = [("files", (name, DATA)) for name in names]
    response = client.post("/files", files=files, data=form)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_upload_get_list_delete_match_the_recordings(client: httpx.Client) -> None:
    up = _upload(client, "a.jsonl", "b.jsonl", descriptions=["first", "second"])
    covers(shape(up), shape({**_recorded("upload-file-nosse"), "data": {
        "uploaded_files": _recorded("upload-file-nosse")["data"]["uploaded_files"],
        "failed_uploads": []}}))  # fmt: skip
    ids = [f["file_id"] for f in up["data"]["uploaded_files"]]
    got = client.get(f"/files/{ids[0]}").json()
    covers(shape(got), shape(_recorded("get-file-nosse")))
    data = got["data"]
    assert (data["name"], data["description"], data["size"]) == ("a.jsonl", "first", len(DATA))
    assert data["md5"] == base64.b64encode(hashlib.md5(DATA).digest()).decode()
    assert httpx.get(data["url"]).content == DATA  # the link needs no key
    listed = client.get("/files", params={"page_no": 1, "page_size": 1}).json()
    covers(shape(listed), shape(_recorded("list-files-nosse")))
    assert listed["data"]["total"] == 2 and listed["data"]["files"][0]["file_id"] == ids[0]
    second = client.get("/files", params={"page_no": 2, "page_size": 1}).json()["data"]["files"]
    assert second[0]["file_id"] == ids[1]
    deleted = client.delete(f"/files/{ids[0]}")
    assert deleted.json().keys() == _recorded("delete-file-nosse").keys()
    for again in (client.get(f"/files/{ids[0]}"), client.delete(f"/files/{ids[0]}")):
        assert again.status_code == 400
        assert (again.json()["code"], again.json()["message"]) == ("InvalidParameter",
                                                                   "File not found.")  # fmt: skip
    assert httpx.get(data["url"]).status_code == 404


@pytest.mark.parametrize(("purpose", "prefix"), [("file-extract", "file-fe-"),
                                                  ("batch", "file-batch-")])  # fmt: skip
def test_ids_by_purpose(client: httpx.Client, purpose: str, prefix: str) -> None:
    (item,) = _upload(client, "doc.txt", purpose=purpose)["data"]["uploaded_files"]
    assert item["file_id"].startswith(prefix)
    assert client.get(f"/files/{item['file_id']}").json()["data"]["purpose"] == purpose


def test_single_file_field_and_unicode_name(client: httpx.Client) -> None:
    response = client.post("/files", files={"file": ("数据 1.jsonl", DATA)},
                           data={"description": "cnblogs style"})  # fmt: skip
    (item,) = response.json()["data"]["uploaded_files"]
    info = client.get(f"/files/{item['file_id']}").json()["data"]
    assert (info["name"], info["description"]) == ("数据 1.jsonl", "cnblogs style")
    assert httpx.get(info["url"]).content == DATA


@pytest.mark.parametrize(("kwargs", "mention"), [
    ({"json": {"files": []}}, "multipart"),
    ({"data": {"purpose": "fine-tune"}, "files": {"other": ("x.txt", b"x")}}, "files"),
    ({"data": {"purpose": "train"}, "files": {"files": ("x.txt", b"x")}}, "purpose"),
])  # fmt: skip
def test_upload_refusals(client: httpx.Client, kwargs: dict[str, Any], mention: str) -> None:
    response = client.post("/files", **kwargs)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter" and mention in response.json()["message"]


def test_quota_failures_are_per_file(
    client: httpx.Client, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native_files, "MAX_FILES", 2)
    body = _upload(client, "1.txt", "2.txt", "3.txt")["data"]
    assert [f["name"] for f in body["uploaded_files"]] == ["1.txt", "2.txt"]
    recorded = _recorded("upload-file-nosse")["data"]["failed_uploads"]
    covers(shape(body["failed_uploads"]), shape(recorded))
    assert body["failed_uploads"][0]["code"] == "BadRequest.TooMany"
    assert "<2> of <2>" in body["failed_uploads"][0]["message"]
    monkeypatch.setattr(native_files, "MAX_FILES", 100)
    monkeypatch.setattr(native_files, "MAX_TOTAL_BYTES", 2 * len(DATA) + 1)
    (failed,) = _upload(client, "4.txt")["data"]["failed_uploads"]
    assert failed["code"] == "BadRequest.TooLarge" and "storage space" in failed["message"]


def test_file_api_needs_the_key(server: ServerHandle, emu: Emulator) -> None:
    response = httpx.get(server.base_url + "/files")
    assert (response.status_code, response.json()["code"]) == (401, "InvalidApiKey")


def test_bad_paging(client: httpx.Client) -> None:
    response = client.get("/files", params={"page_size": 0})
    assert response.status_code == 400 and "page_size" in response.json()["message"]


def test_one_store_behind_both_file_apis(client: httpx.Client, server: ServerHandle) -> None:
    (native,) = _upload(client, "in.jsonl", purpose="batch")["data"]["uploaded_files"]
    compat = httpx.Client(base_url=f"{server.origin}/compatible-mode/v1",
                          headers=client.headers)  # fmt: skip
    with compat:
        seen = compat.get(f"/files/{native['file_id']}").json()
        assert (seen["filename"], seen["purpose"], seen["bytes"]) == ("in.jsonl", "batch",
                                                                     len(DATA))  # fmt: skip
        assert compat.get(f"/files/{native['file_id']}/content").content == DATA
        made = compat.post("/files", files={"file": ("c.jsonl", b"{}")},
                           data={"purpose": "batch"}).json()  # fmt: skip
        listed = [f["file_id"] for f in client.get("/files").json()["data"]["files"]]
        assert listed == [made["id"], native["file_id"]]  # newest first
        assert compat.delete(f"/files/{made['id']}").json()["deleted"] is True
    assert client.get(f"/files/{made['id']}").json()["message"] == "File not found."
