"""The bench server for the framework rows: serves whatever stream shape the client asks for.

Same wire and layout as ``bench/server.py`` (whose replies it reuses), with one difference: a
streaming request whose ``parameters.incremental_output`` is not true gets cumulative frames
(each frame carries the whole text so far, the server default per PROTOCOL.md), as the real
service does. The official ``dashscope`` SDK (ChatTongyi, llama-index-llms-dashscope) and our
classes may ask for different shapes; each gets the one it asked for, always ``--chunks``
frames. It runs in its own process so its CPU never counts against the client.

    python -m bench.framework_server --chunks 200     # prints "PORT <n>" once listening
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bench.server import GENERATION_BODY, REQUEST_ID, USAGE, _response, sse_body


def cumulative_sse_body(chunks: int) -> bytes:
    """``chunks`` frames each carrying the whole text so far; the last one says ``stop``."""
    frames, text = [], ""
    for i in range(1, chunks + 1):
        last = i == chunks
        if not last:
            text += f"tok{i} "
        payload = {
            "output": {
                "choices": [
                    {
                        "message": {"content": text, "role": "assistant"},
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


def _incremental(body: bytes) -> bool:
    try:
        parameters = json.loads(body).get("parameters") or {}
    except (ValueError, AttributeError):
        return False
    return parameters.get("incremental_output") is True


class _Protocol(asyncio.Protocol):
    def __init__(self, replies: dict[str, bytes]) -> None:
        self._buf = b""
        self._replies = replies
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while (reply := self._next_reply()) is not None:
            assert self._transport is not None
            self._transport.write(reply)

    def _next_reply(self) -> bytes | None:
        """The reply to the first complete request in the buffer (consumed), else None."""
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
        if b"x-dashscope-sse: enable" not in head and b"text/event-stream" not in head:
            return self._replies["json"]
        return self._replies["delta" if _incremental(body) else "cumulative"]


async def _main(port: int, chunks: int) -> None:
    replies = {
        "json": _response(b"application/json", GENERATION_BODY),
        "delta": _response(b"text/event-stream;charset=UTF-8", sse_body(chunks)),
        "cumulative": _response(b"text/event-stream;charset=UTF-8", cumulative_sse_body(chunks)),
    }
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(replies), "127.0.0.1", port, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=200)
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.port, args.chunks))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
