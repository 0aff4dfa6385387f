"""Multimodal generation: ``POST /services/aigc/multimodal-generation/generation``.

Behaviour (vision / omni models such as ``qwen-vl-max``, ``qvq-max``, ``qwen-omni-turbo``):

- Same validation, planning, scripting and streaming as text generation (``_genparams``,
  ``_genplan``, ``_genstream`` are reused, not copied); the reply is always in the message
  format and every ``content`` is a list of parts: ``[{"text": ...}]`` (``[]`` when empty).
- Message content may be a string or a list of native parts ``{"text"}``, ``{"image"}``,
  ``{"video"}``, ``{"audio"}`` (a URL or ``data:`` URI string; a video may also be a list of
  frame URLs). Any other part answers 400 ``InvalidParameter``.
- The unscripted answer starts by describing what the last user message held, e.g.
  ``"Received 2 images, 1 text part."``, then the usual deterministic answer; ``usage`` adds
  ``image_tokens`` (256 per image), ``video_tokens`` (360 per frame, 4 frames for a video URL)
  and ``audio_tokens`` (750 per clip) as the recordings ``multimodal-generation-*`` show.
- ``oss://`` media (temporary uploads) resolve through ``uploads.resolve_oss``: they need
  ``X-DashScope-OssResourceResolve: enable`` and a stored object; a video's ``fps`` must be in
  [0.1, 10].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from dashscope_core.emulator import _text as tx
from dashscope_core.emulator._genparams import GenParams, parse_generation
from dashscope_core.emulator._genplan import Plan, build_plan, render
from dashscope_core.emulator._genstream import stream_events
from dashscope_core.emulator.routing import (
    ApiError,
    JSONResponse,
    Request,
    Response,
    Route,
    SSEEvent,
    StreamResponse,
)
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.uploads import resolve_oss

__all__ = ["IMAGE_TOKENS", "PATH", "ROUTES", "describe_parts", "handle"]

PATH = "/services/aigc/multimodal-generation/generation"
IMAGE_TOKENS = 256
FRAME_TOKENS = 360
AUDIO_TOKENS = 750
_MEDIA = ("image", "video", "audio")
_NAMES = {"text": "text part", "image": "image", "video": "video", "audio": "audio clip"}


def _part_kind(part: Any) -> str:
    if isinstance(part, dict):
        if isinstance(part.get("text"), str):
            return "text"
        for kind in _MEDIA:
            value = part.get(kind)
            if (isinstance(value, str) and value) or (kind == "video" and isinstance(value, list)):
                return kind
    message = 'Each content part must be {"text"}, {"image"}, {"video"} or {"audio"}.'
    raise ApiError(400, "InvalidParameter", message)


def _counts(content: Any) -> Counter[str]:
    if isinstance(content, str):
        return Counter({"text": 1} if content else {})
    if isinstance(content, list):
        return Counter(_part_kind(part) for part in content)
    return Counter()


def describe_parts(content: Any) -> str:
    """``"Received 2 images, 1 text part."`` for a message ``content``."""
    counts = _counts(content)
    listed = [f"{n} {_NAMES[k]}{'' if n == 1 else 's'}" for k, n in sorted(counts.items())]
    return "Received " + (", ".join(listed) or "nothing") + "."


def _last_user(params: GenParams) -> Any:
    for message in reversed(params.messages):
        if message.get("role") == "user":
            return message.get("content")
    return None


def _describe(plan: Plan, request: Request) -> None:
    """Prefix unscripted plain answers with the part description, within the token limit."""
    if request.script is not None:
        return
    description = describe_parts(_last_user(plan.params))
    for choice in plan.choices:
        if choice.tool_calls or plan.params.response_format is not None:
            continue
        text = f"{description} {choice.content}"
        if plan.params.max_tokens is not None:
            text, cut = tx.truncate_tokens(text, plan.params.max_tokens)
            choice.finish_reason = "length" if cut else choice.finish_reason
        choice.content = text


def _as_parts(body: dict[str, Any], media: dict[str, int]) -> dict[str, Any]:
    for choice in body["output"].get("choices") or ():
        message = choice["message"]
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = [{"text": content}] if content else []
    body["usage"].update(media)
    return body


def _events(plan: Plan, request_id: str, media: dict[str, int]) -> Iterator[SSEEvent]:
    for event in stream_events(plan, request_id):
        if isinstance(event.data, dict):
            event.data = _as_parts(event.data, media)
        yield event


def _media_tokens(
    messages: list[dict[str, Any]], request: Request, emu: Emulator
) -> dict[str, int]:
    """``image_tokens`` (always) and ``video_tokens`` / ``audio_tokens`` when present; resolves
    and checks ``oss://`` media and ``fps`` on the way."""
    tokens = {"image_tokens": 0}
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            values = [v for k in _MEDIA for v in _listed(part.get(k))]
            for value in values:
                if isinstance(value, str) and value.startswith("oss://"):
                    resolve_oss(value, request, emu)
            fps = part.get("fps")
            if fps is not None and (isinstance(fps, bool) or not isinstance(fps, int | float)
                                    or not 0.1 <= fps <= 10):  # fmt: skip
                raise ApiError(400, "InvalidParameter", "fps must be in [0.1, 10].")
            if "image" in part:
                tokens["image_tokens"] += IMAGE_TOKENS
            if "video" in part:
                frames = len(_listed(part["video"])) if isinstance(part["video"], list) else 4
                tokens["video_tokens"] = tokens.get("video_tokens", 0) + frames * FRAME_TOKENS
            if "audio" in part:
                tokens["audio_tokens"] = tokens.get("audio_tokens", 0) + AUDIO_TOKENS
    return tokens


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


async def handle(request: Request, emulator: Emulator) -> Response:
    """Answer a multimodal generation call (JSON or SSE)."""
    params = parse_generation(
        request.json,
        endpoint="multimodal",
        streaming=request.sse,
        scripted=request.script is not None,
    )
    for message in params.messages:
        _counts(message.get("content"))
    params = replace(params, result_format="message")
    media = _media_tokens(params.messages, request, emulator)
    plan = build_plan(params, request, emulator)
    _describe(plan, request)
    if request.sse:
        return StreamResponse(_events(plan, request.request_id, media))
    return JSONResponse(_as_parts(render(plan, request.request_id), media))


ROUTES = [Route("POST", PATH, handle, kind="multimodal")]
