"""Text embeddings: ``POST /services/embeddings/text-embedding/text-embedding``.

Embeddings are hashed bags of features: lower-cased words, CJK characters and character
trigrams, each hashed (with a sign) into ``dimension`` buckets and L2-normalised, so texts that
share words are close and unrelated texts are nearly orthogonal. They depend only on the text and
the dimension (not on the seed). Limits follow the real service: text-embedding-v1/v2 take up to
25 texts and have 1536 dimensions; v3/v4 take up to 10 texts and default to 1024 dimensions
(v3: 64..1024, v4: 64..2048). Shape: recorded ``text-embedding-nosse``. With
``X-DashScope-Async: enable`` the same path submits a batch task (``_embeddings_batch``).
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

from dashscope_core.emulator._embeddings_batch import RESULT_ROUTE, is_batch, submit_batch
from dashscope_core.emulator._text import count_tokens
from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator

__all__ = ["PATH", "ROUTES", "embed", "handle"]

PATH = "/services/embeddings/text-embedding/text-embedding"

_MODELS: dict[str, tuple[int, int, tuple[int, ...]]] = {
    # model: (max texts per call, default dimension, allowed dimensions)
    "text-embedding-v1": (25, 1536, (1536,)),
    "text-embedding-v2": (25, 1536, (1536,)),
    "text-embedding-v3": (10, 1024, (1024, 768, 512, 256, 128, 64)),
    "text-embedding-v4": (10, 1024, (2048, 1536, 1024, 768, 512, 256, 128, 64)),
}
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


def _dimension(params: dict[str, Any], model: str) -> int:
    _, default, allowed = _MODELS[model]
    value = params.get("dimension", default)
    if isinstance(value, bool) or value not in allowed:
        raise _bad(f"Value error, dimension should be one of {list(allowed)}.")
    return int(value)


def _parse(body: Any) -> tuple[str, list[str], dict[str, Any]]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad('Required parameter "model" missing from request.')
    if model not in _MODELS:
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise _bad('"parameters" must be a JSON object.')
    texts = _texts(body)
    limit = _MODELS[model][0]
    if len(texts) > limit:
        raise _bad(f"batch size is invalid, it should not be larger than {limit}.")
    if params.get("text_type", "document") not in ("query", "document"):
        raise _bad("text_type should be 'query' or 'document'.")
    if params.get("output_type", "dense") not in ("dense", "sparse", "dense&sparse"):
        raise _bad("output_type should be 'dense', 'sparse' or 'dense&sparse'.")
    return model, texts, params


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


async def handle(request: Request, emulator: Emulator) -> Response:
    """Embed ``input.texts`` (with ``X-DashScope-Async: enable``: submit a batch task)."""
    if is_batch(request):
        return await submit_batch(request, emulator)
    model, texts, params = _parse(request.json)
    dimension = _dimension(params, model)
    output_type = str(params.get("output_type", "dense"))
    embeddings = [_item(t, i, dimension, output_type) for i, t in enumerate(texts)]
    usage = {"total_tokens": sum(count_tokens(t) for t in texts)}
    body = {"output": {"embeddings": embeddings}, "usage": usage, "request_id": request.request_id}
    return JSONResponse(body)


ROUTES = [Route("POST", PATH, handle, kind="embeddings"), RESULT_ROUTE]
