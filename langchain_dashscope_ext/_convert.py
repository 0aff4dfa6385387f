"""LangChain ↔ DashScope wire conversion: messages, tools, tool_choice, usage, chunks.

Rules of this module:
- Pure functions (plus the push-style ``ChunkConverter``): no HTTP, no retries, no env.
- Nothing is dropped silently: a content block or message type that DashScope cannot carry
  raises ``ValueError`` / ``TypeError`` naming it, before any request.
- Output side reads the core's ``GenerationResponse`` by attribute (wire names, PROTOCOL.md).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import ModelProfile as LCProfile
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    ToolMessage,
)

from dashscope_core import MAX_DATA_URI_BYTES
from dashscope_core import ModelProfile as CoreProfile
from langchain_dashscope_ext._convert_output import (  # re-exported: the output side
    ChunkConverter,
    from_wire_response,
    from_wire_tool_calls,
    to_usage_metadata,
)

__all__ = [
    "FORCING_CHOICES",
    "ChunkConverter",
    "content_to_text",
    "from_wire_response",
    "from_wire_tool_calls",
    "to_lc_profile",
    "to_usage_metadata",
    "to_wire_messages",
    "to_wire_parts",
    "to_wire_tool_choice",
]

PROVIDER = "dashscope"
FORCING_CHOICES = ("any", "required")

_ROLES = {"human": "user", "user": "user", "ai": "assistant", "assistant": "assistant",
          "system": "system", "developer": "system", "tool": "tool"}  # fmt: skip


# --------------------------------------------------------------------------- input side


def content_to_text(content: str | list[Any], *, what: str = "content") -> str:
    """Join the text of a message ``content``; non-text blocks other than reasoning raise."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping) and block.get("type", "text") == "text":
            texts.append(str(block.get("text", "")))
        elif isinstance(block, Mapping) and block.get("type") in _IGNORED_IN_TEXT:
            continue
        else:
            kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
            raise ValueError(f"{what}: a {kind!r} block cannot be sent as text to DashScope")
    return "\n".join(texts)


# Blocks that carry no text for the model: reasoning is not replayed (DashScope ignores it),
# tool_use / tool_call blocks duplicate AIMessage.tool_calls, which is what we send.
_IGNORED_IN_TEXT = frozenset(
    {"reasoning", "thinking", "tool_use", "tool_call", "tool_call_chunk", "server_tool_call",
     "server_tool_result", "invalid_tool_call"}
)  # fmt: skip


def _data_uri(data: str, mime_type: str | None) -> str | bytes:
    """A ``data:`` URI, or the decoded bytes when it would pass 10 MB (the core client then
    uploads them and sends an ``oss://`` URL)."""
    uri = data if data.startswith("data:") else f"data:{mime_type or 'image/png'};base64,{data}"
    if len(uri) <= MAX_DATA_URI_BYTES:
        return uri
    return base64.b64decode(uri.partition(",")[2])


def _image_part(block: Mapping[str, Any]) -> dict[str, Any]:
    """DashScope's ``{"image": url-or-data-uri}`` for a LangChain/OpenAI image block."""
    if block.get("type") == "image_url":
        value = block.get("image_url")
        url = value.get("url") if isinstance(value, Mapping) else value
        if not isinstance(url, str) or not url:
            raise ValueError("content: an image_url block needs image_url.url")
        return {"image": url}
    anthropic = block.get("source")  # Anthropic's {"type": "base64"|"url", ...} source
    if isinstance(anthropic, Mapping):
        if anthropic.get("type") == "url" and isinstance(anthropic.get("url"), str):
            return {"image": anthropic["url"]}
        if anthropic.get("type") == "base64" and isinstance(anthropic.get("data"), str):
            return {"image": _data_uri(anthropic["data"], anthropic.get("media_type"))}
    source = block.get("source_type")
    if source in (None, "url") and isinstance(block.get("url"), str):
        return {"image": block["url"]}
    data = block.get("base64") or (block.get("data") if source == "base64" else None)
    if isinstance(data, str) and data:
        return {"image": _data_uri(data, block.get("mime_type"))}
    raise ValueError("content: an image block needs a 'url' or base64 data (file ids unsupported)")


_MEDIA_BLOCKS = {"video": "video", "video_url": "video", "audio": "audio",
                 "input_audio": "audio", "audio_url": "audio"}  # fmt: skip
