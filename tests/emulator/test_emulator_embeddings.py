"""Embeddings: deterministic, normalised, meaningful, limits like the real service."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from emulator_helpers import EMB

ONE = {"model": "text-embedding-v3", "input": {"texts": ["x"]}}


def _embed(client: httpx.Client, texts: list[str], **parameters: Any) -> list[list[float]]:
    payload = {"model": parameters.pop("model", "text-embedding-v3"), "input": {"texts": texts},
               "parameters": parameters}  # fmt: skip
    response = client.post(EMB, json=payload)
    assert response.status_code == 200, response.text
    items = response.json()["output"]["embeddings"]
    assert [i["text_index"] for i in items] == list(range(len(texts)))
    return [i["embedding"] for i in items]


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_deterministic_and_normalised(client: httpx.Client) -> None:
    first = _embed(client, ["The cat sat on the mat", "代码改变世界"])
    assert first == _embed(client, ["The cat sat on the mat", "代码改变世界"])
    assert all(len(v) == 1024 and math.isclose(_cos(v, v), 1.0) for v in first)


def test_similar_texts_are_closer(client: httpx.Client) -> None:
    query, near, far = _embed(client, ["How do cats sleep?", "Cats sleep a lot during the day",
                                       "Quarterly revenue grew by eight percent"])  # fmt: skip
    assert _cos(query, near) > _cos(query, far) + 0.1


@pytest.mark.parametrize(("model", "dimension"), [("text-embedding-v1", 1536),
                         ("text-embedding-v2", 1536), ("text-embedding-v4", 1024)])  # fmt: skip
def test_default_dimensions(client: httpx.Client, model: str, dimension: int) -> None:
    assert len(_embed(client, ["x"], model=model)[0]) == dimension


def test_dimension_and_text_type(client: httpx.Client) -> None:
    assert len(_embed(client, ["x"], dimension=256, text_type="query")[0]) == 256
    assert len(_embed(client, ["x"], model="text-embedding-v4", dimension=2048)[0]) == 2048


def test_sparse_output(client: httpx.Client) -> None:
    payload = {"model": "text-embedding-v3", "input": {"texts": ["hello world"]},
               "parameters": {"output_type": "dense&sparse"}}  # fmt: skip
    item = client.post(EMB, json=payload).json()["output"]["embeddings"][0]
    assert item["embedding"] and item["sparse_embedding"][0].keys() == {"index", "value"}


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"model": "text-embedding-v3", "input": {"texts": ["x"] * 11}}, 400, "larger than 10"),
        ({"model": "text-embedding-v2", "input": {"texts": ["x"] * 26}}, 400, "larger than 25"),
        ({"model": "text-embedding-v3", "input": {"texts": [""]}}, 400, "empty"),
        ({"model": "text-embedding-v3", "input": {"texts": []}}, 400, "non-empty"),
        ({"model": "text-embedding-v3"}, 400, "input"),
        ({"model": "text-embedding-v9", "input": {"texts": ["x"]}}, 404, "Model not exist"),
        ({"input": {"texts": ["x"]}}, 400, "model"),
        ({**ONE, "parameters": {"dimension": 100}}, 400, "dimension"),
        ({**ONE, "parameters": {"text_type": "x"}}, 400, "text_type"),
    ],
)  # fmt: skip
def test_errors(client: httpx.Client, payload: dict[str, Any], status: int, fragment: str) -> None:
    response = client.post(EMB, json=payload)
    assert response.status_code == status
    assert fragment in response.json()["message"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_limits_allow_the_maximum(client: httpx.Client) -> None:
    assert len(_embed(client, ["x"] * 25, model="text-embedding-v2")) == 25
    assert len(_embed(client, ["x"] * 10)) == 10
