"""A small asyncio + h11 HTTP/1.1 server running one ASGI app, with control of the socket.

Rules of this module:
- Loopback by default: binds ``127.0.0.1`` unless a host is passed explicitly.
- Keep-alive: connections serve requests until the client closes, either side says
  ``Connection: close``, or ``keep_alive_timeout`` passes idle.
- Responses without ``content-length`` are sent chunked (h11 decides), flushed message by
  message, so streams reach the client as they are produced.
- Never crashes on bad input: malformed HTTP answers 400 and closes; a body over
  ``max_body_size`` answers 413 with a DashScope error body and closes; an app exception before
  the response started answers 500 ``InternalError``; after it started, the connection is aborted.
- ``AbortConnection`` raised by the app aborts the TCP connection at once, without a response
  (or mid-response): that is how faults drop connections and cut streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import MutableMapping
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import unquote

import h11

from dashscope_core.emulator.routing import AbortConnection

__all__ = ["DEFAULT_MAX_BODY_SIZE", "ASGIApp", "Server"]

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
_READ_SIZE = 65536
Message = MutableMapping[str, Any]


class ASGIApp(Protocol):
    """The ASGI 3 callable shape."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...


class _Rejected(Exception):
    pass


class Server:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one) until ``close()``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        keep_alive_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.max_body_size = max_body_size
        self.keep_alive_timeout = keep_alive_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def open_connections(self) -> int:
        """Client connections being served right now (for leak checks in tests)."""
        return len(self._tasks)

    async def start(self) -> None:
        """Bind and start accepting; ``self.port`` then holds the bound port."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop accepting, abort open connections and wait for them."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await _Connection(self, reader, writer).run()
        except (ConnectionError, asyncio.TimeoutError, asyncio.CancelledError):
            writer.transport.abort()
        finally:
            if task is not None:
                self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


class _Connection:
    """One client connection: an h11 state machine between a socket and the app."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.SERVER)
        self.started = False

    async def run(self) -> None:
        """Serve requests until the connection has to close."""
        while True:
            try:
                event = await self._next_event()
                if not isinstance(event, h11.Request):
                    return
                body = await self._read_body(event)
            except h11.RemoteProtocolError as exc:
                await self._reject(exc.error_status_hint, "InvalidParameter", f"Bad request: {exc}")
                return
            except _Rejected:
                return
            if not await self._run_app(event, body):
                return
            if self.conn.our_state is not h11.DONE or self.conn.their_state is not h11.DONE:
                return
            self.conn.start_next_cycle()
            self.started = False

    async def _next_event(self) -> Any:
        while True:
            event = self.conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.conn.they_are_waiting_for_100_continue:
                await self._write(h11.InformationalResponse(status_code=100, headers=[]))
            timeout = self.server.keep_alive_timeout
            data = await asyncio.wait_for(self.reader.read(_READ_SIZE), timeout)
            self.conn.receive_data(data)

    async def _read_body(self, request: h11.Request) -> bytes:
        limit = self.server.max_body_size
        for name, value in request.headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    await self._too_large()
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise h11.RemoteProtocolError("incomplete request body", error_status_hint=400)

    async def _too_large(self) -> None:
        limit = self.server.max_body_size
        message = f"Request body is too large: the limit is {limit} bytes."
        await self._reject(413, "RequestTooLarge", message)
        raise _Rejected

    async def _reject(self, status: int, code: str, message: str) -> None:
        """Answer a DashScope error and mark the connection for closing."""
        if self.conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE) or self.started:
            return
        request_id = str(uuid.uuid4())
        body = json.dumps({"code": code, "message": message, "request_id": request_id}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"x-request-id", request_id.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError):
            await self._write(
                h11.Response(status_code=status, headers=headers, reason=_reason(status))
            )
            await self._write(h11.Data(data=body))
            await self._write(h11.EndOfMessage())

    async def _run_app(self, request: h11.Request, body: bytes) -> bool:
        """Run the app for one request; ``False`` when the connection must close."""
        delivered = False

        async def receive() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await self._app_or_hangup(request, receive)
        except AbortConnection:
            self.writer.transport.abort()
            return False
        except Exception as exc:  # the app failed: answer 500 if we still can
            if self.started:
                self.writer.transport.abort()
                return False
            await self._reject(500, "InternalError", f"{type(exc).__name__}: {exc}")
            return False
        if self.conn.our_state is h11.SEND_BODY:
            await self._write(h11.EndOfMessage())
        return self.conn.our_state is h11.DONE

    async def _app_or_hangup(self, request: h11.Request, receive: Any) -> None:
        """Run the app; a client that hangs up meanwhile cancels it (like a real server), so
        a slow or stalled reply does not keep a dead connection counted as open."""
        app = asyncio.ensure_future(self.server.app(self._scope(request), receive, self._send))
        watch = asyncio.ensure_future(self._until_hangup())
        try:
            await asyncio.wait({app, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not app.done():
                app.cancel()
        if not app.done():  # the client hung up first: let the app unwind, then drop
            await asyncio.wait({app})
            raise AbortConnection("client went away")
        app.result()  # the app's own outcome: None, AbortConnection or its exception

    async def _until_hangup(self) -> None:
        """Return at EOF from the client; bytes of a pipelined next request are kept for h11."""
        while True:
            data = await self.reader.read(_READ_SIZE)
            if not data:
                return
            self.conn.receive_data(data)

    async def _send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = list(message.get("headers", []))
            await self._write(
                h11.Response(status_code=status, headers=headers, reason=_reason(status))
            )
            self.started = True
        elif message["type"] == "http.response.body":
            data = message.get("body", b"")
            if data:
                await self._write(h11.Data(data=data))
            if not message.get("more_body", False):
                await self._write(h11.EndOfMessage())

    async def _write(self, event: Any) -> None:
        data = self.conn.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    def _scope(self, request: h11.Request) -> dict[str, Any]:
        raw_path, _, query = bytes(request.target).partition(b"?")
        peer = self.writer.get_extra_info("peername")
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.http_version.decode("ascii"),
            "method": request.method.decode("ascii"),
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(bytes(k).lower(), bytes(v)) for k, v in request.headers],
            "client": tuple(peer[:2]) if peer else None,
            "server": (self.server.host, self.server.port),
        }


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""
