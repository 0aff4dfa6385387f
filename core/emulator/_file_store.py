"""The emulator's one file store, behind both file APIs: native ``/api/v1/files`` (``files``)
and OpenAI-compatible ``/compatible-mode/v1/files`` (``compatible_files``), plus the batch
output and error files (``compatible_batches``). A file uploaded through either API is seen by
both, as on the service, where both hand out the same ``file-batch-…`` ids.

Rules of this module:
- Ids follow the purpose: ``file-batch-…`` (batch input), ``file-batch_output-…`` and
  ``file-batch_error-…`` (results), ``file-fe-…`` (file-extract), a uuid otherwise (fine-tune:
  recorded ``upload-file-nosse``); they derive from the emulator's seed and an upload counter.
- The store is made by ``emulator.get_or_create``: ``emulator.reset()`` forgets it. Each API
  renders its own records and errors (native: 400 "File not found."; compatible: 404).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator.state import Emulator

__all__ = ["FileStore", "StoredFile", "file_store"]

_PREFIX = {"file-extract": "file-fe-", "batch": "file-batch-",
           "batch_output": "file-batch_output-", "batch_error": "file-batch_error-"}  # fmt: skip
_FIRST_NUMBER = 193_300_000  # numeric ids of the native API look like the recorded ones


@dataclass
class StoredFile:
    """One uploaded or generated file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created: float
    """The emulator clock at upload."""
    number: int
    """The native API's numeric ``id``."""
    description: str = ""

    def json(self) -> dict[str, Any]:
        """The OpenAI-compatible file object."""
        return {"id": self.id, "object": "file", "bytes": len(self.content),
                "filename": self.filename, "purpose": self.purpose, "status": "processed",
                "created_at": int(self.created)}  # fmt: skip


class FileStore:
    """Files by id, in upload order."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self.lock = threading.RLock()
        """Held while adding or deleting (a caller may hold it over a check and an add)."""
        self._files: dict[str, StoredFile] = {}
        self._made = 0

    def add(
        self, content: bytes, filename: str, purpose: str, now: float, description: str = ""
    ) -> StoredFile:
        """Store a new file and return it."""
        with self.lock:
            n, self._made = self._made, self._made + 1
            digest = hashlib.sha256(f"file:{self._seed}:{n}".encode()).digest()
            prefix = _PREFIX.get(purpose)
            plain = str(uuid.UUID(bytes=digest[:16], version=4))
            file_id = prefix + digest[:12].hex() if prefix else plain
            stored = StoredFile(file_id, filename, purpose, content, now, _FIRST_NUMBER + n,
                                description)  # fmt: skip
            self._files[file_id] = stored
        return stored

    def find(self, file_id: str) -> StoredFile | None:
        """The file, or None."""
        return self._files.get(file_id)

    def delete(self, file_id: str) -> StoredFile | None:
        """Forget the file; the file forgotten, or None when unknown."""
        with self.lock:
            return self._files.pop(file_id, None)

    def listed(self) -> list[StoredFile]:
        """Every file, newest first."""
        with self.lock:
            return list(reversed(self._files.values()))


def file_store(emulator: Emulator) -> FileStore:
    """The file store of ``emulator`` (created on first use)."""
    return emulator.get_or_create("files", lambda: FileStore(emulator.seed))
