"""Keep-alive pool of standard-library ``http.client`` connections (``DashScope``'s sender).

Rules of this module:
- A connection is lent to one request at a time (``take``) and handed back (``give``) only
  after its response was read to the end and the server did not ask to close it.
- An idle connection is reused only if it is younger than ``keepalive_expiry`` and its socket
  has nothing to read (a server that closed an idle connection makes it readable: EOF), the
  check httpcore makes; otherwise it is closed and a new one is opened.
- New connections are connected here, so a failure at this point never sent a byte.
- At most ``max_keepalive`` idle connections are kept per origin; more in flight are fine.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time

__all__ = ["ConnectionPool", "Origin"]

Origin = tuple[str, str, int]
"""(scheme, host, port) of the connections that can serve a request."""


class ConnectionPool:
    """Idle keep-alive ``http.client`` connections per origin (thread-safe)."""

    def __init__(
        self, ssl_context: ssl.SSLContext, *, max_keepalive: int, keepalive_expiry: float | None
    ) -> None:
        self._ssl_context = ssl_context
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self.closed = False

    def take(self, origin: Origin, connect_timeout: float | None) -> http.client.HTTPConnection:
        """An idle live connection to ``origin``, else a newly connected one (may raise
        ``OSError``: nothing was sent)."""
        now = time.monotonic()
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                entry = idle.pop() if idle else None
            if entry is None:
                break
            conn, since = entry
            if (self._expiry is None or now - since < self._expiry) and _alive(conn):
                return conn
            conn.close()
        scheme, host, port = origin
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        return conn

    def give(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        """Keep ``conn`` (its response fully read) for the next request to ``origin``."""
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if not self.closed and len(idle) < self._max_keepalive:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        """Close the idle connections; connections handed back later are closed too."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, {}
        for entries in idle.values():
            for conn, _ in entries:
                conn.close()


def _alive(conn: http.client.HTTPConnection) -> bool:
    """False when the idle socket is gone or readable (closed by the server, or stray bytes)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):  # not limited to descriptors below FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]  # pragma: no cover (Windows)
    except (OSError, ValueError):
        return False
