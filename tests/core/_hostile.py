"""Hostile loopback HTTP servers on plain sockets (not our emulator, not ``http.server``).

Each accepted connection runs ``answer(conn, request)`` for every request it reads; the answer
writes raw bytes however it likes (trickled, cut, lying about lengths, redirecting, compressed)
and returns whether to keep reading requests on that connection. What the server saw is kept
for the test: the requests (method, path, headers, body) and how many connections it accepted.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    """One request as the server read it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Conn:
    """One accepted connection: raw writes, and what was written."""

    sock: socket.socket
    sent: int = 0
    closed_by_peer: bool = False

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone away."""
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed_by_peer = True
            return False
        self.sent += len(data)
        return True

    def reply(self, status: int, body: bytes | dict[str, Any], *headers: tuple[str, str]) -> bool:
        """A complete answer with a correct Content-Length (JSON for a dict body)."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers = (("content-type", "application/json"), *headers)
        head = f"HTTP/1.1 {status} X\r\ncontent-length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers)
        return self.send(head.encode() + b"\r\n" + body)


Answer = Callable[[Conn, Request], bool]


@dataclass
class Hostile:
    """The running server: its base URL and what it saw."""

    answer: Answer
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    connections: list[Conn] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/api/v1"

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


def _read_request(reader: Any) -> Request | None:
    line = reader.readline()
    if not line or not line.strip():
        return None
    method, path, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        header = reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = reader.read(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(reader)
    return Request(method, path, headers, body)


def _read_chunked(reader: Any) -> bytes:
    parts = []
    while True:
        size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            reader.readline()
            return b"".join(parts)
        parts.append(reader.read(size))
        reader.readline()


def _serve_connection(server: Hostile, sock: socket.socket) -> None:
    conn = Conn(sock)
    with server.lock:
        server.connections.append(conn)
    reader = sock.makefile("rb")
    try:
        while True:
            request = _read_request(reader)
            if request is None:
                return
            with server.lock:
                server.requests.append(request)
            if not server.answer(conn, request):
                return
    except OSError:
        conn.closed_by_peer = True
    finally:
        reader.close()
        sock.close()


@contextmanager
def hostile(answer: Answer) -> Iterator[Hostile]:
    """Serve ``answer`` on a free loopback port until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    server = Hostile(answer, port=listener.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(30)
            threading.Thread(target=_serve_connection, args=(server, sock), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        listener.close()
