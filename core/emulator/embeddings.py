"""Text embeddings: ``POST /services/embeddings/text-embedding/text-embedding``.

Embeddings are hashed bags of features: lower-cased words, CJK characters and character
trigrams, each hashed (with a sign) into ``dimension`` buckets and L2-normalised, so texts that
share words are close and unrelated texts are nearly orthogonal. They depend only on the text and
the dimension (not on the seed). Models, batch limits and dimensions come from the profile table
(``dashscope_core.profiles``: ``max_inputs``, ``dimensions`` with the default first): an unknown
name answers 404 ``Model.NotExist``, a model that is not a text embedding model the service's
"url error". Shape: recorded ``text-embedding-nosse``. With
``X-DashScope-Async: enable`` the same path submits a batch task (``_embeddings_batch``).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from dashscope_core.emulator._embeddings_batch import RESULT_ROUTE, is_batch, submit_batch
from dashscope_core.emulator._genrules import check_model
from dashscope_core.emulator._text import count_tokens
from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import ModelProfile

__all__ = ["PATH", "ROUTES", "embed", "embed_call", "handle"]

PATH = "/services/embeddings/text-embedding/text-embedding"

_WORD = re.compile(r"[\u4e00-\u9fff]|[^\W_]+", re.UNICODE)


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _features(text: str) -> dict[str, float]:
    features: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        features["w:" + word] = features.get("w:" + word, 0.0) + 1.0
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            gram = "g:" + padded[i : i + 3]
            features[gram] = features.get(gram, 0.0) + 0.5
    return features


def embed(text: str, dimension: int) -> list[float]:
    """The deterministic, L2-normalised embedding of ``text``."""
    vector = [0.0] * dimension
    for feature, weight in _features(text).items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "big") % dimension
        vector[bucket] += weight if digest[4] & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def _texts(body: dict[str, Any]) -> list[str]:
    inp = body.get("input")
    if not isinstance(inp, dict) or "texts" not in inp:
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing.')
    texts = inp["texts"]
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts:
        raise _bad("input.texts should be a non-empty list of strings.")
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise _bad("The content of input.texts should not be empty.")
    return texts


def _dimension(params: dict[str, Any], profile: ModelProfile) -> int:
    allowed = profile.dimensions or (1024,)
    value = params.get("dimension", allowed[0])
    if isinstance(value, bool) or value not in allowed:
        raise _bad(f"Value error, dimension should be one of {list(allowed)}.")
    return int(value)


def _parse(body: Any) -> tuple[ModelProfile, list[str], dict[str, Any]]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad('Required parameter "model" missing from request.')
    profile = check_model(model, kind="embedding", endpoint="text")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad('"parameters" must be a JSON object.')
    texts = _texts(body)
    limit = profile.max_inputs or 10
    if len(texts) > limit:
        raise _bad(f"batch size is invalid, it should not be larger than {limit}.")
    if params.get("text_type", "document") not in ("query", "document"):
        raise _bad("text_type should be 'query' or 'document'.")
    if params.get("output_type", "dense") not in ("dense", "sparse", "dense&sparse"):
        raise _bad("output_type should be 'dense', 'sparse' or 'dense&sparse'.")
    return profile, texts, params


def _item(text: str, index: int, dimension: int, output_type: str) -> dict[str, Any]:
    item: dict[str, Any] = {"text_index": index}
    vector = embed(text, dimension)
    if output_type != "sparse":
        item["embedding"] = vector
    if output_type != "dense":
        item["sparse_embedding"] = [
            {"index": i, "value": v} for i, v in enumerate(vector) if v != 0.0
        ]
    return item


def embed_call(body: Any) -> tuple[list[dict[str, Any]], int]:
    """The ``output.embeddings`` items and billed tokens of a native request body (validated
    like the service; the OpenAI-compatible route converts its body and calls this too)."""
    profile, texts, params = _parse(body)
    dimension = _dimension(params, profile)
    output_type = str(params.get("output_type", "dense"))
    items = [_item(t, i, dimension, output_type) for i, t in enumerate(texts)]
    return items, sum(count_tokens(t) for t in texts)


async def handle(request: Request, emulator: Emulator) -> Response:
    """Embed ``input.texts`` (with ``X-DashScope-Async: enable``: submit a batch task)."""
    if is_batch(request):
        return await submit_batch(request, emulator)
    embeddings, tokens = embed_call(request.json)
    usage = {"total_tokens": tokens}
    body = {"output": {"embeddings": embeddings}, "usage": usage, "request_id": request.request_id}
    return JSONResponse(body)


ROUTES = [Route("POST", PATH, handle, kind="embeddings"), RESULT_ROUTE]
