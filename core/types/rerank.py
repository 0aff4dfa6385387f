"""Wire models of text reranking (PROTOCOL.md "Rerank")."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default

__all__ = ["RerankOutput", "RerankResponse", "RerankResult", "RerankUsage"]


class RerankResult(WireModel):
    """One scored document; ``index`` is its position in the caller's ``documents``."""

    index: int = 0
    relevance_score: float = 0.0
    document: dict[str, Any] | None = None
    """``{"text": ...}`` when ``return_documents=True`` was asked for."""

    _nulls = null_means_default("index", "relevance_score")


class RerankOutput(WireModel):
    """``output``: results, most relevant first."""

    results: list[RerankResult] = Field(default_factory=list)

    _nulls = null_means_default("results")


class RerankUsage(WireModel):
    """``usage``: tokens billed (summed over the requests of a split call)."""

    total_tokens: int | None = None


class RerankResponse(WireModel):
    """A rerank answer (merged by score when the documents were split over requests)."""

    request_id: str | None = None
    output: RerankOutput = Field(default_factory=RerankOutput)
    usage: RerankUsage = Field(default_factory=RerankUsage)

    _nulls = null_means_default("output", "usage")

    @property
    def results(self) -> list[RerankResult]:
        """The scored documents, most relevant first."""
        return self.output.results
