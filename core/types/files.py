"""Wire models of OpenAI-compatible files (PROTOCOL.md "Batch API"; recorded
``upload-file-compatible-nosse``, ``delete-file-compatible-nosse``)."""

from __future__ import annotations

from dashscope_core.types.common import ListPage, WireModel, null_means_default

__all__ = ["FileDeleted", "FileList", "FileObject"]


class FileObject(WireModel):
    """An uploaded file: ``{"id", "object": "file", "bytes", "filename", "purpose", ...}``."""

    id: str
    object: str | None = None
    bytes: int | None = None
    filename: str | None = None
    purpose: str | None = None
    """``batch`` (batch input), ``batch_output`` (results), ``file-extract``, ..."""
    status: str | None = None
    created_at: int | None = None


class FileDeleted(WireModel):
    """The answer of ``DELETE /files/{id}``."""

    id: str
    object: str | None = None
    deleted: bool = False

    _nulls = null_means_default("deleted")


class FileList(ListPage[FileObject]):
    """One page of files."""
