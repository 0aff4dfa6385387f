"""LlamaIndex ↔ DashScope wire conversion: messages, blocks, tools, usage and streamed deltas.

Rules of this module:
- Pure functions and one push-style accumulator (``ChatStream``); no HTTP, no event loop.
- Nothing is dropped silently: a block DashScope cannot carry raises ``ValueError`` naming
  ``messages``. ``ThinkingBlock``s and ``CitationBlock``s are left out on purpose (DashScope
  does not take ``reasoning_content`` back as input; citations describe the text already sent);
  a ``CachePoint`` becomes ``cache_control`` on the part before it.
- Tool-call arguments stay the exact string the model produced (streamed fragments are
  concatenated by ``index``, never altered); they are parsed only when asked for.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CitationBlock,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from pydantic import BaseModel

from dashscope_core import MAX_DATA_URI_BYTES
from dashscope_core.types.generation import (
    GenerationResponse,
    GenerationUsage,
    SearchInfo,
    content_text,
)
from llamaindex_dashscope_ext._citations import search_citation_blocks

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = [
    "ChatStream",
    "completion_from_wire",
    "from_wire_response",
    "json_schema_format",
    "resolve_tool_choice",
    "to_completion_response",
    "to_wire_messages",
    "to_wire_tools",
    "tool_selections",
    "usage_kwargs",
]

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
_SKIPPED = (ThinkingBlock, ToolCallBlock, CitationBlock)
_MEDIA = (ImageBlock, VideoBlock, AudioBlock)


# -- requests --------------------------------------------------------------------------------


def to_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """DashScope ``input.messages`` for ``messages``.

    When any message carries an image, video or audio, every ``content`` becomes a list of
    native parts (``{"text"}``, ``{"image"}``, ``{"video"}``, ``{"audio"}``): that routes the
    call to the multimodal endpoint. A ``CachePoint`` puts ``cache_control`` on the part before
    it (the previous message's last part when it opens a message); a marked message is sent as
    parts too.
    """
    multimodal = any(isinstance(b, _MEDIA) for m in messages for b in m.blocks)
    wire: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        parts = _parts(i, message, wire)
        marked = any("cache_control" in p for p in parts)
        wire.append(_wire_message(message, _content(parts, multimodal or marked)))
    return wire


def _wire_message(message: ChatMessage, content: Any) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:
        raise ValueError(f"messages: unsupported role {message.role.value!r}")
    wire: dict[str, Any] = {"role": role, "content": content}
    if role == "assistant":
        tool_calls = _wire_tool_calls(message)
        if tool_calls:
            wire["tool_calls"] = tool_calls
    elif role == "tool":
        call_id = message.additional_kwargs.get("tool_call_id")
        if call_id:
            wire["tool_call_id"] = call_id
        name = message.additional_kwargs.get("name")
        if name:
            wire["name"] = name
    return wire


def _parts(i: int, message: ChatMessage, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"text": block.text})
        elif isinstance(block, _MEDIA):
            parts.append(_media_part(block))
        elif isinstance(block, CachePoint):
            _mark(i, parts, before, {"type": block.cache_control.type})
        elif not isinstance(block, _SKIPPED):
            raise ValueError(
                f"messages: a {type(block).__name__} cannot be sent to DashScope generation"
            )
    return parts


def _mark(
    i: int, parts: list[dict[str, Any]], before: list[dict[str, Any]], marker: dict[str, Any]
) -> None:
    """Mark the last part so far: in this message, else the previous message's last part."""
    if parts:
        parts[-1]["cache_control"] = marker
        return
    previous = before[-1] if before else None
    if previous is None or not previous["content"]:
        raise ValueError(f"messages[{i}]: a CachePoint must follow the block it marks")
    if isinstance(previous["content"], str):
        previous["content"] = [{"text": previous["content"]}]
    previous["content"][-1]["cache_control"] = marker


def _content(parts: list[dict[str, Any]], as_parts: bool) -> str | list[dict[str, Any]]:
    if as_parts:
        return parts or [{"text": ""}]
    # Same joining as ChatMessage.content, so text-only history reads as LlamaIndex shows it.
    return "\n".join(p["text"] for p in parts)


def _media_part(block: ImageBlock | VideoBlock | AudioBlock) -> dict[str, Any]:
    key = {ImageBlock: "image", VideoBlock: "video", AudioBlock: "audio"}[type(block)]
    part: dict[str, Any] = {key: _media_ref(block)}
    if isinstance(block, VideoBlock) and block.fps is not None:
        part["fps"] = block.fps
    return part


def _media_ref(block: ImageBlock | VideoBlock | AudioBlock) -> Any:
    """A URL as is; a path or bytes inline as a ``data:`` URI up to DashScope's 10 MB, larger
    ones as raw bytes, which the core client uploads (temporary ``oss://`` storage)."""
    data = {ImageBlock: "image", VideoBlock: "video", AudioBlock: "audio"}[type(block)]
    if block.url is not None and getattr(block, data) is None and block.path is None:
        return str(block.url)
    raw = _resolve(block).read()
    if (len(raw) + 2) // 3 * 4 + 64 <= MAX_DATA_URI_BYTES:
        return block.inline_url()
    return raw


def _resolve(block: ImageBlock | VideoBlock | AudioBlock) -> Any:
    if isinstance(block, ImageBlock):
        return block.resolve_image()
    if isinstance(block, VideoBlock):
        return block.resolve_video()
    return block.resolve_audio()


def _wire_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if blocks:
        return [
            _wire_call(i, b.tool_call_id, b.tool_name, b.tool_kwargs) for i, b in enumerate(blocks)
        ]
    calls = []
    for i, call in enumerate(message.additional_kwargs.get("tool_calls") or []):
        data = call if isinstance(call, Mapping) else _as_mapping(call)
        fn = data.get("function") or {}
        fn = fn if isinstance(fn, Mapping) else _as_mapping(fn)
        calls.append(_wire_call(i, data.get("id"), fn.get("name") or "", fn.get("arguments")))
    return calls


def _as_mapping(obj: Any) -> Mapping[str, Any]:
    dump = getattr(obj, "model_dump", None)
    data: Mapping[str, Any] = dump() if callable(dump) else vars(obj)
    return data


def _wire_call(index: int, call_id: str | None, name: str, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments or {}, ensure_ascii=False)
    call: dict[str, Any] = {"index": index, "type": "function"}
    if call_id:
        call["id"] = call_id
    call["function"] = {"name": name, "arguments": arguments}
    return call


def to_wire_tools(tools: Sequence[BaseTool]) -> list[dict[str, Any]]:
    """DashScope ``tools``: ``required`` stays inside each function's ``parameters`` schema."""
    return [tool.metadata.to_openai_tool(skip_length_check=True) for tool in tools]


def resolve_tool_choice(
    tool_choice: str | dict[str, Any] | None,
    tool_required: bool,
    tool_names: Sequence[str],
) -> str | dict[str, Any] | None:
    """DashScope ``tool_choice`` from LlamaIndex's ``tool_choice`` / ``tool_required``.

    A name becomes a forced call of that function. ``tool_required`` (or ``"required"`` /
    ``"any"``) is the core's ``"required"``: the only tool's named choice, or with several tools
    (or in thinking mode, which refuses forced choices) the core's checked strategy (an answer
    without a tool call is asked again, then ``ToolChoiceNotHonoredError``), the same for chat
    and stream, sync and async.
    """
    if isinstance(tool_choice, dict):
        return tool_choice
    if tool_choice in ("auto", "none"):
        return tool_choice
    if tool_choice in (None, "required", "any"):
        return "required" if tool_required or tool_choice is not None else None
    if tool_choice not in tool_names:
        raise ValueError(f"tool_choice: {tool_choice!r} is not one of the tools {list(tool_names)}")
    return _named(tool_choice)


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


# -- responses -------------------------------------------------------------------------------


def usage_kwargs(usage: GenerationUsage | None) -> dict[str, Any]:
    """``prompt_tokens`` / ``completion_tokens`` / ``total_tokens`` (+ ``cached_tokens``,
    ``cache_creation_input_tokens`` and ``reasoning_tokens``)."""
    if usage is None or (usage.input_tokens is None and usage.output_tokens is None):
        return {}
    prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
    total = usage.total_tokens if usage.total_tokens is not None else prompt + completion
    out = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    details = usage.prompt_tokens_details
    if details and details.cached_tokens is not None:
        out["cached_tokens"] = details.cached_tokens
    if details and details.cache_creation_input_tokens is not None:  # explicit cache writes
        out["cache_creation_input_tokens"] = details.cache_creation_input_tokens
    if usage.output_tokens_details and usage.output_tokens_details.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.output_tokens_details.reasoning_tokens
    return out


def _raw(response: GenerationResponse) -> dict[str, Any]:
    return response.model_dump(exclude_none=True)


def _message(
    text: str,
    reasoning: str,
    calls: list[dict[str, Any]],
    usage: GenerationUsage,
    search_info: SearchInfo | None = None,
) -> ChatMessage:
    blocks: list[Any] = []
    if reasoning:
        details = usage.output_tokens_details
        tokens = details.reasoning_tokens if details else None
        blocks.append(ThinkingBlock(content=reasoning, num_tokens=tokens))
    blocks.append(TextBlock(text=text))
    blocks.extend(search_citation_blocks(text, search_info))
    for call in calls:
        fn = call["function"]
        blocks.append(ToolCallBlock(tool_call_id=call["id"], tool_name=fn["name"],
                                    tool_kwargs=fn["arguments"]))  # fmt: skip
    kwargs: dict[str, Any] = {"tool_calls": calls} if calls else {}
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs)


