"""LangChain standard content blocks (``content_blocks``, ``output_version="v1"``) for DashScope.

Rules of this module:
- The converters (``_convert_output``, ``_apps_convert``) put what DashScope answered into
  ``additional_kwargs``: ``reasoning_content``, ``search_info`` (once per message, also in a
  stream) and ``citations`` (LangChain ``Citation`` dicts whose offsets index the whole answer
  text, computed once, incrementally in streams). The translator registered here for
  ``model_provider="dashscope"`` only arranges them: reasoning, then the web search as a
  ``server_tool_call`` / ``server_tool_result`` pair, then the text with its ``annotations``,
  then tool calls.
- Stream blocks carry fixed ``lc_*`` string indexes, so langchain-core merges each kind with its
  own kind (integer indexes of different kinds could collide and merge a tool call into text).
- Markers stay in the text (``[ref_1]``, ``<ref>[1]</ref>``): nothing of the answer is removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

from dashscope_core import find_citation_markers

__all__ = ["PROVIDER", "WEB_SEARCH_ID", "doc_citations", "search_citations"]

PROVIDER = "dashscope"
WEB_SEARCH_ID = "dashscope_web_search"
"""``id`` of the ``server_tool_call`` block standing for a call's web search."""


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def search_citations(
    text: str, search_info: Any, since: int = 0, offset: int = 0
) -> list[types.Citation]:
    """``Citation``s for the ``[ref_N]`` markers of ``text`` that end after ``since``; their
    offsets are shifted by ``offset`` (where ``text`` starts in the whole answer)."""
    results = {_field(r, "index"): r for r in _field(search_info, "search_results") or ()}
    citations: list[types.Citation] = []
    for marker in find_citation_markers(text, since) if results else ():
        result = results.get(marker.number)
        if result is None:
            continue
        citation = types.Citation(type="citation", start_index=marker.start + offset,
                                  end_index=marker.end + offset,
                                  extras={"index": marker.number})  # fmt: skip
        for key in ("url", "title"):
            if _field(result, key):
                citation[key] = _field(result, key)
        if _field(result, "site_name"):
            citation["extras"]["site_name"] = _field(result, "site_name")
        citations.append(citation)
    return citations


def doc_citations(text: str, doc_references: Sequence[Any]) -> list[types.Citation]:
    """``Citation``s for the ``<ref>[N]</ref>`` markers of an app answer (``index_id`` N)."""
    refs = {str(_field(r, "index_id")): r for r in doc_references}
    citations: list[types.Citation] = []
    for marker in find_citation_markers(text) if refs else ():
        ref = refs.get(str(marker.number))
        if ref is None:
            continue
        extras = {k: _field(ref, k) for k in ("index_id", "doc_id", "doc_name")}
        citation = types.Citation(
            type="citation",
            start_index=marker.start,
            end_index=marker.end,
            extras={k: v for k, v in extras.items() if v is not None},
        )
        title = _field(ref, "title") or _field(ref, "doc_name")
        if title:
            citation["title"] = title
        if _field(ref, "url"):
            citation["url"] = _field(ref, "url")
        if _field(ref, "text"):
            citation["cited_text"] = _field(ref, "text")
        citations.append(citation)  # fmt: skip
    return citations


def _search_blocks(search_info: Any) -> list[types.ContentBlock]:
    results = [dict(r) for r in _field(search_info, "search_results") or ()]
    call = types.ServerToolCall(type="server_tool_call", id=WEB_SEARCH_ID, name="web_search",
                                args={})  # fmt: skip
    result = types.ServerToolResult(type="server_tool_result", tool_call_id=WEB_SEARCH_ID,
                                    status="success", output=results)  # fmt: skip
    return [call, result]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") if isinstance(b, Mapping) else str(b) for b in content)


def _leading(message: AIMessage, indexed: bool) -> list[types.ContentBlock]:
    """Reasoning, web search and text blocks (``lc_*`` indexes when ``indexed``)."""
    extra = message.additional_kwargs
    blocks: list[Any] = []
    if extra.get("reasoning_content"):
        blocks.append({"type": "reasoning", "reasoning": extra["reasoning_content"]})
    if extra.get("search_info"):
        blocks.extend(_search_blocks(extra["search_info"]))
    text, citations = _text_of(message.content), extra.get("citations") or []
    if text or citations or not indexed:
        block: dict[str, Any] = {"type": "text", "text": text}
        if citations:
            block["annotations"] = list(citations)
        blocks.append(block)
    if indexed:
        names = ("lc_reasoning", "lc_search_call", "lc_search_result", "lc_text")
        kinds = ("reasoning", "server_tool_call", "server_tool_result", "text")
        for block in blocks:
            block["index"] = names[kinds.index(block["type"])]
    return blocks


def _tool_blocks(message: AIMessage) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = []
    for call in message.tool_calls:
        blocks.append(types.ToolCall(type="tool_call", id=call.get("id"), name=call["name"],
                                     args=call["args"]))  # fmt: skip
    for bad in message.invalid_tool_calls:
        blocks.append(types.InvalidToolCall(type="invalid_tool_call", id=bad.get("id"),
                                            name=bad.get("name"), args=bad.get("args"),
                                            error=bad.get("error")))  # fmt: skip
    return blocks


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """Standard blocks of a whole DashScope answer."""
    return _leading(message, indexed=False) + _tool_blocks(message)


def translate_content_chunk(chunk: AIMessageChunk) -> list[types.ContentBlock]:
    """Standard blocks of a streamed delta, or of merged deltas (``chunk_position="last"``:
    tool calls whole when every merged fragment parses; a final delta's fragment stays a
    ``tool_call_chunk`` that langchain-core joins by ``index``)."""
    blocks = _leading(chunk, indexed=True)
    whole = not chunk.invalid_tool_calls and len(chunk.tool_calls) == len(chunk.tool_call_chunks)
    if chunk.chunk_position == "last" and whole:
        return blocks + _tool_blocks(chunk)
    for piece in chunk.tool_call_chunks:
        blocks.append(
            types.ToolCallChunk(
                type="tool_call_chunk",
                id=piece.get("id"),
                name=piece.get("name"),
                args=piece.get("args"),
                index=f"lc_tool_{piece.get('index') or 0}",
            )
        )
    return blocks  # fmt: skip


register_translator(PROVIDER, translate_content, translate_content_chunk)
