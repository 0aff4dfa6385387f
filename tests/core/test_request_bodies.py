"""``RequestSpec`` bodies and hosts over real loopback HTTP: multipart uploads streamed from file
objects, raw bodies (bytes, or an iterator sent once), and the headers another host gets.

The server is ``_hostile``'s plain-socket one (no HTTP library on the server side).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hostile import Conn, Request, hostile
from test_hostile_servers import THROTTLED, Side

from dashscope_core import RetryPolicy
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.errors import RateLimitError

FILE_SIZE = 3 * 1024 * 1024 + 17


class ReadRecorder(io.FileIO):
    """A file that remembers how much each ``read`` asked for."""

    sizes: list[int]

    def read(self, size: int = -1) -> bytes:
        self.sizes.append(size)
        return super().read(size)


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "batch.jsonl"
    line = b'{"custom_id":"1","method":"POST","url":"/v1/chat/completions","body":{}}\n'
    path.write_bytes((line * (FILE_SIZE // len(line) + 1))[:FILE_SIZE])
    return path


def _ok(conn: Conn, request: Request) -> bool:
    return conn.reply(200, {"id": "file-1", "bytes": len(request.body)})


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_multipart_upload_is_streamed_from_the_file(mode: str, big_file: Path) -> None:
    with hostile(_ok) as server:
        ds = Side(mode, server.base_url)
        handle = ReadRecorder(big_file, "rb")
        handle.sizes = []
        spec = RequestSpec(
            "POST", f"{server.origin}/upload", files={"file": ("batch.jsonl", handle)},
            data={"purpose": "batch"}, replay_safe=False,
        )  # fmt: skip
        assert ds.run(lambda c: c._send(spec)).json()["id"] == "file-1"
        handle.close()
        ds.close()
    (request,) = server.requests
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert big_file.read_bytes() in request.body and b'name="purpose"' in request.body
    assert handle.sizes and max(handle.sizes) <= 64 * 1024  # read in pieces, never whole


def test_another_host_gets_none_of_our_headers(mode: str) -> None:
    with hostile(_ok) as upload, hostile(_ok) as api:
        ds = Side(mode, api.base_url, workspace="ws-7", default_headers={"X-Gateway": "g"})
        headers = {"X-DashScope-OssResourceResolve": "enable", "x-oss-object-acl": "private"}
        for origin in (upload.origin, api.origin):
            spec = RequestSpec("POST", f"{origin}/api/v1/x", data={"k": "v"}, headers=headers)
            ds.run(lambda c, s=spec: c._send(s))
        ds.close()
    (elsewhere,) = upload.requests
    (home,) = api.requests
    assert elsewhere.headers["x-oss-object-acl"] == "private"
    for name in ("authorization", "x-dashscope-workspace", "x-gateway",
                 "x-dashscope-ossresourceresolve"):  # fmt: skip
        assert name not in elsewhere.headers and name in home.headers
    assert elsewhere.body == home.body == b"k=v"


def _throttle_then_ok() -> Any:
    answers = iter([429, 429, 200])

    def answer(conn: Conn, request: Request) -> bool:
        if next(answers) == 429:
            return conn.reply(429, THROTTLED)
        return conn.reply(200, {"got": len(request.body)})

    return answer


def test_an_iterator_body_is_sent_once_bytes_are_resent(mode: str) -> None:
    def pieces() -> Iterator[bytes]:
        yield b"first,"
        yield b"second"

    async def apieces() -> Any:
        for piece in pieces():
            yield piece

    with hostile(_throttle_then_ok()) as server:
        ds = Side(mode, server.base_url, retry_policy=RetryPolicy(backoff_base=0.001))
        once = RequestSpec("POST", "/raw", content=pieces() if mode == "sync" else apieces())
        with pytest.raises(RateLimitError):  # its body is gone: a 429 is not replayed
            ds.run(lambda c: c._send(once))
        again = RequestSpec("POST", "/raw", content=b"first,second")
        assert ds.run(lambda c: c._send(again)).json() == {"got": 12}
        ds.close()
    assert [r.body for r in server.requests] == [b"first,second"] * 3


def test_a_spec_has_one_body() -> None:
    with pytest.raises(ValueError, match="json, content"):
        RequestSpec("POST", "/x", json={}, content=b"x")
    with pytest.raises(ValueError, match="files/data"):
        RequestSpec("POST", "/x", json={}, data={"a": "b"})