def _response_kwargs(response: GenerationResponse, finish_reason: str | None) -> dict[str, Any]:
    kwargs = usage_kwargs(response.usage)
    kwargs["finish_reason"] = finish_reason
    kwargs["request_id"] = response.request_id
    return kwargs


def from_wire_response(response: GenerationResponse) -> ChatResponse:
    """A whole (non-streamed) answer as a ``ChatResponse``."""
    message = response.message
    if message is None:
        text, reasoning, calls = response.output.text or "", "", []
    else:
        text = content_text(message.content)
        reasoning = message.reasoning_content or ""
        calls = [_call_dict(i, c.id, c.function.name, c.function.arguments)
                 for i, c in enumerate(message.tool_calls or [])]  # fmt: skip
    return ChatResponse(
        message=_message(text, reasoning, calls, response.usage, response.output.search_info),
        raw=_raw(response),
        additional_kwargs=_response_kwargs(response, response.finish_reason),
    )


def completion_from_wire(response: GenerationResponse) -> CompletionResponse:
    """A whole answer as a ``CompletionResponse``: what ``to_completion_response`` makes of
    ``from_wire_response``, without building the chat message first."""
    kwargs = _response_kwargs(response, response.finish_reason)
    return CompletionResponse(text=response.text, raw=_raw(response), additional_kwargs=kwargs)


