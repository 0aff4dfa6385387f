"""An independent local DashScope server for acceptance tests (not ``dashscope_core.emulator``).

Rules of this module:
- stdlib only (``http.server`` in a thread): nothing here is shared with the package under test,
  so a mistake in our emulator or protocol code cannot hide a mistake in the client.
- Answers are shaped exactly like the recorded production traffic in
  ``shared/fixtures/recorded`` (SSE frames with no blank line between them, ``finish_reason``
  ``"null"`` while streaming, cumulative usage in every frame, ``x-request-id`` header); recorded
  bodies can be replayed verbatim. Streams are sent in small chunks that split lines and UTF-8.
- Generation answers are queued per test (``answer``/``replay``); an unqueued call gets a 400, so
  a test never passes on a made-up answer. Embeddings are answered from the text (word hashing).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _loopback import QuietHandler, api_url, serve
from _recorded import recording_bytes

GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL = "/api/v1/services/aigc/multimodal-generation/generation"
EMBEDDING = "/api/v1/services/embeddings/text-embedding/text-embedding"
DIMENSIONS = 64
_SKIPPED_HEADERS = {"transfer-encoding", "content-length", "connection"}


def load(name: str) -> bytes:
    """A recorded file's bytes (the UTF-8 BOM some files were saved with is not wire data)."""
    return recording_bytes(name)


@dataclass
class Reply:
    """One HTTP answer; ``chunks`` are written one by one (chunked transfer encoding)."""

    status: int
    headers: dict[str, str]
    chunks: list[bytes]
    stream: bool = False
    delay: float = 0.0
    """Seconds to wait before the status line (a slow first byte)."""


@dataclass
class Received:
    """A request as the server saw it."""

    path: str
    headers: dict[str, str]
    json: dict[str, Any]


def recorded(name: str) -> Reply:
    """The recorded response ``name`` (``*-sse`` bodies split into small chunks)."""
    head = load(f"{name}.response.header.txt").decode().splitlines()
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        key, _, value = line.partition(":")
        if key.strip() and key.strip().lower() not in _SKIPPED_HEADERS:
            headers[key.strip().lower()] = value.strip()
    body = load(f"{name}.response.body.txt")
    if headers.get("content-encoding") == "gzip":  # stored decoded; production sent it gzipped
        body = gzip.compress(body)
    stream = name.endswith("-sse")
    return Reply(status, headers, split(body) if stream else [body], stream)


