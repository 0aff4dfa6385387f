"""The official SDK's native file API (1.x ``dashscope.Files``, 2.x ``Client.files``) against
the emulator: upload, get, list, delete, and the service's "File not found."."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

import httpx
import pytest

from dashscope_core.emulator import Emulator

dashscope = pytest.importorskip("dashscope")

LINES = (
    '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
)


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text(LINES * 3, encoding="utf-8")
    return path


def test_files_module_api_round_trip(sdk: str, emu: Emulator, jsonl: Path) -> None:
    up = dashscope.Files.upload(file_path=str(jsonl), purpose="fine-tune", description="my data")
    assert up.status_code == HTTPStatus.OK and up.output["failed_uploads"] == []
    (uploaded,) = up.output["uploaded_files"]
    assert uploaded["name"] == "train.jsonl"
    file_id = uploaded["file_id"]
    info = dashscope.Files.get(file_id)
    assert info.status_code == HTTPStatus.OK
    assert (info.output["file_id"], info.output["description"]) == (file_id, "my data")
    assert info.output["size"] == len(LINES * 3) and info.output["purpose"] == "fine-tune"
    assert httpx.get(info.output["url"]).content == jsonl.read_bytes()
    listed = dashscope.Files.list(page=1, page_size=10)
    assert listed.output["total"] == 1 and listed.output["files"][0]["file_id"] == file_id
    assert dashscope.Files.delete(file_id).status_code == HTTPStatus.OK
    gone = dashscope.Files.get(file_id)
    assert (gone.status_code, gone.code, gone.message) == (
        400,
        "InvalidParameter",
        "File not found.",
    )
    (sent,) = emu.received("files.upload")
    assert sent.headers["content-type"].startswith("multipart/form-data")


def test_client_files(sdk: str, jsonl: Path) -> None:
    client = dashscope.Client(base_url=sdk)
    uploaded = client.files.upload(file_path=str(jsonl), description="v2 upload")
    assert uploaded.file_id and uploaded.name == "train.jsonl"
    got = client.files.get(uploaded.file_id)
    assert (got.size, got.purpose) == (len(LINES * 3), "fine-tune")
    page = client.files.list(page_no=1, page_size=5)
    assert page.total_count == 1 and page.files[0].file_id == uploaded.file_id
    assert client.files.delete(uploaded.file_id).deleted
    with pytest.raises(dashscope.v2.errors.NotFoundError) as caught:
        client.files.get(uploaded.file_id)
    assert caught.value.status_code == 400 and caught.value.code == "InvalidParameter"
    client.close()