def _call_dict(index: int, call_id: str | None, name: str | None, arguments: str) -> dict[str, Any]:
    return {"index": index, "id": call_id or None, "type": "function",
            "function": {"name": name or "", "arguments": arguments}}  # fmt: skip


class ChatStream:
    """Accumulates streamed deltas; ``feed`` returns the ``ChatResponse`` for each chunk.

    Each response carries the message so far (text, ``ThinkingBlock``, ``ToolCallBlock``s merged
    by ``index``) and ``delta``; ``additional_kwargs`` has ``thinking_delta`` when reasoning
    arrived, and usage plus ``finish_reason`` on the final chunk only (DashScope repeats the
    cumulative usage in every frame; counting it once per call keeps handlers right). ``raw`` is
    the core chunk model mid-stream (no per-chunk dump) and the JSON dict on the final chunk.
    """

    def __init__(self) -> None:
        self.text = ""
        self.reasoning = ""
        self.search_info: SearchInfo | None = None
        self._calls: dict[int, dict[str, Any]] = {}

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """Copies of the tool calls so far, in index order, arguments as concatenated."""
        calls = (self._calls[i] for i in sorted(self._calls)) if self._calls else ()
        return [{**c, "function": {**c["function"]}} for c in calls]

    def feed(self, chunk: GenerationResponse) -> ChatResponse:
        """Merge ``chunk`` and return the response to yield for it."""
        delta, kwargs, raw = self.absorb(chunk)
        calls = self.tool_calls
        message = _message(self.text, self.reasoning, calls, chunk.usage, self.search_info)
        return ChatResponse(message=message, delta=delta, raw=raw, additional_kwargs=kwargs)

    def absorb(self, chunk: GenerationResponse) -> tuple[str, dict[str, Any], Any]:
        """Merge ``chunk``: its text delta, its response's ``additional_kwargs`` and ``raw``."""
        message = chunk.message
        self.search_info = chunk.output.search_info or self.search_info
        delta = thinking = ""
        if message is not None:
            delta = content_text(message.content)
            thinking = message.reasoning_content or ""
            for call in message.tool_calls or []:
                self._merge_call(call.index, call.id, call.function.name, call.function.arguments)
        elif chunk.output.text:
            delta = chunk.output.text
        self.text += delta
        self.reasoning += thinking
        finish = chunk.finish_reason
        kwargs = _response_kwargs(chunk, finish) if finish is not None else {}
        if thinking:
            kwargs["thinking_delta"] = thinking
        return delta, kwargs, chunk if finish is None else _raw(chunk)

    def _merge_call(
        self, index: int | None, call_id: str | None, name: str | None, args: str
    ) -> None:
        if index is None:  # unindexed fragments continue the last call unless they carry an id
            index = max(self._calls, default=0) if not call_id else len(self._calls)
        current = self._calls.get(index)
        if current is None:
            self._calls[index] = _call_dict(index, call_id, name, args)
            return
        fn = current["function"]
        fn["arguments"] += args
        if call_id and not current["id"]:
            current["id"] = call_id
        if name and not fn["name"]:
            fn["name"] = name


