"""Wire models of text embeddings (PROTOCOL.md "Embeddings")."""

from __future__ import annotations

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default

__all__ = ["Embedding", "EmbeddingOutput", "EmbeddingResponse", "EmbeddingUsage"]


class Embedding(WireModel):
    """One vector; ``text_index`` is the position of its text in the request."""

    embedding: list[float] = Field(default_factory=list)
    text_index: int = 0

    _nulls = null_means_default("embedding", "text_index")


class EmbeddingOutput(WireModel):
    """``output``: the vectors."""

    embeddings: list[Embedding] = Field(default_factory=list)

    _nulls = null_means_default("embeddings")


class EmbeddingUsage(WireModel):
    """``usage``: tokens billed."""

    total_tokens: int | None = None


class EmbeddingResponse(WireModel):
    """An embeddings answer (merged over batches when the input was split)."""

    request_id: str | None = None
    output: EmbeddingOutput = Field(default_factory=EmbeddingOutput)
    usage: EmbeddingUsage = Field(default_factory=EmbeddingUsage)

    _nulls = null_means_default("output", "usage")

    @property
    def embeddings(self) -> list[list[float]]:
        """The vectors in input order."""
        items = sorted(self.output.embeddings, key=lambda e: e.text_index)
        return [e.embedding for e in items]
