"""Prediction inputs: local files become ``data:<mime>;base64,...`` URIs (PROTOCOL.md).

Rules of this module:
- Only unambiguous file values are encoded: ``pathlib.Path``, ``bytes``/``bytearray`` and
  binary file objects (anything with ``read()``). A ``str`` is always sent as is, even when a
  file of that name exists: it may be a prompt, a URL or a data URI already.
- The MIME type comes from the file name (``mimetypes``), else from a few magic numbers, else
  ``application/octet-stream``.
- More than ``MAX_INLINE_BYTES`` raises ValueError naming the input field: never truncated.
- ``None`` values are dropped (request bodies carry no null keys); lists and dicts recurse.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["MAX_INLINE_BYTES", "encode_input", "guess_mime", "to_data_uri"]

MAX_INLINE_BYTES = 10 * 1024 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xff\xfb", "audio/mpeg"),
    (b"\xff\xf3", "audio/mpeg"),
    (b"\xff\xf2", "audio/mpeg"),
)


def guess_mime(data: bytes, name: str | None = None) -> str:
    """MIME type from ``name``'s extension, else from magic numbers, else octet-stream."""
    if name:
        guessed, _ = mimetypes.guess_type(name)
        if guessed:
            return guessed
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return "application/octet-stream"


def to_data_uri(data: bytes, name: str | None = None, *, field: str = "input") -> str:
    """``data:<mime>;base64,...`` for ``data``; larger than 10 MB raises ValueError."""
    if len(data) > MAX_INLINE_BYTES:
        raise ValueError(
            f"{field}: file is {len(data) / 1024 / 1024:.1f} MB, above the "
            f"{MAX_INLINE_BYTES // 1024 // 1024} MB limit for inline data URIs; "
            "pass a URL to the file instead"
        )
    mime = guess_mime(data, name)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _read_path(path: PurePath, field: str) -> bytes:
    from pathlib import Path

    local = Path(path)
    if not local.is_file():
        raise ValueError(f"{field}: no such file: {str(path)!r}")
    size = local.stat().st_size
    if size > MAX_INLINE_BYTES:
        raise ValueError(
            f"{field}: file {str(path)!r} is {size / 1024 / 1024:.1f} MB, above the "
            f"{MAX_INLINE_BYTES // 1024 // 1024} MB limit for inline data URIs; "
            "pass a URL to the file instead"
        )
    return local.read_bytes()


def _read_file(obj: Any, field: str) -> tuple[bytes, str | None]:
    data = obj.read(MAX_INLINE_BYTES + 1)
    if isinstance(data, str):
        raise TypeError(f"{field}: file objects must be opened in binary mode ('rb')")
    name = getattr(obj, "name", None)
    return bytes(data), name if isinstance(name, str) else None


def encode_input(value: Any, field: str = "input") -> Any:
    """Encode file values inside ``value`` as data URIs and drop ``None`` entries."""
    if isinstance(value, PurePath):
        return to_data_uri(_read_path(value, field), value.name, field=field)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_data_uri(bytes(value), field=field)
    if hasattr(value, "read") and callable(value.read):
        data, name = _read_file(value, field)
        return to_data_uri(data, name, field=field)
    if isinstance(value, Mapping):
        return {k: encode_input(v, f"{field}[{k!r}]") for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [encode_input(v, f"{field}[{i}]") for i, v in enumerate(value)]
    return value