def to_completion_response(response: ChatResponse) -> CompletionResponse:
    """The ``CompletionResponse`` view of a chat response (text, delta, usage, raw)."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )


def tool_selections(response: ChatResponse) -> list[ToolSelection]:
    """The tool calls of ``response`` with parsed arguments.

    While a stream is unfinished (no ``finish_reason`` yet) arguments are parsed leniently as
    partial JSON; once finished, arguments that are not a JSON object raise ``ValueError``
    naming the tool (never replaced by ``{}``).
    """
    final = response.additional_kwargs.get("finish_reason") is not None or response.delta is None
    calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    if not calls:
        calls = [
            _block_from_legacy(c)
            for c in response.message.additional_kwargs.get("tool_calls") or []
        ]
    return [
        ToolSelection(
            tool_id=c.tool_call_id or "",
            tool_name=c.tool_name,
            tool_kwargs=_arguments(c, final),
        )
        for c in calls
    ]


def _block_from_legacy(call: Any) -> ToolCallBlock:
    data = call if isinstance(call, Mapping) else _as_mapping(call)
    fn = data.get("function") or {}
    fn = fn if isinstance(fn, Mapping) else _as_mapping(fn)
    return ToolCallBlock(
        tool_call_id=data.get("id"),
        tool_name=fn.get("name") or "",
        tool_kwargs=fn.get("arguments") or "",
    )


def _arguments(call: ToolCallBlock, final: bool) -> dict[str, Any]:
    raw = call.tool_kwargs
    if not isinstance(raw, str):
        return dict(raw)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = _partial(raw, call, final)
    if not isinstance(value, dict):
        raise ValueError(
            f"tool call {call.tool_name!r} ({call.tool_call_id}): arguments are not a JSON "
            f"object: {raw!r}"
        )
    return value


def _partial(raw: str, call: ToolCallBlock, final: bool) -> Any:
    if final:
        raise ValueError(
            f"tool call {call.tool_name!r} ({call.tool_call_id}): arguments are not valid "
            f"JSON: {raw!r}"
        )
    try:
        return parse_partial_json(raw)
    except ValueError:
        return {}  # an unfinished fragment such as '{"lo': nothing usable yet


def json_schema_format(output_cls: type[BaseModel]) -> dict[str, Any]:
    """``response_format`` asking for an instance of ``output_cls``'s JSON schema."""
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", output_cls.__name__)[:64] or "output"
    schema = output_cls.model_json_schema()
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
