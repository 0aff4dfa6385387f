"""Local files of a batch job: the JSONL input files ``submit`` writes, and the on-disk index
``results`` reads output lines back from in input order.

Memory stays flat whatever the job size: requests go to disk one line at a time (one open file
per model), and result lines are appended to a temporary file while an array of offsets, one
slot per request, remembers where each one is (16 bytes a request).
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
    LineSplitter,
    line_custom_id,
    outcome,
    position_of,
    positions,
    request_line,
)
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.types.batches import BatchJob, BatchResult

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
    """A job's output and error files on disk, fed as they download, read back as one
    ``BatchResult`` per request in input order (a slot per request holds its line's offset)."""

    def __init__(self, job: BatchJob) -> None:
        self._job = job
        self._lookup = positions(job)
        self._splitter = LineSplitter()
        self._file = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close() / __exit__
        self._offsets = array("q", [-1]) * job.count
        self._sizes = array("q", [0]) * job.count
        self._end = 0

    def feed(self, chunk: bytes) -> None:
        """Store the lines ``chunk`` completes."""
        for line in self._splitter.feed(chunk):
            self._add(line)

    def end_file(self) -> None:
        """The current file is complete (its last line may lack a newline)."""
        for line in self._splitter.close():
            self._add(line)
        self._splitter = LineSplitter()

    def _add(self, line: bytes) -> None:
        custom_id = line_custom_id(line)
        index = position_of(custom_id, self._lookup, self._job.count)
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

    def results(self) -> Iterator[BatchResult]:
        """Every request's result, in input order (a request without a line says why)."""
        job = self._job
        self._file.flush()
        for index in range(job.count):
            line = None
            if self._offsets[index] >= 0:
                self._file.seek(self._offsets[index])
                line = self._file.read(self._sizes[index])
            custom_id = job.custom_ids[index] if job.custom_ids is not None else str(index)
            yield outcome(index, custom_id, line, job.endpoint, job.status)

    def close(self) -> None:
        """Delete the spill file."""
        with contextlib.suppress(OSError):
            self._file.close()

    def __enter__(self) -> ResultSpill:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
