"""OpenAI-compatible chat completions and embeddings below ``/compatible-mode/v1``.

Rules of this module (PROTOCOL.md "Base URLs"; shapes as the recorded batch output
``get-file-content-compatible-nosse`` carries them):
- The same engines as the native routes answer: a chat body is converted to a native
  generation request (``messages`` with OpenAI content parts become native parts,
  ``max_completion_tokens`` is ``max_tokens``, ``developer`` is ``system``) and validated by
  ``_genparams``, so the same refusals come back, OpenAI-shaped (``app.error_response``).
- ``stream: true`` answers ``data: {chat.completion.chunk}`` events, role on each choice's first
  chunk, tool calls as fragments keyed by ``index`` (id and name on the first), the finish
  reason on a last empty delta, then with ``stream_options.include_usage`` one chunk with
  ``"choices": []`` and the usage, then ``data: [DONE]``.
- Embeddings take ``input`` (a text or a list of texts), ``dimensions``, ``encoding_format``
  (``float`` or ``base64``: little-endian float32) and DashScope's ``text_type``.
- ``execute(endpoint, body, ...)`` runs one batch line through the same code.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from dashscope_core.emulator._compat_state import route
from dashscope_core.emulator._genparams import GenParams, parse_generation
from dashscope_core.emulator._genplan import Plan, build_plan, render
from dashscope_core.emulator._genstream import stream_events
from dashscope_core.emulator.embeddings import embed_call
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import get_profile

__all__ = ["CHAT_PATH", "EMBEDDINGS_PATH", "ROUTES", "TEST_MODEL", "compatible_error", "execute"]

CHAT_PATH = "/chat/completions"
EMBEDDINGS_PATH = "/embeddings"
TEST_MODEL = "batch-test-model"
"""The free test model of the batch endpoint ``/v1/chat/ds-test`` (no inference)."""
_DROPPED = ("model", "messages", "stream", "stream_options", "max_completion_tokens",
            "logit_bias", "user", "store", "service_tier", "metadata")  # fmt: skip
_PARTS = {"image_url": "image", "video_url": "video", "input_audio": "audio"}
# native code -> OpenAI-compatible code (Model Studio error-code page); others pass through
_CODES = {
    "InvalidApiKey": "invalid_api_key",
    "InvalidParameter": "invalid_parameter_error",
    "BadRequest.EmptyInput": "invalid_parameter_error",
    "Model.NotExist": "model_not_found",
    "InternalError": "internal_error",
}


def compatible_error(exc: ApiError, request_id: str) -> dict[str, Any]:
    """``exc`` as compatible mode answers it: ``{"error": {"message", "type", "param",
    "code"}, "request_id"}`` (throttling: ``limit_requests``)."""
    code = "limit_requests" if exc.code.startswith("Throttling") else _CODES.get(exc.code, exc.code)
    kind = ("invalid_request_error" if exc.status < 429 else
            "limit_requests" if exc.status == 429 else "internal_error")  # fmt: skip
    error = {"message": exc.message, "type": kind, "param": None, "code": code}
    return {"error": error, "request_id": request_id}


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _native_part(part: Any) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"text": part.get("text", "")}
    if kind in _PARTS:
        value = part.get(kind)
        url = value.get("url") or value.get("data") if isinstance(value, dict) else value
        return {_PARTS[kind]: url}
    if kind in ("image", "video", "audio"):
        return {kind: part.get(kind)}
    raise _bad(f"Unsupported content part type {kind!r}.")


def _native_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    out = dict(message)
    if out.get("role") == "developer":
        out["role"] = "system"
    content = out.get("content")
    if isinstance(content, list):
        out["content"] = [_native_part(p) for p in content]
    elif content is None and out.get("role") == "assistant":
        out["content"] = ""
    return out


def native_body(body: Any, *, stream: bool) -> dict[str, Any]:
    """The native generation request of an OpenAI-compatible chat body."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _bad('Required parameter "messages" missing from request.')
    params = {k: v for k, v in body.items() if k not in _DROPPED}
    if body.get("max_completion_tokens") is not None:
        params.setdefault("max_tokens", body["max_completion_tokens"])
    params.update(result_format="message", incremental_output=stream)
    native = [_native_message(m) for m in messages]
    return {"model": body.get("model"), "input": {"messages": native}, "parameters": params}


def _parsed(body: Any, request: Request, *, stream: bool) -> GenParams:
    """The validated generation request; one route serves text and multimodal models, so the
    native endpoint whose rules apply is the model's (profile table)."""
    native = native_body(body, stream=stream)
    model = native["model"]
    endpoint = get_profile(model).endpoint if isinstance(model, str) else "text"
    return parse_generation(native, endpoint=endpoint, streaming=stream,
                            scripted=request.script is not None)  # fmt: skip


def _text(content: Any) -> Any:
    if isinstance(content, list):  # multimodal answers are part lists natively
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


def _usage(native: dict[str, Any]) -> dict[str, Any]:
    usage = {"prompt_tokens": native.get("input_tokens", 0),
             "completion_tokens": native.get("output_tokens", 0),
             "total_tokens": native.get("total_tokens", 0)}  # fmt: skip
    if native.get("prompt_tokens_details"):
        usage["prompt_tokens_details"] = native["prompt_tokens_details"]
    if native.get("output_tokens_details"):
        usage["completion_tokens_details"] = native["output_tokens_details"]
    return usage


