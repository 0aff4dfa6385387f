"""Image synthesis against recorded production answers served by a tiny stdlib HTTP server.

Independent of the emulator: a ``ThreadingHTTPServer`` on loopback replays the recorded task
bodies (``shared/fixtures/recorded``, BOM stripped) with their recorded kind of framing
(gzip, chunked), and hostile variants: 1-byte chunks, a 503 with ``Retry-After`` between polls,
unknown fields. Both clients go through their real senders over real sockets.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from _loopback import QuietHandler, api_url, serving
from _recorded import recording_bytes

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.errors import TaskFailedError

KEY = "sk-recorded-replay-key"


def _body(name: str) -> bytes:
    return recording_bytes(f"{name}.response.body.txt")


@dataclass
class Answer:
    """One scripted answer: status, body, and how it is framed on the wire."""

    body: bytes
    status: int = 200
    chunk: int = 0
    """0: Content-Length; n: chunked transfer encoding in n-byte pieces."""
    gzip: bool = False
    headers: tuple[tuple[str, str], ...] = ()


class Replay(ThreadingHTTPServer):
    """Serves ``answers`` in order and records each request (method, path, headers, body)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[Answer] = []
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []

    @property
    def base_url(self) -> str:
        return api_url(self)


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: Replay

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.seen.append((self.command, self.path, headers, body))
        answer = self.server.answers.pop(0)
        payload = gzip.compress(answer.body) if answer.gzip else answer.body
        headers = [("content-type", "application/json;charset=UTF-8"), *answer.headers]
        if answer.gzip:
            headers.append(("content-encoding", "gzip"))
        if answer.chunk:
            step = answer.chunk
            pieces = [payload[i : i + step] for i in range(0, len(payload), step)]
            self.send_chunked(answer.status, headers, pieces)
        else:
            self.send_response(answer.status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    with serving(Replay()) as server:
        yield server


def _generate(mode: str, replay: Replay, sleeps: list[float], **options: Any) -> Any:
    args: dict[str, Any] = {"n": 4, "size": "1024*1024", "interval": 0.25, **options}
    if mode == "sync":
        with DashScope(KEY, replay.base_url, sleep=sleeps.append) as client:
            return client.images.generate("wanx-v1", "一只奔跑的猫", **args)

    async def record(seconds: float) -> None:
        sleeps.append(seconds)

    async def main() -> Any:
        async with AsyncDashScope(KEY, replay.base_url, sleep=record) as client:
            return await client.images.generate("wanx-v1", "一只奔跑的猫", **args)

    return asyncio.run(main())


@pytest.fixture
def fresh(replay: Replay) -> Iterator[Replay]:
    replay.answers.clear()
    replay.seen.clear()
    yield replay
    assert replay.answers == [], "scripted answers left unused"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("chunk", [0, 1, 61])
def test_recorded_task_flow_over_real_http(fresh: Replay, mode: str, chunk: int) -> None:
    fresh.answers += [
        Answer(_body("image-synthesis-nosse"), chunk=chunk, gzip=True),
        Answer(_body("get-task-running-nosse"), chunk=chunk),
        Answer(_body("get-task-image-synthesis-success-nosse"), chunk=chunk, gzip=True),
    ]
    sleeps: list[float] = []
    seen: list[str] = []
    task = _generate(mode, fresh, sleeps, progress=lambda t: seen.append(t.status))
    recorded = json.loads(_body("get-task-image-synthesis-success-nosse"))
    assert [r.url for r in task.output.results] == [r["url"] for r in recorded["output"]["results"]]
    assert task.request_id == recorded["request_id"] and task.usage.image_count == 4
    assert seen == ["PENDING", "RUNNING", "SUCCEEDED"]
    task_id = recorded["output"]["task_id"]
    assert [(m, p) for m, p, _, _ in fresh.seen] == [
        ("POST", "/api/v1/services/aigc/text2image/image-synthesis"),
        ("GET", f"/api/v1/tasks/{task_id}"),
        ("GET", f"/api/v1/tasks/{task_id}"),
    ]
    first = fresh.seen[0][2]
    assert first["x-dashscope-async"] == "enable" and first["authorization"] == f"Bearer {KEY}"
    assert all("x-dashscope-async" not in h for _, _, h, _ in fresh.seen[1:])
    assert sleeps == [0.25]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_hostile_variants_503_between_polls_unknown_fields_and_failure(
    fresh: Replay, mode: str
) -> None:
    running = json.loads(_body("get-task-running-nosse"))
    running["output"]["brand_new_field"] = {"nested": [1, 2]}
    failed = json.loads(_body("get-task-running-nosse"))
    failed["output"].update(task_status="FAILED", code="DataInspectionFailed", message="unsafe")
    busy = b'{"code":"ServiceUnavailable","message":"busy","request_id":"r-503"}'
    fresh.answers += [
        Answer(_body("image-synthesis-nosse")),
        Answer(busy, status=503, headers=(("retry-after", "2"),)),
        Answer(json.dumps(running).encode(), chunk=7),
        Answer(json.dumps(failed).encode(), chunk=1),
    ]
    sleeps: list[float] = []
    with pytest.raises(TaskFailedError, match="unsafe") as info:
        _generate(mode, fresh, sleeps)
    assert info.value.code == "DataInspectionFailed"
    assert info.value.request_id == failed["request_id"]
    assert sleeps == [2.0, 0.25]  # Retry-After honoured on the poll, then the interval
    assert [m for m, _, _, _ in fresh.seen] == ["POST", "GET", "GET", "GET"]
