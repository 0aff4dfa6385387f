"""OpenAI-compatible files below ``/compatible-mode/v1/files`` (PROTOCOL.md "Batch API";
recorded ``upload-file-compatible-nosse``, ``delete-file-compatible-nosse``,
``get-file-content-compatible-nosse``).

Rules of this module:
- Upload is ``multipart/form-data`` with a ``file`` part and a ``purpose`` field (both
  required: 400 ``InvalidParameter`` otherwise); the answer is the file object, status
  ``processed``. The form is parsed as the native file API parses it (``Request.form``).
- ``GET /files`` lists newest first (``after``, ``limit``, ``purpose``); ``GET /files/{id}``,
  ``GET /files/{id}/content`` (the bytes, streamed in chunks) and ``DELETE /files/{id}``
  answer 404 for an unknown id.
"""

from __future__ import annotations

from dashscope_core.emulator._compat_state import compat_file, compat_state, list_page, route
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator

__all__ = ["ROUTES"]

_CHUNK = 64 * 1024


async def create(request: Request, emulator: Emulator) -> Response:
    """``POST /files``: store the uploaded ``file`` for ``purpose``."""
    form = {part.name: part for part in request.form()}
    if "file" not in form:
        raise ApiError(400, "InvalidParameter", 'Required multipart field "file" missing.')
    purpose = form["purpose"].data.decode("utf-8", "replace").strip() if "purpose" in form else ""
    if not purpose:
        raise ApiError(400, "InvalidParameter", 'Required multipart field "purpose" missing.')
    state = compat_state(emulator)
    upload = form["file"]
    stored = state.files.add(upload.data, upload.filename or "file", purpose, state.now())
    return JSONResponse(stored.json())


async def list_files(request: Request, emulator: Emulator) -> Response:
    """``GET /files``: newest first, filtered by ``purpose``."""
    state = compat_state(emulator)
    purpose = request.query.get("purpose")
    items = [f.json() for f in state.files.listed() if not purpose or f.purpose == purpose]
    return JSONResponse(list_page(items, request.query, state.settings.page_size))


async def get(request: Request, emulator: Emulator) -> Response:
    """``GET /files/{file_id}``."""
    return JSONResponse(compat_file(compat_state(emulator), request.params["file_id"]).json())


async def content(request: Request, emulator: Emulator) -> Response:
    """``GET /files/{file_id}/content``: the bytes, in chunks."""
    data = compat_file(compat_state(emulator), request.params["file_id"]).content
    chunks = (data[i : i + _CHUNK] for i in range(0, len(data), _CHUNK))
    return StreamResponse(chunks, media_type="application/octet-stream")


async def delete(request: Request, emulator: Emulator) -> Response:
    """``DELETE /files/{file_id}``."""
    gone = compat_file(compat_state(emulator), request.params["file_id"], delete=True)
    return JSONResponse({"id": gone.id, "object": "file", "deleted": True})


ROUTES = [
    route("POST", "/files", create, "compatible_files"),
    route("GET", "/files", list_files, "compatible_files"),
    route("GET", "/files/{file_id}", get, "compatible_files"),
    route("GET", "/files/{file_id}/content", content, "compatible_files"),
    route("DELETE", "/files/{file_id}", delete, "compatible_files"),
]
