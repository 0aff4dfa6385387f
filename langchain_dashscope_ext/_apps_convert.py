"""Conversions between LangChain objects and Bailian app calls (module functions, no HTTP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from dashscope_core.resources.apps import app_input
from dashscope_core.types.apps import AppChunk, AppResponse, AppUsage
from langchain_dashscope_ext._blocks import doc_citations
from langchain_dashscope_ext._convert import content_to_text

__all__ = [
    "CALL_OPTIONS",
    "app_metadata",
    "chunk_to_generation",
    "format_answer",
    "response_to_documents",
    "response_to_result",
    "to_app_input",
    "usage_metadata",
]

PROVIDER = "dashscope"
CALL_OPTIONS = ("session_id", "rag_options", "biz_params", "has_thoughts", "memory_id",
                "image_list", "flow_stream_mode", "enable_thinking")  # fmt: skip
"""Per-call options a Bailian app call accepts besides the prompt or messages."""


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage) and message.role in ("system", "user", "assistant"):
        return message.role
    raise TypeError(f"messages: a {type(message).__name__} cannot be sent to a Bailian app")


def to_app_input(messages: Sequence[BaseMessage], session_id: str | None) -> dict[str, Any]:
    """``prompt`` (a first turn, or a session's next one) or ``messages`` (a client-kept
    history with AI turns): the core's ``app_input`` rule."""
    if not messages:
        raise ValueError("messages: expected at least one message")
    if session_id:  # the server has the history: only the last human message matters
        messages = [m for m in messages if isinstance(m, HumanMessage)][-1:]
    wire = [{"role": _role(m), "content": content_to_text(m.content, what="message content")}
            for m in messages]  # fmt: skip
    return app_input(wire, session_id)


def usage_metadata(usage: AppUsage) -> UsageMetadata:
    """Token usage summed over ``usage.models``."""
    return UsageMetadata(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                         total_tokens=usage.total_tokens)  # fmt: skip


def app_metadata(response: AppResponse, app_id: str) -> dict[str, Any]:
    """``response_metadata``: session_id, citations, thoughts, finish reason, request id."""
    out = response.output
    return {
        "app_id": app_id,
        "model_provider": PROVIDER,
        "session_id": out.session_id,
        "finish_reason": out.finish_reason,
        "request_id": response.request_id,
        "doc_references": [d.model_dump(exclude_none=True) for d in out.doc_references],
        "thoughts": [t.model_dump(exclude_none=True) for t in out.thoughts],
        "token_usage": response.usage.model_dump(exclude_none=True),
    }


def response_to_result(response: AppResponse, app_id: str) -> ChatResult:
    """A ``ChatResult`` for a whole app answer."""
    message = AIMessage(
        content=response.text,
        additional_kwargs=_citations(response.text, response),
        response_metadata=app_metadata(response, app_id),
        usage_metadata=usage_metadata(response.usage),
        id=response.request_id,
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


class ChunkState:
    """Which app a stream belongs to (metadata goes on the last chunk only, because
    langchain-core concatenates lists and strings when it adds chunks)."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.text = ""
        """The answer so far (``doc_references`` come last: citations are found at the end)."""

    def feed(self, chunk: AppChunk) -> ChatGenerationChunk:
        """The LangChain chunk for one app chunk."""
        self.text += chunk.output.text or ""
        return chunk_to_generation(chunk, self)


def _citations(text: str, response: AppResponse) -> dict[str, Any]:
    citations = doc_citations(text, response.output.doc_references)
    return {"citations": citations} if citations else {}


def chunk_to_generation(chunk: AppChunk, state: ChunkState) -> ChatGenerationChunk:
    """An ``AIMessageChunk`` delta; the final one carries metadata (whole thoughts, citations)
    and usage."""
    if not chunk.is_final:
        provider = {"model_provider": PROVIDER}  # standard blocks per chunk (``_blocks``)
        return ChatGenerationChunk(
            message=AIMessageChunk(content=chunk.output.text, response_metadata=provider)
        )
    message = AIMessageChunk(
        content=chunk.output.text,
        additional_kwargs=_citations(state.text, chunk),
        response_metadata=app_metadata(chunk, state.app_id),
        usage_metadata=usage_metadata(chunk.usage),
        chunk_position="last",
    )
    return ChatGenerationChunk(message=message)


def response_to_documents(response: AppResponse, app_id: str) -> list[Document]:
    """The answer's ``doc_references`` as ``Document``s (the answer itself under "answer")."""
    docs = []
    for ref in response.output.doc_references:
        meta = {**ref.model_dump(exclude_none=True, exclude={"text"}), "app_id": app_id,
                "answer": response.text, "session_id": response.session_id,
                "request_id": response.request_id}  # fmt: skip
        docs.append(Document(page_content=ref.text or "", metadata=meta))
    return docs


def format_answer(response: AppResponse) -> str:
    """The answer followed by its numbered sources, for an agent to read."""
    refs = response.output.doc_references
    if not refs:
        return response.text
    lines = [f"[{r.index_id}] {r.title or r.doc_name} ({r.doc_name}, doc_id={r.doc_id})"
             for r in refs]  # fmt: skip
    return response.text + "\n\nSources:\n" + "\n".join(lines)


def call_options(fields: Mapping[str, Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Per-call options: the instance's fields overridden by call kwargs (None = unset)."""
    merged = {name: fields.get(name) for name in CALL_OPTIONS}
    merged.update(kwargs)
    return {k: v for k, v in merged.items() if v is not None}
