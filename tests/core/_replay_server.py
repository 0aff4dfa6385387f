"""A minimal stdlib HTTP/1.1 server that replays canned DashScope answers, faults included.

It is independent of ``dashscope_core.emulator`` on purpose: the client is checked against
bytes taken verbatim from production recordings (shared/fixtures/recorded/), not against our
own server. Each queued ``Act`` answers one request: recorded headers + body sent chunked at
chosen offsets, or a fault (reset before the response, a cut or stalled body).
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
from _loopback import QuietHandler, api_url, serve
from _recorded import recording_text

_HOP = {"transfer-encoding", "content-length", "connection", "content-encoding"}


def recorded_text(name: str, part: str) -> str:
    """One recorded file (``request.body.json``, ``response.body.txt``, ...) without its BOM."""
    return recording_text(f"{name}.{part}")


@dataclass
class Act:
    """One answer: status, headers and body pieces, or a fault."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)
    reset: bool = False
    """Close the socket with RST before sending anything."""
    abort_after: int | None = None
    """Send this many pieces, then drop the connection without ending the chunked body."""
    stall_after: int | None = None
    """Send this many pieces, then wait ``stall`` seconds before the rest."""
    stall: float = 0.0


def recorded_act(name: str, split: int = 0) -> Act:
    """The recorded answer ``name`` verbatim, its body in pieces of ``split`` bytes (0: whole)."""
    status_line, *lines = recorded_text(name, "response.header.txt").splitlines()
    headers = [tuple(p.strip() for p in line.split(":", 1)) for line in lines if ":" in line]
    body = recorded_text(name, "response.body.txt").encode()
    return Act(
        status=int(status_line.split()[1]),
        headers=[(k, v) for k, v in headers if k.lower() not in _HOP],
        pieces=pieces(body, split),
    )


def pieces(body: bytes, split: int) -> list[bytes]:
    """``body`` cut every ``split`` bytes (inside field names and UTF-8 characters alike)."""
    if split <= 0:
        return [body]
    return [body[i : i + split] for i in range(0, len(body), split)]


def json_act(status: int, body: Any, **headers: str) -> Act:
    """A JSON answer (``x_request_id="r1"`` becomes the ``x-request-id`` header)."""
    pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Act(status, [("content-type", "application/json"), *pairs], [raw])


@dataclass
class Replay:
    """The queue of answers and the log of received requests."""

    acts: list[Act] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def queue(self, *acts: Act) -> None:
        """Answer the next requests with ``acts``, in order."""
        self.acts.extend(acts)


class _Aborted(Exception):
    """An ``Act`` drops the connection here."""


def _paced(act: Act) -> Iterator[bytes]:
    """The pieces of ``act``, stalling and aborting where it says."""
    for i, piece in enumerate(act.pieces):
        if i == act.abort_after:
            raise _Aborted
        if i == act.stall_after:
            time.sleep(act.stall)
        yield piece


def _handler(state: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            multipart = "multipart/" in self.headers.get("content-type", "")
            state.received.append({
                "method": self.command, "path": self.path,
                "headers": httpx.Headers(self.headers.items()),
                "json": json.loads(body) if body and not multipart else None, "body": body,
            })  # fmt: skip
            act = state.acts.pop(0) if state.acts else json_act(500, {"code": "NoAct"})
            if act.reset:
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            try:
                self._send(act)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _send(self, act: Act) -> None:
            try:
                self.send_chunked(act.status, act.headers, _paced(act))
            except _Aborted:  # the body is never ended
                self.wfile.flush()
                self.close_connection = True

        do_GET = do_POST = do_DELETE = _answer

    return Handler


@contextmanager
def replay_server() -> Iterator[Replay]:
    """Serve a ``Replay`` on a free loopback port (``base_url`` ends in ``/api/v1``)."""
    state = Replay()
    with serve(_handler(state)) as server:
        state.base_url = api_url(server)
        yield state