def _envelope(kind: str, request_id: str, model: str, created: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-{request_id}", "object": kind, "created": created, "model": model}


def _created(emulator: Emulator) -> int:
    return int(emulator.clock())


def completion(
    request: Request, emulator: Emulator, body: Any, *, cache: bool = True
) -> dict[str, Any]:
    """The ``chat.completion`` answer to ``body`` (batch lines: ``cache=False``)."""
    params = _parsed(body, request, stream=False)
    plan = build_plan(params, request, emulator)
    if not cache:  # batch calls get no context-cache discount (PROTOCOL.md "Batch API")
        plan.cached_tokens = 0
    native = render(plan, request.request_id)
    choices = []
    for choice in native["output"]["choices"]:
        message = {**choice["message"], "content": _text(choice["message"].get("content"))}
        choices.append({"index": choice["index"], "message": message,
                        "finish_reason": choice["finish_reason"],
                        "logprobs": choice.get("logprobs")})  # fmt: skip
    out = _envelope("chat.completion", request.request_id, params.model, _created(emulator))
    return {**out, "choices": choices, "usage": _usage(native["usage"]),
            "system_fingerprint": None}  # fmt: skip


def _delta(message: dict[str, Any], first: bool) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"} if first else {}
    if message.get("content"):
        delta["content"] = _text(message["content"])
    if message.get("reasoning_content"):
        delta["reasoning_content"] = message["reasoning_content"]
    calls = []
    for call in message.get("tool_calls") or ():
        fragment: dict[str, Any] = {"index": call.get("index", 0)}
        if call.get("id"):  # the first fragment of a call: id, type and name
            fragment.update(id=call["id"], type="function")
        fragment["function"] = {k: v for k, v in call.get("function", {}).items() if v or
                                k == "arguments"}  # fmt: skip
        calls.append(fragment)
    if calls:
        delta["tool_calls"] = calls
    if first and "content" not in delta:
        delta["content"] = ""
    return delta


def _chunks(plan: Plan, request_id: str, body: dict[str, Any], created: int) -> Iterator[bytes]:
    head = _envelope("chat.completion.chunk", request_id, plan.params.model, created)
    started: set[int] = set()
    usage: dict[str, Any] = {}
    for event in stream_events(plan, request_id):
        frame = event.data if isinstance(event.data, dict) else {}
        usage = frame.get("usage", usage)
        choices = []
        for choice in frame.get("output", {}).get("choices") or ():
            index = choice.get("index", 0)
            reason = choice.get("finish_reason")
            delta = _delta(choice.get("message", {}), index not in started)
            started.add(index)
            choices.append({"index": index, "delta": delta, "logprobs": None,
                            "finish_reason": None if reason == "null" else reason})  # fmt: skip
        yield _sse({**head, "choices": choices})
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        yield _sse({**head, "choices": [], "usage": _usage(usage)})
    yield b"data: [DONE]\n\n"


def _sse(data: dict[str, Any]) -> bytes:
    return (
        b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
    )


def embeddings(request_id: str, body: Any) -> dict[str, Any]:
    """The embeddings answer to an OpenAI-compatible body."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise _bad("input should be a string or a list of strings.")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad("encoding_format should be 'float' or 'base64'.")
    params = {"dimension": body.get("dimensions"), "text_type": body.get("text_type")}
    native = {"model": body.get("model"), "input": {"texts": texts},
              "parameters": {k: v for k, v in params.items() if v is not None}}  # fmt: skip
    items, tokens = embed_call(native)
    data = []
    for item in items:
        vector = item.get("embedding", [])
        if encoding == "base64":
            vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": item["text_index"], "embedding": vector})
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": body.get("model"), "usage": usage,
            "id": request_id}  # fmt: skip


def _test_answer(request_id: str, body: Any, created: int) -> dict[str, Any]:
    model = body.get("model") if isinstance(body, dict) else None
    if model != TEST_MODEL:
        raise ApiError(400, "InvalidParameter", f"The ds-test endpoint only serves {TEST_MODEL}.")
    message = {"role": "assistant", "content": "This is a test result."}
    out = _envelope("chat.completion", request_id, TEST_MODEL, created)
    return {**out, "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}  # fmt: skip


def execute(endpoint: str, body: Any, request: Request, emulator: Emulator, request_id: str
            ) -> dict[str, Any]:  # fmt: skip
    """Answer one batch line's body on ``endpoint``; ``ApiError`` for a refused request."""
    line_request = replace(request, request_id=request_id, script=None)
    if endpoint == "/v1/embeddings":
        return embeddings(request_id, body)
    if endpoint == "/v1/chat/ds-test":
        return _test_answer(request_id, body, _created(emulator))
    return completion(line_request, emulator, body, cache=False)


async def chat(request: Request, emulator: Emulator) -> Response:
    """``POST /chat/completions`` (JSON, or SSE chunks with ``stream: true``)."""
    body = request.json
    if isinstance(body, dict) and body.get("stream") is True:
        params = _parsed(body, request, stream=True)  # refusals: before any byte
        plan = build_plan(params, request, emulator)
        chunks = _chunks(plan, request.request_id, body, _created(emulator))
        return StreamResponse(chunks, media_type="text/event-stream;charset=UTF-8")
    return JSONResponse(completion(request, emulator, body))


async def embed(request: Request, emulator: Emulator) -> Response:
    """``POST /embeddings``."""
    return JSONResponse(embeddings(request.request_id, request.json))


ROUTES = [
    route("POST", CHAT_PATH, chat, "compatible_chat"),
    route("POST", EMBEDDINGS_PATH, embed, "compatible_embeddings"),
]
