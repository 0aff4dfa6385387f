"""A local DashScope stand-in that replays recorded production answers (not our emulator).

Rules of this module:
- stdlib only (``http.server`` in a thread): nothing is shared with the package under test or
  with ``dashscope_core.emulator``, so neither can hide a mistake in the other.
- Replies are queued per test; a request with nothing queued gets a 400, so a test never passes
  on an invented answer, unless ``replay_recorded`` is on: then every generation call gets the
  recorded message answer (SSE or not, as asked) and embeddings the recorded vector per text.
- Recorded headers are sent as recorded (``content-encoding: gzip`` included, so such bodies are
  gzipped), bodies in ``chunk``-byte pieces that split SSE lines, field names and UTF-8.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from _loopback import QuietHandler, api_url, serve
from _recorded import recording_bytes

_HOP_HEADERS = {"transfer-encoding", "content-length", "connection"}


def load(name: str) -> bytes:
    """A recorded file's bytes (a UTF-8 BOM some files were saved with is not wire data)."""
    return recording_bytes(name)


def recorded_request(name: str) -> dict[str, Any]:
    """The recorded request body of exchange ``name``."""
    parsed: dict[str, Any] = json.loads(load(f"{name}.request.body.json"))
    return parsed


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    chunk: int = 7


def recorded(name: str, *, body: bytes | None = None, chunk: int = 7) -> Reply:
    """The recorded response ``name``; ``body`` replaces the recorded body (hostile variants)."""
    head = load(f"{name}.response.header.txt").decode().splitlines()
    headers = {}
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip() and key.strip().lower() not in _HOP_HEADERS:
            headers[key.strip().lower()] = value.strip()
    raw = load(f"{name}.response.body.txt") if body is None else body
    return Reply(int(head[0].split()[1]), headers, raw, chunk)


@dataclass
class Received:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    json: Any


class ReplayState:
    """Queued replies and the received-request log of one server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.queue: deque[Reply] = deque()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.replay_recorded = False

    def queue_recorded(self, *names: str, chunk: int = 7) -> None:
        """Queue the recorded responses ``names``, in order."""
        self.queue.extend(recorded(name, chunk=chunk) for name in names)

    def next_reply(self, request: Received) -> Reply:
        """Log ``request``; the next queued reply, or a 400 when nothing is queued."""
        with self.lock:
            self.received.append(request)
            if self.queue:
                return self.queue.popleft()
        if self.replay_recorded:
            return _recorded_answer(request)
        body = {"code": "InvalidParameter", "message": "replay: nothing queued", "request_id": "r"}
        return Reply(400, {"content-type": "application/json"}, json.dumps(body).encode())


def _recorded_answer(request: Received) -> Reply:
    """The recorded answer that fits ``request``: embeddings, a stream or a JSON message."""
    if request.path.endswith("/text-embedding"):
        reply = recorded("text-embedding-nosse")
        body = json.loads(reply.body)
        vector = body["output"]["embeddings"][0]["embedding"]
        texts = request.json["input"]["texts"]
        body["output"]["embeddings"] = [{"embedding": vector, "text_index": i}
                                        for i in range(len(texts))]  # fmt: skip
        reply.body = json.dumps(body).encode()
        return reply
    if request.headers.get("x-dashscope-sse") == "enable":
        return recorded("single-generation-message-sse")
    return recorded("single-generation-message-nosse")


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    state: ReplayState

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.state.next_reply(Received(self.path, headers, json.loads(raw or b"null")))
        body = reply.body
        if reply.headers.get("content-encoding") == "gzip":
            body = gzip.compress(body)
        step = reply.chunk
        pieces = [body[i : i + step] for i in range(0, len(body), step)]
        self.send_chunked(reply.status, reply.headers.items(), pieces)


@contextmanager
def replay_server() -> Iterator[ReplayState]:
    """Serve a fresh ``ReplayState`` on a free loopback port (``base_url`` ends in /api/v1)."""
    with serve(_Handler) as server:
        state = ReplayState(api_url(server))
        server.RequestHandlerClass = type("Handler", (_Handler,), {"state": state})
        yield state