def split(body: bytes, size: int = 7) -> list[bytes]:
    """``body`` in ``size``-byte pieces: lines, field names and UTF-8 characters get cut."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def error(status: int, code: str, message: str) -> Reply:
    """A DashScope error body (as in ``auth-error-nosse``)."""
    request_id = str(uuid.uuid4())
    body = json.dumps({"code": code, "message": message, "request_id": request_id})
    return Reply(status, _json_headers(request_id), [body.encode()])


def _json_headers(request_id: str) -> dict[str, str]:
    return {"content-type": "application/json", "x-request-id": request_id}


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"total_tokens": prompt + completion, "output_tokens": completion,
            "input_tokens": prompt}  # fmt: skip


def _frame(n: int, body: dict[str, Any], event: str = "result", status: int = 200) -> bytes:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"id:{n}\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{data}\n".encode()


@dataclass
class Answer:
    """A generation answer: text and/or tool calls, rendered per request (stream or not)."""

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning: str = ""
    pieces: int = 3
    """Stream pieces per text / per tool-call argument string."""
    cut_after: int | None = None
    """Stop the stream after this many frames, without the final one."""
    error_after: int | None = None
    """Send an ``event:error`` frame (``:HTTP_STATUS/429``) after this many frames."""
    finish: str = ""
    """The final ``finish_reason`` (default ``tool_calls`` with calls, else ``stop``)."""
    _parts: bool = False

    def render(self, request: Received) -> Reply:
        """The reply to ``request``: one JSON body, or SSE frames as the recordings show them."""
        request_id = str(uuid.uuid4())
        self._parts = request.path == MULTIMODAL  # multimodal content is a list of parts
        if request.headers.get("x-dashscope-sse") != "enable":
            body = self._body(self._message(self.text, self.reasoning, self._calls()), "")
            body["request_id"] = request_id
            return Reply(200, _json_headers(request_id), [json.dumps(body).encode()])
        incremental = request.json.get("parameters", {}).get("incremental_output") is True
        frames = b"".join(self._frames(request_id, incremental))
        headers = {"content-type": "text/event-stream;charset=UTF-8", "x-request-id": request_id}
        return Reply(200, headers, split(frames), stream=True)

    def _calls(self) -> list[dict[str, Any]]:
        return [
            {"function": {"name": c["name"], "arguments": c["arguments"]}, "index": i,
             "id": c["id"], "type": "function"}
            for i, c in enumerate(self.tool_calls)
        ]  # fmt: skip

    def _message(self, text: str, reasoning: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
        content: Any = [{"text": text}] if self._parts and text else text
        message: dict[str, Any] = {"content": content, "role": "assistant"}
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = calls
        return message

    def _body(self, message: dict[str, Any], finish: str) -> dict[str, Any]:
        finish = finish or self.finish or ("tool_calls" if self.tool_calls else "stop")
        out = len(self.text.split()) + len(self.tool_calls) * 8 + len(self.reasoning.split())
        return {"output": {"choices": [{"message": message, "finish_reason": finish}]},
                "usage": _usage(20, out)}  # fmt: skip

    def _deltas(self) -> Iterator[dict[str, Any]]:
        for piece in _pieces(self.reasoning, self.pieces):
            yield self._message("", piece, [])
        for piece in _pieces(self.text, self.pieces):
            yield self._message(piece, "", [])
        # PROTOCOL.md: the first fragment has id and name, later ones "id":"" and argument pieces
        for i, call in enumerate(self.tool_calls):
            pieces = call.get("fragments") or _pieces(call["arguments"], self.pieces) or [""]
            for j, piece in enumerate(pieces):
                fn = {"name": call["name"] if j == 0 else "", "arguments": piece}
                wire = {"index": i, "id": call["id"] if j == 0 else "", "type": "function",
                        "function": fn}  # fmt: skip
                yield self._message("", "", [wire])

    def _frames(self, request_id: str, incremental: bool) -> Iterator[bytes]:
        text = reasoning = ""
        n = 0
        for n, delta in enumerate(self._deltas(), start=1):
            if n - 1 == self.cut_after:
                return
            if n - 1 == self.error_after:
                body = {"code": "Throttling", "message": "Requests throttling triggered.",
                        "request_id": request_id}  # fmt: skip
                yield _frame(n, body, "error", 429)
                return
            if not incremental:  # the server default: every frame carries the text so far
                text += delta["content"]
                reasoning += delta.get("reasoning_content", "")
                delta = self._message(text, reasoning, delta.get("tool_calls", []))
            yield _frame(n, {**self._body(delta, "null"), "request_id": request_id})
        final = self._body(self._message("", "", []), "")
        yield _frame(n + 1, {**final, "request_id": request_id})


def _pieces(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` pieces at character offsets (spaces stay where they fall)."""
    if not text:
        return []
    size = max(1, math.ceil(len(text) / count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def embedding(text: str) -> list[float]:
    """A unit bag-of-words vector: texts sharing words are close."""
    vector = [0.0] * DIMENSIONS
    for word in re.findall(r"\w+", text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class IndependentDashScope:
    """The server's state: queued generation replies and the received-request log."""

    def __init__(self) -> None:
        self.queue: deque[Answer | Reply] = deque()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def answer(self, text: str = "", **options: Any) -> None:
        """Queue a generation answer (``tool_calls=[{"id","name","arguments"[,"fragments"]}]``)."""
        self.queue.append(Answer(text, **options))

    def replay(self, reply: Reply) -> None:
        """Queue a verbatim reply (a recorded response or an error)."""
        self.queue.append(reply)

    def requests(self, path: str = GENERATION) -> list[Received]:
        """The requests received on ``path``."""
        return [r for r in self.received if r.path == path]

    def respond(self, request: Received) -> Reply:
        """The reply to one request."""
        with self.lock:
            self.received.append(request)
            if request.path == EMBEDDING:
                return _embeddings(request)
            if request.path not in (GENERATION, MULTIMODAL):
                return error(404, "NotFound", f"no route {request.path}")
            if not self.queue:
                return error(400, "InvalidParameter", "test server: no answer queued")
            item = self.queue.popleft()
        return item.render(request) if isinstance(item, Answer) else item


def _embeddings(request: Received) -> Reply:
    texts = request.json["input"]["texts"]
    request_id = str(uuid.uuid4())
    vectors = [{"embedding": embedding(t), "text_index": i} for i, t in enumerate(texts)]
    words = sum(len(t.split()) for t in texts)
    body = {"output": {"embeddings": vectors}, "usage": {"total_tokens": words},
            "request_id": request_id}  # fmt: skip
    return Reply(200, _json_headers(request_id), [json.dumps(body).encode()])


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    state: IndependentDashScope

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Received(self.path, headers, json.loads(raw or b"{}"))
        reply = self.state.respond(request)
        time.sleep(reply.delay)
        self.send_chunked(reply.status, reply.headers.items(), reply.chunks)


@contextmanager
def serve_independent() -> Iterator[IndependentDashScope]:
    """Serve a fresh state on a free loopback port (``state.base_url`` ends in ``/api/v1``)."""
    state = IndependentDashScope()
    with serve(type("Handler", (_Handler,), {"state": state})) as server:
        state.base_url = api_url(server)
        yield state
