"""A rate-limited DashScope generation server that is not our emulator (written for the tests).

It enforces its limits its own way: requests per calendar second (fixed windows, RPM/60) and per
minute, tokens per calendar second and per minute, counted when a request is admitted; refusals
are the service's 429 bodies (streams: HTTP 200 and one ``event:error`` frame). It answers every
generation with ``len(words)`` input tokens and a fixed 12-token reply, and counts what it sent.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any

from _loopback import QuietHandler, api_url, serving

REPLY = "the answer is twelve tokens long and it is the same every time"
OUTPUT_TOKENS = len(REPLY.split())


class ThrottlingServer(ThreadingHTTPServer):
    """Limits and counters; ``base_url`` once started."""

    daemon_threads = True

    def __init__(self, rpm: float, tpm: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.rpm, self.tpm = rpm, tpm
        self.lock = threading.Lock()
        self.admitted: list[tuple[float, int]] = []
        self.refused: Counter[str] = Counter()

    @property
    def base_url(self) -> str:
        return api_url(self)

    def admit(self, tokens: int) -> str | None:
        """The refusing code, or None (and the request is counted)."""
        now = time.time()
        with self.lock:
            minute = [(t, n) for t, n in self.admitted if t > now - 60]
            second = [(t, n) for t, n in minute if math.floor(t) == math.floor(now)]
            if len(second) + 1 > math.ceil(self.rpm / 60) or len(minute) + 1 > self.rpm:
                code = "Throttling.RateQuota"
            elif self.tpm is not None and (
                sum(n for _, n in second) + tokens > max(tokens, self.tpm / 60)
                or sum(n for _, n in minute) + tokens > self.tpm
            ):
                code = "Throttling.AllocationQuota"
            else:
                self.admitted.append((now, tokens))
                return None
            self.refused[code] += 1
            return code


class _Handler(QuietHandler):
    server: ThrottlingServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        words = sum(len(str(m.get("content", "")).split()) for m in body["input"]["messages"])
        stream = self.headers.get("X-DashScope-SSE") == "enable"
        request_id = str(uuid.uuid4())
        code = self.server.admit(words + OUTPUT_TOKENS)
        if code is not None:
            message = "Requests rate limit exceeded."
            error = {"code": code, "message": message, "request_id": request_id}
            if stream:
                return self._send(200, _frame(error, "error", 429), "text/event-stream")
            return self._send(429, json.dumps(error), "application/json")
        usage = {"input_tokens": words, "output_tokens": OUTPUT_TOKENS,
                 "total_tokens": words + OUTPUT_TOKENS}  # fmt: skip
        answer = {"output": {"text": REPLY, "finish_reason": "stop"}, "usage": usage,
                  "request_id": request_id}  # fmt: skip
        if stream:
            return self._send(200, _frame(answer, "result", 200), "text/event-stream")
        return self._send(200, json.dumps(answer), "application/json")

    def _send(self, status: int, text: str, content_type: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _frame(data: dict[str, Any], event: str, status: int) -> str:
    return f"id:1\nevent:{event}\n:HTTP_STATUS/{status}\ndata:{json.dumps(data)}\n\n"


@contextmanager
def throttling_server(rpm: float, tpm: float | None = None) -> Iterator[ThrottlingServer]:
    """Serve from a thread for the block."""
    with serving(ThrottlingServer(rpm, tpm)) as server:
        yield server
