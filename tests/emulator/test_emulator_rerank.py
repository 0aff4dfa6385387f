"""The emulator's rerank endpoint and its compatible-api twin: scores, limits, error codes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dashscope_core.emulator import ServerHandle

PATH = "/services/rerank/text-rerank/text-rerank"
DOCS = ["Paris is the capital of France.", "Bananas are yellow.", "France borders Spain."]


def _native(client: httpx.Client, **body: Any) -> httpx.Response:
    payload = {"model": body.pop("model", "qwen3-rerank"),
               "input": {"query": body.pop("query", "capital of France"),
                         "documents": body.pop("documents", DOCS)},
               "parameters": body}  # fmt: skip
    return client.post(PATH, json=payload)


def test_scores_rank_the_matching_document_first_and_are_deterministic(
    client: httpx.Client,
) -> None:
    first = _native(client, return_documents=True)
    assert first.status_code == 200, first.text
    body = first.json()
    results = body["output"]["results"]
    assert results[0]["index"] == 0
    assert results[0]["document"] == {"text": DOCS[0]}
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert body["usage"]["total_tokens"] > 0 and body["request_id"]
    assert _native(client, return_documents=True).json()["output"] == body["output"]


def test_top_n_and_no_documents_by_default(client: httpx.Client) -> None:
    results = _native(client, top_n=2).json()["output"]["results"]
    assert len(results) == 2 and "document" not in results[0]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "gte-rerank"}, 404, "Model.NotExist"),
        ({"model": "no-such-rerank"}, 404, "Model.NotExist"),
        ({"query": ""}, 400, "InvalidParameter"),
        ({"documents": []}, 400, "InvalidParameter"),
        ({"documents": [1]}, 400, "InvalidParameter"),
        ({"documents": ["x"] * 501}, 400, "InvalidParameter"),
        ({"documents": [" ".join(["w"] * 4000)] * 31}, 400, "InvalidParameter"),
        ({"top_n": 0}, 400, "InvalidParameter"),
    ],
)
def test_limits_and_errors(
    client: httpx.Client, body: dict[str, Any], status: int, code: str
) -> None:
    response = _native(client, **body)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.headers["x-request-id"] == response.json()["request_id"]


def test_items_longer_than_4000_tokens_are_truncated_not_refused(client: httpx.Client) -> None:
    response = _native(client, query="w", documents=[" ".join(["w"] * 9000)])
    assert response.status_code == 200
    assert response.json()["usage"]["total_tokens"] == 1 + 4000


def test_compatible_api_twin(server: ServerHandle, emu: Any) -> None:
    url = f"{server.origin}/compatible-api/v1/reranks"
    headers = {"Authorization": "Bearer sk-test"}
    body = {
        "model": "qwen3-rerank",
        "query": "capital of France",
        "documents": DOCS,
        "top_n": 2,
        "instruct": "Given a web search query, retrieve relevant passages.",
    }
    answer = httpx.post(url, json=body, headers=headers).json()
    assert answer["object"] == "list" and answer["model"] == "qwen3-rerank" and answer["id"]
    assert answer["results"][0]["index"] == 0 and len(answer["results"]) == 2
    assert answer["usage"]["total_tokens"] > 0
    error = httpx.post(url, json={**body, "documents": []}, headers=headers)
    assert error.status_code == 400
    assert error.json()["error"]["code"] == "InvalidParameter"
    assert error.json()["error"]["type"] == "invalid_request_error"
    [first, _] = emu.received("rerank")
    assert first.path == "/reranks"