_MIME_DEFAULT = {"video": "video/mp4", "audio": "audio/wav"}


def _media_part(kind: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """``{"video": ...}`` / ``{"audio": ...}`` for LangChain v1 (url / base64 / source_type),
    OpenAI-style (``video_url.url``, ``input_audio.data``) and frame-list blocks."""
    key = _MEDIA_BLOCKS[kind]
    nested = block.get(kind) if kind in ("video_url", "audio_url", "input_audio") else None
    url = nested.get("url") if isinstance(nested, Mapping) else nested
    url = url or block.get("url") or block.get("frames")
    data = block.get("base64") or (block.get("data") if block.get("source_type") == "base64"
                                   else None)  # fmt: skip
    if isinstance(nested, Mapping) and kind == "input_audio":
        data, fmt = nested.get("data"), nested.get("format")
        block = {**block, "mime_type": f"audio/{fmt}" if fmt else None}
    if isinstance(url, (str, list)) and url:
        part: dict[str, Any] = {key: list(url) if isinstance(url, list) else url}
    elif isinstance(data, str) and data:
        part = {key: _data_uri(data, block.get("mime_type") or _MIME_DEFAULT[key])}
    else:
        raise ValueError(f"content: a {kind} block needs a 'url' or base64 data")
    fps = block.get("fps", (block.get("extras") or {}).get("fps"))
    if fps is not None and key == "video":
        part["fps"] = fps
    return part


def to_wire_parts(content: str | list[Any]) -> list[dict[str, Any]]:
    """DashScope native multimodal parts (``{"text"}``, ``{"image"}``, ``{"video"}``,
    ``{"audio"}``) for ``content``."""
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, str):
            parts.append({"text": block})
            continue
        if not isinstance(block, Mapping):
            raise TypeError(f"content: expected str or dict blocks, got {type(block).__name__}")
        kind = block.get("type")
        if kind is None and any(k in block for k in ("text", "image", "video", "audio")):
            parts.append(dict(block))  # already a native part
            continue
        part: dict[str, Any]
        if kind == "text":
            part = {"text": str(block.get("text", ""))}
        elif kind in ("image", "image_url"):
            part = _image_part(block)
        elif kind in _MEDIA_BLOCKS:
            part = _media_part(kind, block)
        elif kind in _IGNORED_IN_TEXT:
            continue
        else:
            raise ValueError(f"content: {kind!r} blocks are not supported by DashScope")
        if block.get("cache_control") is not None:  # explicit cache: on the part it marks
            part["cache_control"] = dict(block["cache_control"])
        parts.append(part)
    return parts


def _has_marker(content: str | list[Any]) -> bool:
    """Whether a content block carries ``cache_control`` (then the message is sent as parts)."""
    if isinstance(content, str):
        return False
    return any(isinstance(b, Mapping) and b.get("cache_control") is not None for b in content)


_MEDIA_TYPES = frozenset({"image", "image_url", *_MEDIA_BLOCKS})


def _has_image(content: str | list[Any]) -> bool:
    """Whether ``content`` holds an image, video or audio block (native parts included)."""
    if isinstance(content, str):
        return False
    return any(
        isinstance(b, Mapping)
        and (b.get("type") in _MEDIA_TYPES or any(k in b for k in ("image", "video", "audio")))
        for b in content
    )


def _wire_tool_call(
    call: Mapping[str, Any], index: int, raw_args: str | None = None
) -> dict[str, Any]:
    arguments = raw_args if raw_args is not None else json.dumps(call["args"], ensure_ascii=False)
    return {
        "index": index,
        "id": call.get("id") or "",
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": arguments},
    }


def _assistant(message: AIMessage, multimodal: bool) -> dict[str, Any]:
    text = content_to_text(message.content, what="AIMessage.content")
    wire: dict[str, Any] = {"role": "assistant", "content": text}
    if _has_marker(message.content):
        wire["content"] = to_wire_parts(message.content)
    calls = [_wire_tool_call(c, i) for i, c in enumerate(message.tool_calls)]
    offset = len(calls)
    for j, bad in enumerate(message.invalid_tool_calls):
        calls.append(_wire_tool_call(bad, offset + j, raw_args=bad.get("args") or ""))
    if calls:
        wire["tool_calls"] = calls
    elif multimodal:
        wire["content"] = [{"text": text}] if text else []
    return wire


