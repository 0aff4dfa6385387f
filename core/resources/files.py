"""OpenAI-compatible files (PROTOCOL.md "Batch API"): ``client.files``.

Paths are below the compatible-mode base derived from the client's base URL
(``…/api/v1`` → ``…/compatible-mode/v1``, ``compatible_base``), on the same host: the API key
and the workspace header go with them. Uploads are multipart (``file``, ``purpose``) and
stream from disk; ``content`` returns the whole body, ``iter_content`` streams it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any, Union

from dashscope_core._protocol.config import compatible_base
from dashscope_core._protocol.identifiers import check_segment
from dashscope_core._protocol.request import RawResponse, RequestSpec, drop_none, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.types.files import FileDeleted, FileList, FileObject

__all__ = ["AsyncFiles", "FileInput", "Files", "build_list", "upload_spec"]

FileInput = Union[str, "os.PathLike[str]", bytes, IO[bytes]]
"""A path, the bytes themselves, or a binary file object (sent from its start)."""


def _url(base_url: str, path: str) -> str:
    return compatible_base(base_url) + path


def _check_limit(limit: Any) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit: expected a positive integer, got {limit!r}")


@contextlib.contextmanager
def upload_spec(
    base_url: str, file: FileInput, purpose: str, filename: str | None
) -> Iterator[RequestSpec]:
    """The multipart upload of ``file`` (a path is opened here and closed afterwards)."""
    if not isinstance(purpose, str) or not purpose:
        raise ValueError("purpose: expected a non-empty string such as 'batch'")
    if filename is not None and (not isinstance(filename, str) or not filename):
        raise ValueError("filename: expected a non-empty string")
    with contextlib.ExitStack() as stack:
        if isinstance(file, (str, os.PathLike)):
            path = Path(file)
            if not path.is_file():
                raise ValueError(f"file: no such file: {str(path)!r}")
            content: bytes | IO[bytes] = stack.enter_context(path.open("rb"))
            name = filename or path.name
        elif isinstance(file, (bytes, bytearray, memoryview)):
            content, name = bytes(file), filename or "file.jsonl"
        elif callable(getattr(file, "read", None)):
            if not isinstance(file.read(0), bytes):
                raise TypeError("file: expected a binary file object (open it with 'rb')")
            content = file
            name = filename or Path(str(getattr(file, "name", "") or "file.jsonl")).name
        else:
            raise TypeError(
                f"file: expected a path, bytes or a binary file object, got {type(file).__name__}"
            )
        yield RequestSpec(
            "POST", _url(base_url, "/files"), files={"file": (name, content)},
            data={"purpose": purpose},
        )  # fmt: skip


def build_get(base_url: str, file_id: str) -> RequestSpec:
    """GET /files/{id}."""
    fid = check_segment(file_id, argument="file_id")
    return RequestSpec("GET", _url(base_url, f"/files/{fid}"))


def build_list(
    base_url: str, *, after: str | None = None, limit: int | None = None,
    purpose: str | None = None,
) -> RequestSpec:  # fmt: skip
    """GET /files?after=&limit=&purpose= (one page)."""
    _check_limit(limit)
    params = drop_none({"after": after, "limit": limit, "purpose": purpose})
    return RequestSpec("GET", _url(base_url, "/files"), params=params or None)


def build_content(base_url: str, file_id: str) -> RequestSpec:
    """GET /files/{id}/content."""
    fid = check_segment(file_id, argument="file_id")
    return RequestSpec("GET", _url(base_url, f"/files/{fid}/content"), headers={"Accept": "*/*"})


def build_delete(base_url: str, file_id: str) -> RequestSpec:
    """DELETE /files/{id}."""
    fid = check_segment(file_id, argument="file_id")
    return RequestSpec("DELETE", _url(base_url, f"/files/{fid}"))


@response_parser
def parse_file(raw: RawResponse) -> FileObject:
    """A file object."""
    return FileObject.model_validate_json(raw.content)


@response_parser
def parse_list(raw: RawResponse) -> FileList:
    """One page of files."""
    return FileList.model_validate_json(raw.content)


@response_parser
def parse_deleted(raw: RawResponse) -> FileDeleted:
    """The delete answer."""
    return FileDeleted.model_validate_json(raw.content)


class Files(SyncNamespace):
    """Upload, inspect, download and delete files (compatible mode)."""

    def create(
        self, file: FileInput, purpose: str = "batch", *, filename: str | None = None
    ) -> FileObject:
        """Upload ``file`` (path, bytes or binary file object) for ``purpose``."""
        with upload_spec(self._client.base_url, file, purpose, filename) as spec:
            return parse_file(self._client._send(spec))

    def get(self, file_id: str) -> FileObject:
        """A file's metadata."""
        return parse_file(self._client._send(build_get(self._client.base_url, file_id)))

    def list(
        self, *, after: str | None = None, limit: int | None = None, purpose: str | None = None
    ) -> FileList:
        """One page of files (``page.last_id`` as ``after=`` gives the next one)."""
        spec = build_list(self._client.base_url, after=after, limit=limit, purpose=purpose)
        return parse_list(self._client._send(spec))

    def content(self, file_id: str) -> bytes:
        """The file's bytes."""
        return self._client._send(build_content(self._client.base_url, file_id)).content

    def iter_content(self, file_id: str) -> Iterator[bytes]:
        """The file's bytes in chunks as they arrive (large files never sit in memory)."""
        return self._client._download(build_content(self._client.base_url, file_id))

    def delete(self, file_id: str) -> FileDeleted:
        """Delete a file."""
        return parse_deleted(self._client._send(build_delete(self._client.base_url, file_id)))


class AsyncFiles(AsyncNamespace):
    """Async twin of ``Files``."""

    async def create(
        self, file: FileInput, purpose: str = "batch", *, filename: str | None = None
    ) -> FileObject:
        """Upload ``file`` (path, bytes or binary file object) for ``purpose``."""
        with upload_spec(self._client.base_url, file, purpose, filename) as spec:
            return parse_file(await self._client._send(spec))

    async def get(self, file_id: str) -> FileObject:
        """A file's metadata."""
        return parse_file(await self._client._send(build_get(self._client.base_url, file_id)))

    async def list(
        self, *, after: str | None = None, limit: int | None = None, purpose: str | None = None
    ) -> FileList:
        """One page of files (``page.last_id`` as ``after=`` gives the next one)."""
        spec = build_list(self._client.base_url, after=after, limit=limit, purpose=purpose)
        return parse_list(await self._client._send(spec))

    async def content(self, file_id: str) -> bytes:
        """The file's bytes."""
        return (await self._client._send(build_content(self._client.base_url, file_id))).content

    def iter_content(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes in chunks as they arrive (large files never sit in memory)."""
        return self._client._download(build_content(self._client.base_url, file_id))

    async def delete(self, file_id: str) -> FileDeleted:
        """Delete a file."""
        return parse_deleted(await self._client._send(build_delete(self._client.base_url, file_id)))
