"""The native file API (fine-tune, file-extract and batch files): ``/files``.

Rules of this module (the service's "file management" API page; cnblogs' recorded
``upload-file-nosse``, ``list-files-nosse``, ``get-file-nosse``, ``delete-file-nosse``; the official
SDK's ``Files``, whose message for a missing file is "File not found."):
- ``POST /files`` takes ``multipart/form-data``: one or more ``files`` parts (``file`` too),
  ``descriptions`` (or ``description``) in file order, an optional ``purpose`` (``fine-tune`` by
  default, ``file-extract``, ``batch``). It answers 200 ``{"data": {"uploaded_files": [{"name",
  "file_id"}], "failed_uploads": [{"name", "code", "message"}]}}``: a file over a quota fails
  alone (``BadRequest.TooMany`` past ``MAX_FILES`` files, ``BadRequest.TooLarge`` past
  ``MAX_FILE_BYTES`` per file or ``MAX_TOTAL_BYTES`` in all).
- ``GET /files?page_no=&page_size=`` pages newest upload first (``data {total, files, page_no,
  page_size}``); ``GET /files/{id}`` answers ``data`` with ``purpose``; ``DELETE /files/{id}``
  answers only ``request_id``. An unknown id is 400 ``InvalidParameter`` "File not found.".
- Files live in the emulator's one store (``_file_store``: ids by purpose), shared with
  OpenAI-compatible mode; ``url`` serves the bytes back without auth (like the service's signed
  OSS link).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import quote

from dashscope_core.emulator._file_store import StoredFile, file_store
from dashscope_core.emulator.prediction_http import api_base
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.tasks import invalid, task_time

__all__ = ["MAX_FILES", "MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "ROUTES"]

MAX_FILES = 100
MAX_FILE_BYTES = 300 * 1024 * 1024
MAX_TOTAL_BYTES = 5 * 1024 * 1024 * 1024
PURPOSES = ("fine-tune", "file-extract", "batch")
_NOT_FOUND = "File not found."


def _record(file: StoredFile, base: str, *, with_purpose: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": file.number,
        "name": file.filename,
        "description": file.description,
        "size": len(file.content),
        "md5": base64.b64encode(hashlib.md5(file.content).digest()).decode(),
        "region": "cn-beijing",
        "file_id": file.id,
        "url": f"{base}/outputs/{file.id}/{quote(file.filename)}",
        "user_id": "emulator",
        "api_key_id": "emulator",
        "gmt_create": task_time(file.created)[:19],
    }
    if with_purpose:
        info["purpose"] = file.purpose
    return info


def _quota_failure(files: list[StoredFile], name: str, size: int) -> dict[str, str] | None:
    used = sum(len(f.content) for f in files)
    if len(files) >= MAX_FILES:
        message = f"Out of number, <{len(files)}> of <{MAX_FILES}> files has been uploaded."
        return {"name": name, "code": "BadRequest.TooMany", "message": message}
    if size > MAX_FILE_BYTES or used + size > MAX_TOTAL_BYTES:
        message = f"Out of space, <{used}> B of <{MAX_TOTAL_BYTES}> B storage space has been used."
        return {"name": name, "code": "BadRequest.TooLarge", "message": message}
    return None


async def upload_files(request: Request, emu: Emulator) -> Response:
    """POST /files (multipart): store each file part, report each failure."""
    parts = request.form()
    uploads = [p for p in parts if p.name in ("files", "file") and p.filename is not None]
    if not uploads:
        raise invalid("files: at least one file part is required")
    notes = [p.data.decode("utf-8", "replace") for p in parts if p.name.startswith("description")]
    purposes = [p.data.decode("utf-8", "replace") for p in parts if p.name == "purpose"]
    purpose = purposes[0] if purposes else "fine-tune"
    if purpose not in PURPOSES:
        raise invalid(f"purpose: expected one of {', '.join(PURPOSES)}")
    store = file_store(emu)
    now = emu.clock()  # one upload time per request: its files list in upload order
    uploaded, failed = [], []
    with store.lock:
        for i, part in enumerate(uploads):
            name = part.filename or "file"
            failure = _quota_failure(store.listed(), name, len(part.data))
            if failure is not None:
                failed.append(failure)
                continue
            note = notes[i] if i < len(notes) else ""
            stored = store.add(part.data, name, purpose, now, note)
            uploaded.append({"name": name, "file_id": stored.id})
    data = {"uploaded_files": uploaded, "failed_uploads": failed}
    return JSONResponse({"data": data, "request_id": request.request_id})


def _page_arg(request: Request, name: str, high: int) -> int:
    raw = request.query.get(name, "1" if name == "page_no" else "10")
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise invalid(f"{name}: expected an integer between 1 and {high}")
    return int(raw)


async def list_files(request: Request, emu: Emulator) -> Response:
    """GET /files?page_no=&page_size=: newest upload first."""
    page_no, page_size = _page_arg(request, "page_no", 10**6), _page_arg(request, "page_size", 100)
    ordered = sorted(file_store(emu).listed(), key=lambda f: (-f.created, f.number))
    start = (page_no - 1) * page_size
    base = api_base(request)
    page = [_record(f, base, with_purpose=False) for f in ordered[start : start + page_size]]
    data = {"total": len(ordered), "files": page, "page_size": page_size, "page_no": page_no}
    return JSONResponse({"data": data, "request_id": request.request_id})


def _known(emu: Emulator, file_id: str) -> StoredFile:
    found = file_store(emu).find(file_id)
    if found is None:
        raise ApiError(400, "InvalidParameter", _NOT_FOUND)
    return found


async def get_file(request: Request, emu: Emulator) -> Response:
    """GET /files/{file_id}: the file's record."""
    info = _record(_known(emu, request.params["file_id"]), api_base(request), with_purpose=True)
    return JSONResponse({"data": info, "request_id": request.request_id})


async def delete_file(request: Request, emu: Emulator) -> Response:
    """DELETE /files/{file_id}: answers only ``request_id``."""
    if file_store(emu).delete(request.params["file_id"]) is None:
        raise ApiError(400, "InvalidParameter", _NOT_FOUND)
    return JSONResponse({"request_id": request.request_id})


async def file_content(request: Request, emu: Emulator) -> Response:
    """GET /outputs/{file_id}/{name}: an uploaded file's bytes (the record's ``url``)."""
    found = file_store(emu).find(request.params["file_id"])
    if found is None or found.filename != request.params["name"]:
        raise ApiError(404, "NotFound", "The file was not found.")
    headers = {"content-length": str(len(found.content))}
    return StreamResponse([found.content], headers=headers, media_type="application/octet-stream")


ROUTES: list[Route] = [
    Route("POST", "/files", upload_files, "files.upload"),
    Route("GET", "/files", list_files, "files.list"),
    Route("GET", "/files/{file_id}", get_file, "files.get"),
    Route("DELETE", "/files/{file_id}", delete_file, "files.delete"),
    Route("GET", "/outputs/{file_id}/{name}", file_content, "files.content", auth=False),
]
