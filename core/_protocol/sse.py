"""Server-sent events: a pure incremental decoder and the matching encoder.

Rules of this module:
- Push-style, no I/O: ``feed(bytes) -> list[SSEEvent]`` and ``close() -> list[SSEEvent]`` so the
  sync and async clients (and the emulator's tests) drive the same state machine.
- Bytes may be split anywhere, even inside a field name or a UTF-8 sequence: lines are cut on raw
  bytes (CR, LF and CRLF are ASCII, never inside a multi-byte sequence) and decoded whole.
- Linear: each read is searched once and the bytes of an unfinished line are joined once, when
  it ends, so a 32 MB event costs about what reading it costs.
- A leading UTF-8 byte-order mark is dropped (WHATWG "event stream interpretation").
- ``data:`` lines join with ``\n``; one space after the colon is optional and dropped.
- DashScope's ``:HTTP_STATUS/NNN`` comment sets ``SSEEvent.status``; other comments are ignored.
- An event is dispatched at a blank line, when a second ``id:`` arrives in a frame that already
  has an ``id:`` and data (recorded DashScope streams such as ``single-generation-message-sse``
  have no blank lines between frames; WHATWG's ``data:`` then ``id:`` order stays one event),
  and at ``close()``. Unknown event names and fields pass through untouched.
- Speed: between events, whole frames of DashScope's own layout are read by one regex match
  (``_FRAME``); everything else, and the rest of a frame split across reads, goes line by line.
  Both paths give the same events (a property test holds them to each other).
"""

from __future__ import annotations

import re
from typing import NamedTuple

_BOM = b"\xef\xbb\xbf"
_STATUS_PREFIX = "HTTP_STATUS/"
_STATUS_LEN = len(_STATUS_PREFIX)
# One whole frame in the layout DashScope writes (``encode_event``), followed by what proves it
# complete: a blank line, or the next frame's ``id:``. Anything else takes the line-by-line path.
_FRAME = re.compile(
    r"id: ?([^\n\x00]*)\nevent: ?([^\n]*)\n:HTTP_STATUS/([0-9]+)\ndata: ?([^\n]*)\n(?:\n|(?=id:))"
)


class SSEEvent(NamedTuple):
    """One dispatched server-sent event (immutable)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None
    status: int | None = None
    """HTTP status DashScope announces inside the stream (``:HTTP_STATUS/429``)."""


class SSEDecoder:
    """Incremental SSE decoder: push bytes in, take complete events out."""

    __slots__ = ("_data", "_event", "_framed_id", "_id", "_last_cr", "_pending", "_retry",
                 "_started", "_status", "_touched")  # fmt: skip

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # bytes after the last line end, in arrival order
        self._started = False
        self._last_cr = False
        self._id: str | None = None  # the last event id persists across events (WHATWG)
        self._reset()

    def _reset(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._retry: int | None = None
        self._status: int | None = None
        self._touched = False
        self._framed_id = False  # an id: line in this frame, not only the inherited one

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Consume ``chunk`` and return the events it completed."""
        chunk = bytes(chunk)
        if not self._started:
            chunk = b"".join([*self._pending, chunk])
            self._pending = []
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._pending = [chunk] if chunk else []
                return []
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
            self._started = True
        if self._last_cr and chunk[:1] == b"\n":  # the LF of a CRLF split across chunks
            chunk = chunk[1:]
        self._last_cr = False
        # Only the new bytes are searched, and held bytes are joined once, when their line
        # ends: an event of any size costs time linear in its size (never a rescan per read).
        cut = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if cut < 0:
            if chunk:
                self._pending.append(chunk)
            return []
        data = chunk[: cut + 1]
        if self._pending:
            data = b"".join([*self._pending, data])
            self._pending = []
        if cut + 1 < len(chunk):
            self._pending.append(chunk[cut + 1 :])
        else:
            self._last_cr = chunk[cut] == 0x0D
        # Line ends are ASCII, so the text up to the last one is whole UTF-8: decode it once.
        text = data.decode("utf-8", errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        events: list[SSEEvent] = []
        pos, end = 0, len(text)
        while pos < end:
            if not self._touched:  # between events: whole frames of the usual layout at once
                pos = self._frames(text, pos, events)
                if pos == end:
                    break
            # line by line up to the end of this event (a blank line), then try frames again
            if text[pos] == "\n":  # the blank line is right here
                stop = pos + 1
            else:
                stop = text.find("\n\n", pos)
                stop = end if stop < 0 else stop + 2
            lines = text[pos:stop].split("\n")
            lines.pop()  # after the last line end: nothing (``text`` ends with one)
            self._lines(lines, events)
            pos = stop
        return events

    def _frames(self, text: str, pos: int, events: list[SSEEvent]) -> int:
        """Dispatch the whole ``_FRAME``s at ``pos`` in ``text``; return where they end."""
        match = _FRAME.match(text, pos)
        if match is None:
            return pos
        new = tuple.__new__  # ``SSEEvent(...)`` minus its keyword handling
        while match is not None:
            id_, event, status, data = match.groups()
            events.append(new(SSEEvent, (event or "message", data, id_, None, int(status))))
            pos = match.end()
            match = _FRAME.match(text, pos)
        self._id = id_
        return pos

    def close(self) -> list[SSEEvent]:
        """End of input: treat any unterminated line and pending event as complete."""
        events: list[SSEEvent] = []
        if self._pending:
            self._lines([b"".join(self._pending).decode("utf-8", errors="replace")], events)
            self._pending = []
        self._dispatch(events)
        return events

    def _lines(self, lines: list[str], events: list[SSEEvent]) -> None:
        # The hot loop of every stream: frame state in locals, a line's first character branches.
        event, data, id_, retry = self._event, self._data, self._id, self._retry
        status, touched, framed_id = self._status, self._touched, self._framed_id
        for line in lines:
            first = line[:1]
            if first == "d" and line[:5] == "data:":  # the common case first
                data.append(line[6:] if line[5:6] == " " else line[5:])
                touched = True
                continue
            if not first or (first == "i" and framed_id and data and line[:3] == "id:"):
                if data or (touched and event is not None):
                    events.append(SSEEvent(event or "message", "\n".join(data), id_, retry, status))
                if touched:
                    event, data, retry, status = None, [], None, None
                    touched = framed_id = False
                if not first:
                    continue
            if first == ":":  # a comment; DashScope's ``:HTTP_STATUS/NNN`` sets the status
                found = _comment_status(line)
                if found is not None:
                    status, touched = found, True
                continue
            name, sep, value = line.partition(":")
            if sep and value[:1] == " ":
                value = value[1:]
            if name == "event":
                event = value
            elif name == "id":
                if "\x00" not in value:
                    id_, framed_id = value, True
            elif name == "retry" and value.isdigit():
                retry = int(value)
            elif name == "data":  # "data" without a colon: an empty data line
                data.append(value)
            else:
                continue
            touched = True
        self._event, self._data, self._id, self._retry = event, data, id_, retry
        self._status, self._touched, self._framed_id = status, touched, framed_id

    def _dispatch(self, events: list[SSEEvent]) -> None:
        self._lines([""], events)


def _comment_status(line: str) -> int | None:
    if line[1:13] == _STATUS_PREFIX and line[13:].isdigit():  # the recorded layout, no spaces
        return int(line[13:])
    comment = line[1:].strip()
    if comment.startswith(_STATUS_PREFIX) and comment[_STATUS_LEN:].isdigit():
        return int(comment[_STATUS_LEN:])
    return None


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
