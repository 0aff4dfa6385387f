"""An independent Bailian app server (stdlib only, not our emulator) with the service's sessions.

Rules of this module:
- ``POST /api/v1/apps/{app_id}/completion`` as PROTOCOL.md "Application completion" and the
  recorded ``application-*`` exchanges: JSON, or SSE frames (``id``/``event:result``/
  ``:HTTP_STATUS/200``/``data``) when ``X-DashScope-SSE: enable``; incremental frames when
  ``parameters.incremental_output`` is true, cumulative otherwise; the last frame has
  ``finish_reason: "stop"``; ``session_id`` in every answer; ``x-request-id`` header.
- Like the real service, only ``prompt`` turns are recorded in a session. A ``messages`` call
  is answered from its own messages and leaves the session untouched.
- The "model" remembers one fact: "my favourite colour is X" anywhere in what it knows (the
  session's recorded turns, or the call's messages) answers "What is my favourite colour?".
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from _loopback import QuietHandler, api_url, serve

_SAYS = re.compile(r"my favou?rite colou?r is (\w+)", re.IGNORECASE)
_ASKS = re.compile(r"what is my favou?rite colou?r", re.IGNORECASE)


@dataclass
class SessionServer:
    """State of one server: sessions (prompt turns only) and every request body received."""

    base_url: str = ""
    sessions: dict[str, list[str]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, body: dict[str, Any]) -> tuple[str, str]:
        """The session id and the answer text for one request body."""
        inp = body.get("input") or {}
        session_id = inp.get("session_id") or uuid.uuid4().hex
        with self.lock:
            self.received.append(body)
            known = list(self.sessions.get(session_id, []))
            messages = inp.get("messages")
            if messages:  # client-kept history: answered from it, never recorded
                said = [m.get("content", "") for m in messages if m.get("role") == "user"]
                question = said[-1] if said else ""
                known += said[:-1]
            else:
                question = str(inp.get("prompt") or "")
                self.sessions.setdefault(session_id, []).append(question)
        return session_id, _reply(question, known)


def _reply(question: str, known: list[str]) -> str:
    if not _ASKS.search(question):
        return "Noted, thank you."
    colours = [m.group(1) for text in known if (m := _SAYS.search(text))]
    return f"Your favourite colour is {colours[-1]}." if colours else "I do not know it yet."


def _frames(session_id: str, text: str, incremental: bool) -> Iterator[bytes]:
    words = re.findall(r"\S+\s*", text)
    request_id = uuid.uuid4().hex
    so_far = ""
    for i, word in enumerate([*words, ""], 1):
        so_far += word
        final = i == len(words) + 1
        output = {"session_id": session_id, "finish_reason": "stop" if final else "null",
                  "text": word if incremental else so_far}  # fmt: skip
        usage = {"models": [{"model_id": "qwen-plus", "input_tokens": 9, "output_tokens": i}]}
        data = json.dumps({"output": output, "usage": usage, "request_id": request_id})
        yield f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode()


class _Handler(QuietHandler):
    server_state: SessionServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not re.fullmatch(r"/api/v1/apps/[^/]+/completion", self.path):
            self.send_error(404)
            return
        session_id, text = self.server_state.answer(body)
        if self.headers.get("X-DashScope-SSE") == "enable":
            incremental = (body.get("parameters") or {}).get("incremental_output") is True
            payload = b"".join(_frames(session_id, text, incremental))
            kind = "text/event-stream;charset=UTF-8"
        else:
            usage = {"models": [{"model_id": "qwen-plus", "input_tokens": 9, "output_tokens": 5}]}
            output = {"text": text, "finish_reason": "stop", "session_id": session_id}
            payload = json.dumps({"output": output, "usage": usage,
                                  "request_id": uuid.uuid4().hex}).encode()  # fmt: skip
            kind = "application/json"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", uuid.uuid4().hex)
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def session_server() -> Iterator[SessionServer]:
    """Serve a fresh ``SessionServer`` on a free loopback port in a background thread."""
    state = SessionServer()
    with serve(type("Handler", (_Handler,), {"server_state": state})) as httpd:
        state.base_url = api_url(httpd)
        yield state