def _tool(message: ToolMessage) -> dict[str, Any]:
    if _has_image(message.content):
        raise ValueError("ToolMessage.content: DashScope tool messages carry text only")
    # sent as given, status="error" included: DashScope has no error flag, and LangGraph's
    # ToolNode and most tools already write "Error: ..." into the content
    text = content_to_text(message.content, what="ToolMessage.content")
    content: Any = text
    if _has_marker(message.content):  # a marked tool result: text parts with the marker
        content = to_wire_parts(message.content)
    wire = {"role": "tool", "content": content, "tool_call_id": message.tool_call_id}
    if message.name:
        wire["name"] = message.name
    return wire


def _role(message: BaseMessage) -> str:
    if isinstance(message, ChatMessage):
        role = _ROLES.get(message.role)
        if role is None:
            raise ValueError(f"messages: unsupported ChatMessage role {message.role!r}")
        return role
    role = _ROLES.get(message.type)
    if role is None:
        raise TypeError(f"messages: {type(message).__name__} cannot be sent to DashScope")
    return role


def _plain(message: BaseMessage, role: str, multimodal: bool) -> dict[str, Any]:
    content: Any
    if multimodal or _has_marker(message.content):
        content = to_wire_parts(message.content)
    else:
        content = content_to_text(message.content, what=f"{type(message).__name__}.content")
    wire: dict[str, Any] = {"role": role, "content": content}
    if message.name and role == "user":
        wire["name"] = message.name
    return wire


def to_wire_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """DashScope ``input.messages`` for LangChain messages (any origin: ours, LangGraph, by hand).

    When any message holds an image, video or audio, every message uses native parts; a message
    with a ``cache_control`` block is sent as parts too (the marker stays on its part).
    """
    multimodal = any(_has_image(m.content) for m in messages if not isinstance(m, ToolMessage))
    wire: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, AIMessage):
            wire.append(_assistant(message, multimodal))
        elif isinstance(message, ToolMessage):
            wire.append(_tool(message))
        else:
            wire.append(_plain(message, _role(message), multimodal))
    return wire


def to_lc_profile(profile: CoreProfile) -> LCProfile:
    """langchain-core's ``ModelProfile`` keys for a core model profile.

    ``structured_output`` (native JSON schema, what ``create_agent`` picks ``ProviderStrategy``
    by) is claimed only where thinking can be off: thinking mode refuses JSON output.
    """
    return LCProfile(
        name=profile.model, max_input_tokens=profile.context_window,
        max_output_tokens=profile.max_output_tokens, text_inputs=True,
        image_inputs=profile.image_inputs, image_url_inputs=profile.image_inputs,
        video_inputs=profile.video_inputs, audio_inputs=profile.audio_inputs, pdf_inputs=False,
        text_outputs=True, audio_outputs=profile.audio_outputs, image_outputs=False,
        reasoning_output=profile.thinking != "none", tool_calling=profile.tool_calling,
        tool_choice=profile.forced_tool_choice, tool_call_streaming=profile.tool_calling,
        structured_output=profile.json_schema and profile.thinking != "always",
        temperature=True,
    )  # fmt: skip


def _tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(t.get("function", {}).get("name", "")) for t in tools]


def to_wire_tool_choice(
    tool_choice: str | bool | Mapping[str, Any] | None, tools: Sequence[Mapping[str, Any]]
) -> str | dict[str, Any] | None:
    """The core ``tool_choice`` for LangChain's: ``"any"``/``"required"``/``True`` are the
    core's ``"required"`` (one tool and no thinking: its named choice, forced by the server;
    otherwise the core's checked strategy: auto, an instruction, the answer checked)."""
    names = _tool_names(tools)
    if tool_choice is None or tool_choice in ("auto", "none"):
        return tool_choice
    if tool_choice is True or tool_choice in FORCING_CHOICES:
        return "required"
    if tool_choice is False:
        return "none"
    if isinstance(tool_choice, str):
        if tool_choice not in names:
            raise ValueError(f"tool_choice: {tool_choice!r} is not one of the bound tools {names}")
        return _named(tool_choice)
    if isinstance(tool_choice, Mapping):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise ValueError(f"tool_choice: {dict(tool_choice)!r} names no bound tool {names}")
        return _named(name)
    raise TypeError(f"tool_choice: unsupported value {tool_choice!r}")


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}
