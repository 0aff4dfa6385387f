"""Wire models of OpenAI-compatible bodies (``/compatible-mode/v1``): chat completions and
embeddings, as batch output lines carry them (recorded ``get-file-content-compatible-nosse``).

Field names are the JSON names verbatim, unknown fields are kept and every field has a default,
so minimal bodies parse. ``ChatCompletion.to_generation_response()`` gives the same answer in
the native shape, so code written for ``GenerationResponse`` (the framework converters) reads
batch answers too.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default
from dashscope_core.types.generation import (
    FinishReason,
    GenerationResponse,
    Message,
    content_text,
)

__all__ = [
    "ChatCompletion",
    "ChatCompletionChoice",
    "ChatCompletionMessage",
    "CompletionUsage",
    "CreateEmbeddingResponse",
    "EmbeddingData",
    "EmbeddingUsage",
]


class ChatCompletionMessage(Message):
    """An assistant message: ``content``, ``reasoning_content`` (thinking) and tool calls, as
    in native generation (``Message``)."""


class ChatCompletionChoice(WireModel):
    """One candidate answer."""

    index: int | None = None
    finish_reason: FinishReason = None
    message: ChatCompletionMessage = Field(default_factory=ChatCompletionMessage)
    _nulls = null_means_default("message")
    logprobs: dict[str, Any] | None = None


class CompletionUsage(WireModel):
    """``usage`` in OpenAI names: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: dict[str, Any] | None = None
    completion_tokens_details: dict[str, Any] | None = None


class ChatCompletion(WireModel):
    """A ``chat.completion`` body (``/v1/chat/completions``)."""

    id: str = ""
    object: str | None = None
    created: int | None = None
    model: str | None = None
    choices: list[ChatCompletionChoice] = Field(default_factory=list)
    _nulls = null_means_default("id", "choices")
    usage: CompletionUsage | None = None
    system_fingerprint: str | None = None

    @property
    def text(self) -> str:
        """The first choice's text (list content joined), else ""."""
        return content_text(self.choices[0].message.content) if self.choices else ""

    def to_generation_response(self, request_id: str | None = None) -> GenerationResponse:
        """The same answer as a native ``GenerationResponse`` (``result_format="message"``)."""
        choices = [
            {
                "index": c.index if c.index is not None else i,
                "finish_reason": c.finish_reason,
                "message": c.message.model_dump(exclude_none=True),
                **({"logprobs": c.logprobs} if c.logprobs is not None else {}),
            }
            for i, c in enumerate(self.choices)
        ]
        usage: dict[str, Any] = {}
        if self.usage is not None:
            u = self.usage
            usage = {"input_tokens": u.prompt_tokens, "output_tokens": u.completion_tokens,
                     "total_tokens": u.total_tokens}  # fmt: skip
            if u.prompt_tokens_details:
                usage["prompt_tokens_details"] = u.prompt_tokens_details
            if u.completion_tokens_details:
                usage["output_tokens_details"] = u.completion_tokens_details
        body = {"request_id": request_id or self.id or None, "output": {"choices": choices}}
        return GenerationResponse.model_validate({**body, "usage": usage})


class EmbeddingData(WireModel):
    """One vector; ``embedding`` is a list of floats, or base64 little-endian float32s when
    ``encoding_format="base64"`` was asked for (read it through ``vector``)."""

    object: str | None = None
    index: int = 0
    embedding: list[float] | str = Field(default_factory=list)
    _nulls = null_means_default("index", "embedding")

    @property
    def vector(self) -> list[float]:
        """The embedding as floats (base64 decoded)."""
        if isinstance(self.embedding, str):
            raw = base64.b64decode(self.embedding)
            return list(struct.unpack(f"<{len(raw) // 4}f", raw))
        return self.embedding


class EmbeddingUsage(WireModel):
    """``usage`` of an embeddings call."""

    prompt_tokens: int | None = None
    total_tokens: int | None = None


class CreateEmbeddingResponse(WireModel):
    """An embeddings body (``/v1/embeddings``): ``data[i].embedding`` for ``input[i]``."""

    object: str | None = None
    data: list[EmbeddingData] = Field(default_factory=list)
    _nulls = null_means_default("data")
    model: str | None = None
    usage: EmbeddingUsage | None = None
    id: str | None = None

    @property
    def embeddings(self) -> list[list[float]]:
        """The vectors in input order (sorted by ``index``)."""
        return [d.vector for d in sorted(self.data, key=lambda d: d.index)]
