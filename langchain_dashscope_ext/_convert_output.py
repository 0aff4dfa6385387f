"""DashScope wire → LangChain output: messages, tool calls, usage, stream chunks, LLM text.

Rules of this module:
- Pure (plus the push-style ``ChunkConverter``); reads the core's ``GenerationResponse`` by
  attribute (wire names, PROTOCOL.md), and plain dicts alike.
- Arguments that are not a JSON object become ``invalid_tool_calls``, never ``{}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import (
    ToolCall,
    ToolCallChunk,
    invalid_tool_call,
    tool_call,
    tool_call_chunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_dashscope_ext._blocks import search_citations

__all__ = [
    "ChunkConverter",
    "from_wire_response",
    "from_wire_tool_calls",
    "response_text",
    "text_generation_info",
    "to_usage_metadata",
    "to_wire_history",
]

PROVIDER = "dashscope"
_MARKER_TAIL = 32
"""Characters kept from the answer so far: longer than any citation marker."""


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # multimodal answers: [{"text": ...}]
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


_IS_MAPPING: dict[type, bool] = {}
"""Per type: is it a ``Mapping``? (``isinstance`` against the ABC is slow, and ``_get`` runs
about ten times per streamed chunk.)"""


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    is_mapping = _IS_MAPPING.get(type(obj))
    if is_mapping is None:
        is_mapping = _IS_MAPPING[type(obj)] = isinstance(obj, Mapping)
    return obj.get(name) if is_mapping else getattr(obj, name, None)


def from_wire_tool_calls(raw_calls: Sequence[Any] | None) -> tuple[list[ToolCall], list[Any]]:
    """``(tool_calls, invalid_tool_calls)``; arguments that are not a JSON object are invalid."""
    calls: list[ToolCall] = []
    invalid: list[Any] = []
    for raw in raw_calls or []:
        fn = _get(raw, "function")
        name, args, call_id = _get(fn, "name") or "", _get(fn, "arguments"), _get(raw, "id") or None
        try:
            parsed = json.loads(args) if args else {}  # "" = a call without arguments
        except ValueError as exc:
            invalid.append(invalid_tool_call(name=name, args=args, id=call_id, error=str(exc)))
            continue
        if not isinstance(parsed, dict):
            error = f"arguments must be a JSON object, got {type(parsed).__name__}"
            invalid.append(invalid_tool_call(name=name, args=args, id=call_id, error=error))
            continue
        calls.append(tool_call(name=name, args=parsed, id=call_id))
    return calls, invalid


def to_usage_metadata(usage: Any) -> UsageMetadata | None:
    """LangChain ``UsageMetadata`` for a DashScope ``usage`` (cache reads, reasoning tokens)."""
    if usage is None:
        return None
    inp = int(_get(usage, "input_tokens") or 0)
    out = int(_get(usage, "output_tokens") or 0)
    total = int(_get(usage, "total_tokens") or inp + out)
    result = UsageMetadata(input_tokens=inp, output_tokens=out, total_tokens=total)
    details = _get(usage, "prompt_tokens_details")
    cached, created = _get(details, "cached_tokens"), _get(details, "cache_creation_input_tokens")
    if cached is not None or created is not None:
        result["input_token_details"] = InputTokenDetails()
        if cached is not None:
            result["input_token_details"]["cache_read"] = int(cached)
        if created is not None:  # explicit cache: billed at 125% (PROTOCOL.md "Context cache")
            result["input_token_details"]["cache_creation"] = int(created)
    reasoning = _get(_get(usage, "output_tokens_details"), "reasoning_tokens")
    if reasoning is not None:
        result["output_token_details"] = OutputTokenDetails(reasoning=int(reasoning))
    return result


def _token_usage(usage: Any) -> dict[str, Any] | None:
    if usage is None:
        return None
    if isinstance(usage, Mapping):
        return dict(usage)
    dumped: dict[str, Any] = usage.model_dump(exclude_none=True)
    return dumped


def _metadata(response: Any, choice: Any, model: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "model_name": model,
        "model_provider": PROVIDER,
        "finish_reason": _finish_reason(choice),
        "request_id": _get(response, "request_id"),
        "token_usage": _token_usage(_get(response, "usage")),
    }
    logprobs = _get(choice, "logprobs")
    if logprobs is not None:
        meta["logprobs"] = logprobs if isinstance(logprobs, Mapping) else _dump(logprobs)
    return meta


def _dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else value


def _finish_reason(choice: Any) -> str | None:
    reason = _get(choice, "finish_reason")
    return None if reason in (None, "", "null") else str(reason)


def _choices(response: Any) -> list[Any]:
    output = _get(response, "output")
    choices = _get(output, "choices")
    if choices:
        return list(choices)
    # result_format=text: {"output": {"text", "finish_reason"}}
    text = _get(output, "text")
    message = {"role": "assistant", "content": text or ""}
    return [{"message": message, "finish_reason": _get(output, "finish_reason")}]


def _search_extras(
    text: str, search_info: Any, since: int = 0, offset: int = 0, *, with_info: bool = True
) -> dict[str, Any]:
    """``search_info`` (as a dict) and the ``citations`` of ``text``'s markers after ``since``
    (``text`` starts at ``offset`` in the answer)."""
    if not search_info:
        return {}
    info = search_info if isinstance(search_info, Mapping) else _dump(search_info)
    extra: dict[str, Any] = {"search_info": info} if with_info else {}
    citations = search_citations(text, info, since, offset)
    if citations:
        extra["citations"] = citations
    return extra


def _ai_message(
    message: Any, meta: dict[str, Any], usage: UsageMetadata | None, search_info: Any = None
) -> AIMessage:
    calls, invalid = from_wire_tool_calls(_get(message, "tool_calls"))
    extra: dict[str, Any] = {}
    reasoning = _get(message, "reasoning_content")
    if reasoning:
        extra["reasoning_content"] = reasoning
    text = _text(_get(message, "content"))
    extra.update(_search_extras(text, search_info))
    return AIMessage(
        content=text,
        additional_kwargs=extra,
        tool_calls=calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage,
        response_metadata=meta,
        id=meta.get("request_id"),
    )


def from_wire_response(response: Any, model: str) -> ChatResult:
    """A ``ChatResult`` (one generation per choice) for a complete ``GenerationResponse``."""
    usage = to_usage_metadata(_get(response, "usage"))
    search_info = _get(_get(response, "output"), "search_info")
    generations = []
    for choice in _choices(response):
        meta = _metadata(response, choice, model)
        message = _ai_message(_get(choice, "message"), meta, usage, search_info)
        info = {"finish_reason": meta["finish_reason"]}
        if "logprobs" in meta:
            info["logprobs"] = meta["logprobs"]
        generations.append(ChatGeneration(message=message, generation_info=info))
    llm_output = {"model_name": model, "token_usage": _token_usage(_get(response, "usage")),
                  "request_id": _get(response, "request_id")}  # fmt: skip
    return ChatResult(generations=generations, llm_output=llm_output)


class ChunkConverter:
    """Push-style: one streamed ``GenerationResponse`` delta in, one ``ChatGenerationChunk`` out.

    Tool-call fragments keep their ``index``; DashScope's ``"id": ""`` becomes ``None`` and the
    name is sent once per index (chunk ``+`` concatenates strings). Usage is cumulative on the
    wire and summed by LangChain, so only the final frame carries ``usage_metadata``.
    """

    def __init__(self, model: str, *, usage: bool = True) -> None:
        self.model = model
        self.usage = usage
        self._named: set[int] = set()
        self._length = 0
        self._tail = ""  # the answer's last characters: a marker may straddle two frames
        self._searched = False

    def feed(self, response: Any) -> ChatGenerationChunk:
        """Convert one delta; the final frame (with a finish_reason) carries usage and metadata."""
        # runs once per streamed token: fields are passed only when set (langchain-core
        # validates each one) and at construction (pydantic's __setattr__ costs as much)
        choice = _choices(response)[0]
        message = _get(choice, "message")
        text = _text(_get(message, "content"))
        extra: dict[str, Any] = {}
        reasoning = _get(message, "reasoning_content")
        if reasoning:
            extra["reasoning_content"] = reasoning
        extra.update(self._search(text, _get(_get(response, "output"), "search_info")))
        fields: dict[str, Any] = {"content": text, "id": _get(response, "request_id")}
        if extra:
            fields["additional_kwargs"] = extra
        raw_calls = _get(message, "tool_calls")
        if raw_calls:
            fields["tool_call_chunks"] = self._tool_call_chunks(raw_calls)
        if _finish_reason(choice) is None:
            meta: dict[str, Any] = {"model_provider": PROVIDER}  # content_blocks per chunk
            logprobs = _get(choice, "logprobs")
            if logprobs is not None:  # each frame's own tokens; chunk + chunk joins the lists
                meta["logprobs"] = _dump(logprobs)
            return ChatGenerationChunk(message=AIMessageChunk(**fields, response_metadata=meta))
        meta = _metadata(response, choice, self.model)
        if self.usage:
            fields["usage_metadata"] = to_usage_metadata(_get(response, "usage"))
        chunk = AIMessageChunk(**fields, response_metadata=meta, chunk_position="last")
        info = {"finish_reason": meta["finish_reason"]}
        return ChatGenerationChunk(message=chunk, generation_info=info)

    def _search(self, text: str, search_info: Any) -> dict[str, Any]:
        """The search results once (every frame repeats them), then each new marker's citation,
        its offsets into the whole answer (markers split across frames included)."""
        window, offset = self._tail + text, self._length - len(self._tail)
        self._length += len(text)
        self._tail = window[-_MARKER_TAIL:]
        if not search_info:
            return {}
        first, self._searched = not self._searched, True
        since = len(window) - len(text)
        return _search_extras(window, search_info, since, offset, with_info=first)

    def _tool_call_chunks(self, raw_calls: Sequence[Any] | None) -> list[ToolCallChunk]:
        chunks: list[ToolCallChunk] = []
        for position, raw in enumerate(raw_calls or []):
            index = _get(raw, "index")
            index = position if index is None else int(index)
            fn = _get(raw, "function")
            name = _get(fn, "name") or None
            if index in self._named:
                name = None
            elif name:
                self._named.add(index)
            args = _get(fn, "arguments") or None
            call_id = _get(raw, "id") or None
            chunks.append(tool_call_chunk(name=name, args=args, id=call_id, index=index))
        return chunks


# ------------------------------------------------------------------ prompt-style (LLM)


def to_wire_history(history: Sequence[Any] | None) -> list[dict[str, str]] | None:
    """Deprecated ``history`` turns ``[{"user", "bot"}]`` from dicts or ``(user, bot)`` pairs."""
    if history is None:
        return None
    turns: list[dict[str, str]] = []
    for i, turn in enumerate(history):
        if isinstance(turn, Mapping) and isinstance(turn.get("user"), str):
            turns.append({"user": turn["user"], "bot": str(turn.get("bot", ""))})
        elif (
            isinstance(turn, (tuple, list))
            and len(turn) == 2
            and all(isinstance(x, str) for x in turn)
        ):
            turns.append({"user": turn[0], "bot": turn[1]})
        else:
            raise TypeError(
                f"history[{i}]: expected {{'user': str, 'bot': str}} or a (user, bot) pair"
            )
    return turns


def text_generation_info(response: Any, model: str) -> dict[str, Any]:
    """``generation_info`` of a prompt-style answer: finish_reason, usage, request_id, model."""
    output = _get(response, "output")
    return {
        "finish_reason": _finish_reason(output) or _finish_reason(_choices(response)[0]),
        "token_usage": _token_usage(_get(response, "usage")),
        "request_id": _get(response, "request_id"),
        "model_name": model,
    }


def response_text(response: Any) -> str:
    """The answer text of a text- or message-format response."""
    output = _get(response, "output")
    text = _get(output, "text")
    if text is not None:
        return str(text)
    return _text(_get(_get(_choices(response)[0], "message"), "content"))
