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

import json

from bench.server import (
    GENERATION_BODY,
    REQUEST_ID,
    USAGE,
    Pick,
    _response,
    run,
    sse_body,
    wants_sse,
)


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


def shaped_replies(chunks: int) -> Pick:
    """The generation body, or delta / cumulative frames as the request's parameters ask."""
    json_reply = _response(b"application/json", GENERATION_BODY)
    delta = _response(b"text/event-stream;charset=UTF-8", sse_body(chunks))
    cumulative = _response(b"text/event-stream;charset=UTF-8", cumulative_sse_body(chunks))

    def pick(head: bytes, body: bytes) -> bytes:
        if not wants_sse(head):
            return json_reply
        return delta if _incremental(body) else cumulative

    return pick


def main() -> None:
    """Serve until killed."""
    run(shaped_replies, 200, __doc__)


if __name__ == "__main__":
    main()
