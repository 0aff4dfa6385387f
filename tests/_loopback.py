"""The serving skeleton of the loopback servers the tests write (not the emulator).

``with serve(Handler) as server:`` serves a request handler class on a free 127.0.0.1 port from
a daemon thread (a thread per connection) and shuts it down after the block; ``serving(server)``
does the same for a server instance of a class of its own. ``QuietHandler`` logs nothing and
answers with chunked bodies (``send_chunked``: each piece one chunk, flushed at once).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, TypeVar

__all__ = ["QuietHandler", "api_url", "serve", "serving"]

S = TypeVar("S", bound=HTTPServer)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing; ``send_chunked`` writes a chunked answer."""

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def send_chunked(
        self, status: int, headers: Iterable[tuple[str, str]], pieces: Iterable[bytes]
    ) -> None:
        """Answer ``status`` with ``headers`` and a chunked body, one chunk per piece."""
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for piece in pieces:
            self.write_chunk(piece)
        self.wfile.write(b"0\r\n\r\n")

    def write_chunk(self, piece: bytes) -> None:
        """Write and flush one chunk of a chunked body."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.flush()


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve ``server`` from a daemon thread for the block, then shut it down and close it."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    """Serve ``handler`` on a free loopback port for the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    with serving(server):
        yield server


def api_url(server: HTTPServer, path: str = "/api/v1") -> str:
    """``http://127.0.0.1:<port>`` plus ``path`` (the native API base by default)."""
    return f"http://127.0.0.1:{server.server_address[1]}{path}"
