"""Text reranking: ``POST /services/rerank/text-rerank/text-rerank`` and its OpenAI-style twin
``POST /compatible-api/v1/reranks`` (PROTOCOL.md "Rerank").

Behaviour:

- Scores are deterministic: the share of the query's terms (lower-cased words of three letters
  or more without a plural "s", CJK characters) found in the document, mapped into
  (0.05, 0.95), plus a tiny per-pair hash so ties are stable.
  A document that contains the query's words always outranks one that does not.
- The service's limits per model (its profile; Model Studio "Text rerank"): qwen3-rerank takes
  at most 500
  documents and 120,000 tokens per request, counted as ``query tokens × documents + document
  tokens`` after each query or document is cut to 4,000 tokens (longer ones are truncated, not
  refused). Above a limit: 400 ``InvalidParameter``. ``usage.total_tokens`` is that count.
- Unknown or retired models (gte-rerank) answer 404 ``Model.NotExist``; an empty query or
  document list, a non-string document, or ``top_n`` < 1 answer 400 ``InvalidParameter``.
- Results come best first, cut to ``top_n``; ``document: {"text"}`` only with
  ``return_documents: true``. The compatible twin answers ``{"id", "object": "list", "model",
  "results", "usage"}`` and OpenAI-shaped errors ``{"error": {"code", "message", "type"}}``.
"""

from __future__ import annotations

import re
from typing import Any

from dashscope_core.emulator._text import count_tokens, stable_hash
from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import get_profile

__all__ = ["COMPATIBLE_PREFIX", "PATH", "ROUTES", "rerank", "score"]

PATH = "/services/rerank/text-rerank/text-rerank"
COMPATIBLE_PREFIX = "/compatible-api/v1"
_TERMS = re.compile(r"[\u4e00-\u9fff]|[^\W_]+", re.UNICODE)


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _terms(text: str) -> set[str]:
    # words of three letters or more, a plural "s" dropped, and every CJK character
    words = _TERMS.findall(text.lower())
    return {w.removesuffix("s") for w in words if len(w) > 2 or not w.isascii()}


def score(query: str, document: str) -> float:
    """The deterministic relevance of ``document`` to ``query``, in (0, 1)."""
    wanted = _terms(query)
    found = len(wanted & _terms(document)) / len(wanted) if wanted else 0.0
    jitter = (stable_hash("rerank", query, document) % 1000) / 100_000
    return round(0.05 + 0.9 * found + jitter, 6)


def _document_text(doc: Any) -> str:
    if isinstance(doc, str):
        return doc
    text = doc.get("text") if isinstance(doc, dict) else None
    if isinstance(text, str):
        return text
    raise _bad("Each document must be a string or an object with a text field.")


def rerank(model: Any, query: Any, documents: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """Validate and answer one call: ``{"results": [...], "total_tokens": n}``."""
    if not isinstance(model, str) or not model:
        raise _bad('Required parameter "model" missing from request.')
    profile = get_profile(model)  # the limits of the model (dashscope_core.profiles)
    if not profile.known or profile.kind != "rerank":
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    max_docs, per_item = profile.max_inputs or 500, profile.context_window
    per_request = profile.max_request_tokens or 120_000
    if not isinstance(query, str) or not query.strip():
        raise _bad("The query must be a non-empty string.")
    if not isinstance(documents, list) or not documents:
        raise _bad("The documents must be a non-empty list.")
    if len(documents) > max_docs:
        raise _bad(f"The number of documents ({len(documents)}) exceeds the limit of {max_docs}.")
    texts = [_document_text(doc) for doc in documents]
    query_tokens = min(count_tokens(query), per_item)
    total = sum(query_tokens + min(count_tokens(text), per_item) for text in texts)
    if total > per_request:
        raise _bad(f"Input length {total} exceeds the maximum of {per_request} tokens per request.")
    top_n = parameters.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise _bad("top_n must be a positive integer.")
    ranked = sorted(range(len(texts)), key=lambda i: (-score(query, texts[i]), i))
    results = []
    for i in ranked[:top_n]:
        result: dict[str, Any] = {"index": i, "relevance_score": score(query, texts[i])}
        if parameters.get("return_documents") is True:
            result["document"] = {"text": texts[i]}
        results.append(result)
    return {"results": results, "total_tokens": total}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def native(request: Request, emulator: Emulator) -> Response:
    """The DashScope-native rerank call."""
    body = _object(request.json)
    inp, params = _object(body.get("input")), _object(body.get("parameters"))
    answer = rerank(body.get("model"), inp.get("query"), inp.get("documents"), params)
    return JSONResponse({"output": {"results": answer["results"]},
                         "usage": {"total_tokens": answer["total_tokens"]},
                         "request_id": request.request_id})  # fmt: skip


async def compatible(request: Request, emulator: Emulator) -> Response:
    """The OpenAI-style twin (``/compatible-api/v1/reranks``): flat body, OpenAI errors."""
    body = _object(request.json)
    try:
        answer = rerank(body.get("model"), body.get("query"), body.get("documents"), body)
    except ApiError as exc:
        error = {"code": exc.code, "message": exc.message, "type": "invalid_request_error",
                 "param": None}  # fmt: skip
        return JSONResponse({"error": error, "request_id": request.request_id}, exc.status)
    return JSONResponse({"id": request.request_id, "object": "list", "model": body["model"],
                         "results": answer["results"],
                         "usage": {"total_tokens": answer["total_tokens"]}})  # fmt: skip


ROUTES = [
    Route("POST", PATH, native, kind="rerank"),
    Route("POST", "/reranks", compatible, kind="rerank", prefix=COMPATIBLE_PREFIX),
]
