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
    Pick,
    _response,
    run,
    sse_body,
    wants_sse,
)


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
    cumulative = _response(b"text/event-stream;charset=UTF-8", sse_body(chunks, cumulative=True))

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
