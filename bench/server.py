"""A minimal, fast DashScope-shaped HTTP/1.1 server for the benchmarks (asyncio.Protocol).

It answers every POST with one fixed generation body, or, when the request asks for SSE
(``X-DashScope-SSE: enable`` / ``Accept: text/event-stream``), with a fixed stream of
``--chunks`` DashScope frames (the recorded ``id:/event:/:HTTP_STATUS/data:`` layout). It runs
in its own process so its CPU never counts against the client being measured.

    python -m bench.server --chunks 50        # prints "PORT <n>" once listening
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable

REQUEST_ID = "bench-0000-0000-0000-000000000000"
USAGE = {"input_tokens": 16, "output_tokens": 14, "total_tokens": 30}
GENERATION_BODY = json.dumps(
    {
        "output": {
            "choices": [
                {
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Hello! How can I help you?"},
                }
            ]
        },
        "usage": USAGE,
        "request_id": REQUEST_ID,
    },
    separators=(",", ":"),
).encode()


def sse_body(chunks: int, *, cumulative: bool = False) -> bytes:
    """``chunks`` DashScope frames of ``tok<i> `` deltas (or, ``cumulative``, the whole text so
    far in each); the last frame says ``stop``."""
    frames, text = [], ""
    for i in range(1, chunks + 1):
        last = i == chunks
        piece = "" if last else f"tok{i} "
        text += piece
        payload = {
            "output": {
                "choices": [
                    {
                        "message": {"content": text if cumulative else piece, "role": "assistant"},
                        "finish_reason": "stop" if last else "null",
                    }
                ]
            },
            "usage": USAGE,
            "request_id": REQUEST_ID,
        }
        data = json.dumps(payload, separators=(",", ":"))
        frames.append(f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n")
    return "".join(frames).encode()


def _response(content_type: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type + b"\r\n"
        b"x-request-id: " + REQUEST_ID.encode() + b"\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


Pick = Callable[[bytes, bytes], bytes]
"""Chooses the reply to one request from its lower-cased head and its body."""


def wants_sse(head: bytes) -> bool:
    """Whether a lower-cased request head asks for server-sent events."""
    return b"x-dashscope-sse: enable" in head or b"text/event-stream" in head


class _Protocol(asyncio.Protocol):
    def __init__(self, pick: Pick) -> None:
        self._buf = b""
        self._pick = pick
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (request := self._next_request()) is not None:
            assert self._transport is not None
            self._transport.write(self._pick(*request))

    def _next_request(self) -> tuple[bytes, bytes] | None:
        """(lower-cased head, body) of the first complete request in the buffer (consumed)."""
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self._buf[:end].lower()
        length = 0
        marker = head.find(b"content-length:")
        if marker >= 0:
            length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
        total = end + 4 + length
        if len(self._buf) < total:
            return None
        body, self._buf = self._buf[end + 4 : total], self._buf[total:]
        return head, body


def fixed_replies(chunks: int) -> Pick:
    """The generation body, or the ``chunks``-frame delta stream when SSE is asked for."""
    json_reply = _response(b"application/json", GENERATION_BODY)
    sse_reply = _response(b"text/event-stream;charset=UTF-8", sse_body(chunks))
    return lambda head, _body: sse_reply if wants_sse(head) else json_reply


async def _serve(pick: Pick, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(pick), "127.0.0.1", port, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def run(make_pick: Callable[[int], Pick], default_chunks: int, description: str | None) -> None:
    """Parse ``--port``/``--chunks`` and serve ``make_pick(chunks)`` until killed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=default_chunks)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(make_pick(args.chunks), args.port))
    except KeyboardInterrupt:
        sys.exit(0)


def main() -> None:
    """Serve until killed."""
    run(fixed_replies, 50, __doc__)


if __name__ == "__main__":
    main()
