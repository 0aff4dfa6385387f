"""Text reranking: ``client.rerank.call(model="qwen3-rerank", query=..., documents=[...])``.

Limits per request (the model's profile; PROTOCOL.md "Rerank"): qwen3-rerank takes 500
documents, 4,000 tokens per query or document and 120,000 tokens per request, counted as
``query tokens × documents + document tokens``. Longer inputs are split into several requests
(token counts are ``estimate_tokens``'s generous estimate) and merged by score, with ``index``
pointing into the caller's list and ``usage.total_tokens`` summed: a cross-encoder scores each
(query, document) pair on its own, so scores from different requests compare.

A query or document above the per-item limit is sent as it is: the service truncates it and
scores the beginning (documented behaviour); refusing would break RAG pipelines over one long
chunk. Empty ``documents`` answers an empty result without a request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core._protocol.tokens import estimate_tokens
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.profiles import get_profile
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace, bounded_gather
from dashscope_core.resources._generation_checks import check_model
from dashscope_core.types.rerank import RerankOutput, RerankResponse, RerankResult, RerankUsage

__all__ = [
    "DEFAULT_MODEL",
    "MAX_CONCURRENCY",
    "RERANK_PATH",
    "AsyncRerank",
    "Rerank",
    "RerankLimits",
    "build_calls",
    "limits",
    "merge_responses",
    "parse_call",
]

RERANK_PATH = "/services/rerank/text-rerank/text-rerank"
DEFAULT_MODEL = "qwen3-rerank"
MAX_CONCURRENCY = 4

RerankLimits = tuple[int, int, int]
"""(documents per request, tokens per query or document, tokens per request)."""


def limits(model: str) -> RerankLimits:
    """The per-request limits of ``model`` from its profile (qwen3-rerank's when the profile
    table does not describe a reranker of that name)."""
    profile = get_profile(model)
    if profile.kind != "rerank" or not profile.max_inputs or not profile.max_request_tokens:
        profile = get_profile(DEFAULT_MODEL)
    return profile.max_inputs or 500, profile.context_window, profile.max_request_tokens or 0


def _check_documents(documents: Any) -> list[str | Mapping[str, Any]]:
    if isinstance(documents, str) or not isinstance(documents, Sequence):
        raise TypeError(f"documents: expected a list of strings, got {type(documents).__name__}")
    for i, doc in enumerate(documents):
        if isinstance(doc, Mapping):
            continue  # multimodal documents ({"text"} / {"image"} / {"video"}) pass through
        if not isinstance(doc, str):
            raise TypeError(f"documents[{i}]: expected a string, got {type(doc).__name__}")
        if not doc.strip():
            raise ValueError(f"documents[{i}]: must not be empty")
    return list(documents)


def _check_options(query: Any, top_n: Any, instruct: Any) -> None:
    if not isinstance(query, str):
        raise TypeError(f"query: expected a string, got {type(query).__name__}")
    if not query.strip():
        raise ValueError("query: must not be empty")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise ValueError(f"top_n: expected a positive integer, got {top_n!r}")
    if instruct is not None and not isinstance(instruct, str):
        raise TypeError(f"instruct: expected a string, got {type(instruct).__name__}")


def _cost(doc: str | Mapping[str, Any], per_item: int) -> int:
    text = doc if isinstance(doc, str) else doc.get("text")
    return min(estimate_tokens(text), per_item) if isinstance(text, str) else per_item


def _batches(model: str, query: str, documents: Sequence[str | Mapping[str, Any]]) -> list[range]:
    max_docs, per_item, per_request = limits(model)
    query_cost = min(estimate_tokens(query), per_item)
    batches: list[range] = []
    start = used = 0
    for i, doc in enumerate(documents):
        cost = query_cost + _cost(doc, per_item)
        if i > start and (i - start >= max_docs or used + cost > per_request):
            batches.append(range(start, i))
            start, used = i, 0
        used += cost
    if documents:
        batches.append(range(start, len(documents)))
    return batches


def build_calls(
    *,
    model: str = DEFAULT_MODEL,
    query: str,
    documents: Sequence[str | Mapping[str, Any]],
    top_n: int | None = None,
    instruct: str | None = None,
    **parameters: Any,
) -> list[RequestSpec]:
    """One request per slice of ``documents`` within the limits; bad arguments raise here."""
    check_model(model)
    _check_options(query, top_n, instruct)
    docs = _check_documents(documents)
    params = {k: v for k, v in {**parameters, "instruct": instruct}.items() if v is not None}
    specs = []
    for batch in _batches(model, query, docs):
        part = {**params}
        if top_n is not None:
            part["top_n"] = min(top_n, len(batch))
        inp = {"query": query, "documents": docs[batch.start : batch.stop]}
        body = {"model": model, "input": inp, "parameters": part}
        specs.append(RequestSpec("POST", RERANK_PATH, json=body))
    return specs


@response_parser
def parse_call(raw: RawResponse) -> RerankResponse:
    """Parse one rerank answer."""
    return RerankResponse.model_validate_json(raw.content)


def merge_responses(
    responses: Sequence[RerankResponse], specs: Sequence[RequestSpec], top_n: int | None
) -> RerankResponse:
    """One answer for a split call: indices into the whole list, best first, tokens summed."""
    if not responses:
        return RerankResponse(usage=RerankUsage(total_tokens=0))
    results: list[RerankResult] = []
    offset, total = 0, 0
    for response, spec in zip(responses, specs, strict=True):
        sent = len(spec.json["input"]["documents"])
        seen: set[int] = set()
        for result in response.results:
            if not 0 <= result.index < sent or result.index in seen:
                raise APIResponseValidationError(
                    f"rerank result index {result.index} is not one of the {sent} documents sent",
                    status_code=200,
                    request_id=response.request_id,
                )
            seen.add(result.index)
            results.append(result.model_copy(update={"index": result.index + offset}))
        offset += sent
        total += response.usage.total_tokens or 0
    if len(responses) == 1:
        return responses[0]
    results.sort(key=lambda r: (-r.relevance_score, r.index))
    merged = responses[0].model_copy()
    merged.output = RerankOutput(results=results[:top_n] if top_n is not None else results)
    merged.usage = RerankUsage(total_tokens=total)
    return merged


class Rerank(SyncNamespace):
    """Text reranking."""

    def call(
        self,
        *,
        model: str = DEFAULT_MODEL,
        query: str,
        documents: Sequence[str | Mapping[str, Any]],
        top_n: int | None = None,
        instruct: str | None = None,
        **parameters: Any,
    ) -> RerankResponse:
        """Score ``documents`` against ``query``; results best first, indices into ``documents``."""
        specs = build_calls(model=model, query=query, documents=documents, top_n=top_n,
                            instruct=instruct, **parameters)  # fmt: skip
        return merge_responses([parse_call(self._client._send(s)) for s in specs], specs, top_n)


class AsyncRerank(AsyncNamespace):
    """Text reranking (async; split requests are sent concurrently)."""

    async def call(
        self,
        *,
        model: str = DEFAULT_MODEL,
        query: str,
        documents: Sequence[str | Mapping[str, Any]],
        top_n: int | None = None,
        instruct: str | None = None,
        **parameters: Any,
    ) -> RerankResponse:
        """Score ``documents`` against ``query``; results best first, indices into ``documents``."""
        specs = build_calls(model=model, query=query, documents=documents, top_n=top_n,
                            instruct=instruct, **parameters)  # fmt: skip
        raws = await bounded_gather(self._client._send, specs, MAX_CONCURRENCY)
        return merge_responses([parse_call(raw) for raw in raws], specs, top_n)
