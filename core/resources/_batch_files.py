"""Local files of a batch job: the JSONL input files ``submit`` writes, and the on-disk index
``results`` reads output lines back from in input order.

Memory stays flat whatever the job size: requests go to disk one line at a time (one open file
per model), and result lines are appended to a temporary file while an array of offsets, one
slot per request, remembers where each one is.
"""

from __future__ import annotations

import contextlib
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dashscope_core._protocol.batch import (
    MAX_FILE_BYTES,
    MAX_FILE_LINES,
    CustomIds,
    line_custom_id,
    position_of,
    request_line,
)
from dashscope_core.errors import APIResponseValidationError

__all__ = ["InputFile", "ResultSpill", "Spool"]


@dataclass
class InputFile:
    """One JSONL input file: a single model, at most the service's lines and bytes."""

    path: Path
    model: str
    lines: int = 0
    size: int = 0


class Spool:
    """Writes requests as JSONL input files in a temporary directory (removed on ``close``).

    A new file starts for each model and whenever the next line would pass ``max_lines`` or
    ``max_bytes``; files are listed in the order they were started.
    """

    def __init__(
        self, endpoint: str, *, max_lines: int = MAX_FILE_LINES, max_bytes: int = MAX_FILE_BYTES
    ) -> None:
        self.endpoint = endpoint
        self.ids = CustomIds()
        self.files: list[InputFile] = []
        self._max_lines, self._max_bytes = max_lines, max_bytes
        self._dir = tempfile.TemporaryDirectory(prefix="dashscope-batch-")
        self._open: dict[str, tuple[InputFile, IO[bytes]]] = {}

    def add(self, item: Any) -> None:
        """Write one request (a body or a ``{"custom_id", "body"}`` wrapper)."""
        model, line = request_line(item, self.ids.count, self.endpoint, self.ids)
        if len(line) > self._max_bytes:
            raise ValueError(f"requests[{self.ids.count - 1}]: larger than {self._max_bytes} bytes")
        current = self._open.get(model)
        if current is None or (
            current[0].lines >= self._max_lines or current[0].size + len(line) > self._max_bytes
        ):
            current = self._start(model)
        info, handle = current
        handle.write(line)
        info.lines += 1
        info.size += len(line)

    def add_all(self, requests: Iterable[Any]) -> list[InputFile]:
        """Write every request, then close the files; an empty input is a ValueError."""
        for item in requests:
            self.add(item)
        return self.finish()

    def finish(self) -> list[InputFile]:
        """Close the files and return them."""
        for _, handle in self._open.values():
            handle.close()
        self._open.clear()
        if not self.files:
            raise ValueError("requests: no requests given")
        return self.files

    def _start(self, model: str) -> tuple[InputFile, IO[bytes]]:
        previous = self._open.pop(model, None)
        if previous is not None:
            previous[1].close()
        info = InputFile(Path(self._dir.name) / f"batch-{len(self.files) + 1}.jsonl", model)
        self.files.append(info)
        self._open[model] = (info, info.path.open("wb"))
        return self._open[model]

    def close(self) -> None:
        """Close and delete every file."""
        for _, handle in self._open.values():
            handle.close()
        self._open.clear()
        self._dir.cleanup()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ResultSpill:
    """Output and error lines on disk, indexed by the input position of their ``custom_id``."""

    def __init__(self, count: int, lookup: dict[str, int] | None) -> None:
        self._count, self._lookup = count, lookup
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close() / __exit__
        self._offsets = array("q", [-1]) * count
        self._sizes = array("q", [0]) * count
        self._end = 0

    def add(self, line: bytes) -> None:
        """Store ``line`` at its request's position; unknown or repeated ids raise."""
        custom_id = line_custom_id(line)
        index = position_of(custom_id, self._lookup, self._count)
        if index is None:
            raise APIResponseValidationError(
                f"batch result for custom_id {custom_id!r}, which is not a request of this job",
                status_code=None,
            )
        if self._offsets[index] >= 0:
            raise APIResponseValidationError(
                f"batch results hold custom_id {custom_id!r} twice", status_code=None
            )
        self._file.write(line)
        self._offsets[index], self._sizes[index] = self._end, len(line)
        self._end += len(line)

    def lines(self) -> Iterator[tuple[int, bytes | None]]:
        """``(position, line or None)`` for every request, in input order."""
        self._file.flush()
        for index in range(self._count):
            offset = self._offsets[index]
            if offset < 0:
                yield index, None
                continue
            self._file.seek(offset)
            yield index, self._file.read(self._sizes[index])

    def close(self) -> None:
        """Delete the spill file."""
        with contextlib.suppress(OSError):
            self._file.close()

    def __enter__(self) -> ResultSpill:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
