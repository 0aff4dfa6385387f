"""Server-sent events: a pure incremental decoder and the matching encoder.

Rules of this module:
- Push-style, no I/O: ``feed(bytes) -> list[SSEEvent]`` and ``close() -> list[SSEEvent]`` so the
  sync and async clients (and the emulator's tests) drive the same state machine.
- Bytes may be split anywhere, even inside a field name or a UTF-8 sequence: lines are cut on raw
  bytes (CR, LF and CRLF are ASCII, never inside a multi-byte sequence) and decoded whole.
- A leading UTF-8 byte-order mark is dropped (WHATWG "event stream interpretation").
- ``data:`` lines join with ``\n``; one space after the colon is optional and dropped.
- DashScope's ``:HTTP_STATUS/NNN`` comment sets ``SSEEvent.status``; other comments are ignored.
- An event is dispatched at a blank line, when a second ``id:`` arrives in a frame that already
  has an ``id:`` and data (recorded DashScope streams such as ``single-generation-message-sse``
  have no blank lines between frames; WHATWG's ``data:`` then ``id:`` order stays one event),
  and at ``close()``. Unknown event names and fields pass through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_BOM = b"\xef\xbb\xbf"
_STATUS_PREFIX = "HTTP_STATUS/"


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched server-sent event."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    status: int | None = None
    """HTTP status DashScope announces inside the stream (``:HTTP_STATUS/429``)."""


@dataclass
class _Pending:
    event: str | None = None
    data: list[str] = field(default_factory=list)
    id: str | None = None
    retry: int | None = None
    status: int | None = None
    touched: bool = False
    framed_id: bool = False
    """An ``id:`` line was seen in this frame (not only inherited as the last event id)."""

    def to_event(self) -> SSEEvent:
        return SSEEvent(
            event=self.event or "message",
            data="\n".join(self.data),
            id=self.id,
            retry=self.retry,
            status=self.status,
        )


class SSEDecoder:
    """Incremental SSE decoder: push bytes in, take complete events out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending = _Pending()
        self._started = False
        self._last_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completed."""
        if not self._started:
            self._buffer += chunk
            if len(self._buffer) < len(_BOM) and _BOM.startswith(bytes(self._buffer)):
                return []
            if self._buffer.startswith(_BOM):
                del self._buffer[: len(_BOM)]
            self._started = True
            chunk, self._buffer = bytes(self._buffer), bytearray()
        if b"\n" not in chunk and b"\r" not in chunk:
            self._buffer += chunk  # no line ends yet: nothing to decode
            return []
        events: list[SSEEvent] = []
        for line in self._take_lines(chunk):
            self._line(line, events)
        return events

    def close(self) -> list[SSEEvent]:
        """End of input: treat any unterminated line and pending event as complete."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._decode(bytes(self._buffer)), events)
            self._buffer.clear()
        self._dispatch(events)
        return events

    def _take_lines(self, chunk: bytes) -> list[str]:
        data = bytes(self._buffer) + chunk if self._buffer else chunk
        if self._last_cr and data[:1] == b"\n":  # the LF of a CRLF split across chunks
            data = data[1:]
        # bytes.splitlines cuts at LF, CR and CRLF only (never inside a UTF-8 sequence)
        parts = data.splitlines(keepends=True)
        rest = b""
        if parts and not parts[-1].endswith((b"\n", b"\r")):
            rest = parts.pop()
        self._last_cr = bool(parts) and parts[-1].endswith(b"\r") and not rest
        self._buffer = bytearray(rest)
        return [self._decode(part.rstrip(b"\r\n")) for part in parts]

    @staticmethod
    def _decode(raw: bytes) -> str:
        return raw.decode("utf-8", errors="replace")

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            comment = line[1:].strip()
            if comment.startswith(_STATUS_PREFIX):
                digits = comment[len(_STATUS_PREFIX) :]
                if digits.isdigit():
                    self._pending.status = int(digits)
                    self._pending.touched = True
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        pending = self._pending
        if name == "id":
            if pending.data and pending.framed_id:
                self._dispatch(events)
                pending = self._pending
            if "\x00" not in value:
                pending.id = value
                pending.framed_id = True
        elif name == "data":
            pending.data.append(value)
        elif name == "event":
            pending.event = value
        elif name == "retry":
            if value.isdigit():
                pending.retry = int(value)
        else:
            return
        pending.touched = True

    def _dispatch(self, events: list[SSEEvent]) -> None:
        pending = self._pending
        if pending.data or (pending.touched and pending.event is not None):
            events.append(pending.to_event())
        # the last event id persists across events (WHATWG), everything else resets
        self._pending = _Pending(id=pending.id)


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: str | None = None,
    status: int | None = None,
    retry: int | None = None,
) -> bytes:
    """Encode one event the way DashScope writes it (no space after colons)."""
    lines: list[str] = []
    if id is not None:
        lines.append(_field("id", id))
    if event is not None:
        lines.append(_field("event", event))
    if status is not None:
        lines.append(f":{_STATUS_PREFIX}{status}")
    if retry is not None:
        lines.append(f"retry:{retry}")
    lines.extend(_field("data", part) for part in data.split("\n"))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _field(name: str, value: str) -> str:
    # a decoder drops one space after the colon: a value that starts with one needs another
    return f"{name}: {value}" if value.startswith(" ") else f"{name}:{value}"


def encode_comment(text: str) -> bytes:
    """Encode a comment line (keep-alive)."""
    return f":{text}\n\n".encode()
