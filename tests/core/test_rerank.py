"""``client.rerank.call``: splitting above the service's limits, merging by score, typed errors,
no request for empty input — over real HTTP against the emulator (sync and async), plus a
loopback server of our own that enforces the limits and shuffles scores."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from _gen_client import GenClient

from dashscope_core import AsyncDashScope, DashScope, RerankResponse, estimate_tokens
from dashscope_core.emulator import Emulator
from dashscope_core.errors import APIResponseValidationError, BadRequestError, NotFoundError
from dashscope_core.resources.rerank import build_calls

DOCS = [
    "Quantum computing is a frontier of computer science.",
    "Rerank models sort candidate documents by relevance to a query.",
    "The development of pre-trained language models advanced rerank models.",
]


def test_one_request_results_best_first_with_documents(
    gen_ds: GenClient, gen_emu: Emulator
) -> None:
    answer = gen_ds.run(gen_ds.client.rerank.call(
        query="what is a rerank model", documents=DOCS, top_n=2, return_documents=True,
        instruct="Given a web search query, retrieve relevant passages that answer the query.",
    ))  # fmt: skip
    assert isinstance(answer, RerankResponse)
    assert {r.index for r in answer.results} == {1, 2}
    assert answer.results[0].relevance_score > answer.results[1].relevance_score
    assert answer.results[0].document == {"text": DOCS[answer.results[0].index]}
    assert answer.usage.total_tokens and answer.request_id
    [sent] = gen_emu.received("rerank")
    assert sent.json == {
        "model": "qwen3-rerank",
        "input": {"query": "what is a rerank model", "documents": DOCS},
        "parameters": {"top_n": 2, "return_documents": True, "instruct": (
            "Given a web search query, retrieve relevant passages that answer the query.")},
    }  # fmt: skip


def test_more_than_500_documents_are_split_and_merged(gen_ds: GenClient, gen_emu: Emulator) -> None:
    docs = [f"filler passage number {i}" for i in range(1200)]
    docs[1100] = "alpine lakes hold cold clear water"
    docs[3] = "alpine lakes"
    answer = gen_ds.run(
        gen_ds.client.rerank.call(query="alpine lakes water", documents=docs, top_n=3)
    )
    sent = gen_emu.received("rerank")
    assert [len(r.json["input"]["documents"]) for r in sent] == [500, 500, 200]
    assert all(r.json["parameters"]["top_n"] == 3 for r in sent)
    assert [r.index for r in answer.results][:2] == [1100, 3]
    assert len(answer.results) == 3
    totals = [json.loads(r.body)["input"]["documents"] for r in sent]
    assert sum(len(t) for t in totals) == 1200
    # total_tokens sums the three requests: q×n + Σ doc tokens per request (emulator counting)
    assert answer.usage.total_tokens == sum(3 * len(d) + sum(len(x.split()) for x in d)
                                            for d in totals)  # fmt: skip


def test_token_budget_splits_long_documents(gen_ds: GenClient, gen_emu: Emulator) -> None:
    docs = [" ".join(["lorem"] * 3000) for _ in range(60)]  # 3,000 emulator tokens each
    answer = gen_ds.run(gen_ds.client.rerank.call(query="lorem ipsum", documents=docs))
    sent = gen_emu.received("rerank")
    assert len(sent) > 1  # 60 × 3,000 tokens is over 120,000
    assert sorted(r.index for r in answer.results) == list(range(60))


def test_a_document_above_4000_tokens_is_sent_whole(gen_ds: GenClient, gen_emu: Emulator) -> None:
    long_doc = "word " * 9000  # the service truncates it; we neither refuse nor cut it
    gen_ds.run(gen_ds.client.rerank.call(query="word", documents=[long_doc, "other"]))
    [sent] = gen_emu.received("rerank")
    assert sent.json["input"]["documents"][0] == long_doc


def test_empty_documents_make_no_request(gen_ds: GenClient, gen_emu: Emulator) -> None:
    answer = gen_ds.run(gen_ds.client.rerank.call(query="q", documents=[]))
    assert answer.results == [] and answer.usage.total_tokens == 0
    assert gen_emu.received() == []


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"query": "", "documents": ["a"]}, ValueError, "query"),
        ({"query": 3, "documents": ["a"]}, TypeError, "query"),
        ({"query": "q", "documents": "a"}, TypeError, "documents"),
        ({"query": "q", "documents": ["a", ""]}, ValueError, "documents[1]"),
        ({"query": "q", "documents": ["a", 7]}, TypeError, "documents[1]"),
        ({"query": "q", "documents": ["a"], "top_n": 0}, ValueError, "top_n"),
        ({"query": "q", "documents": ["a"], "instruct": 1}, TypeError, "instruct"),
        ({"query": "q", "documents": ["a"], "model": ""}, ValueError, "model"),
    ],
)
def test_bad_arguments_raise_before_any_request(
    gen_ds: GenClient, gen_emu: Emulator, kwargs: dict[str, Any], error: type, names: str
) -> None:
    with pytest.raises(error, match=names.replace("[", r"\[")):
        gen_ds.run(gen_ds.client.rerank.call(**kwargs))
    assert gen_emu.received() == []


def test_server_errors_are_typed(gen_ds: GenClient, gen_emu: Emulator) -> None:
    with pytest.raises(NotFoundError) as info:
        gen_ds.run(gen_ds.client.rerank.call(model="gte-rerank", query="q", documents=["a"]))
    assert info.value.code == "Model.NotExist" and info.value.request_id
    gen_emu.script.error(400, "InvalidParameter", "bad documents", kind="rerank")
    with pytest.raises(BadRequestError, match="bad documents"):
        gen_ds.run(gen_ds.client.rerank.call(query="q", documents=["a"]))


def test_estimate_is_never_below_the_emulator_count() -> None:
    from dashscope_core.emulator._text import count_tokens

    for text in ["hello world", "数据 1234 foo-bar_baz!", "internationalization " * 50, ""]:
        assert estimate_tokens(text) >= count_tokens(text)


# --- an independent loopback server: enforces 3 documents per request, shuffles its output


class _Strict:
    """A MockTransport handler playing a reranker with a 3-document limit and random order."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        docs = body["input"]["documents"]
        if len(docs) > 3:
            return httpx.Response(400, json={"code": "InvalidParameter", "message": "too many"})
        results = [{"index": i, "relevance_score": float(len(d))} for i, d in enumerate(docs)]
        results.reverse()  # not sorted: merging must sort
        top_n = body["parameters"].get("top_n")
        return httpx.Response(
            200,
            json={
                "output": {"results": results[:top_n]},
                "usage": {"total_tokens": 10},
                "request_id": "r",
            },
        )


def _strict_client(mode: str, handler: _Strict) -> Any:
    transport = httpx.MockTransport(handler)
    if mode == "sync":
        return DashScope(api_key="k", base_url="https://rr.test/api/v1",
                         http_client=httpx.Client(transport=transport))  # fmt: skip
    return AsyncDashScope(api_key="k", base_url="https://rr.test/api/v1",
                          http_client=httpx.AsyncClient(transport=transport))  # fmt: skip


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_merge_against_a_server_with_smaller_limits(mode: str) -> None:
    import asyncio

    from dashscope_core import register_profile

    register_profile("tiny-rerank", based_on="qwen3-rerank", max_inputs=3)
    handler = _Strict()
    client = _strict_client(mode, handler)
    docs = ["a", "bbbbb", "cc", "dddd", "e", "ffffff", "ggg"]
    call = client.rerank.call(model="tiny-rerank", query="q", documents=docs, top_n=4)
    answer = call if mode == "sync" else asyncio.run(call)
    assert [len(b["input"]["documents"]) for b in handler.bodies] == [3, 3, 1]
    assert [r.index for r in answer.results] == [5, 1, 3, 6]
    assert answer.usage.total_tokens == 30


def test_a_result_index_outside_the_request_is_a_typed_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"output": {"results": [{"index": 5,
                              "relevance_score": 0.5}]}, "request_id": "r"})  # fmt: skip

    http = httpx.Client(transport=httpx.MockTransport(handler))
    client = DashScope(api_key="k", base_url="https://rr.test/api/v1", http_client=http)
    with pytest.raises(APIResponseValidationError, match="index 5"):
        client.rerank.call(query="q", documents=["a", "b"])


def test_builder_counts_the_query_once_per_document() -> None:
    query = "word " * 1000
    per_document = estimate_tokens(query) + 1  # query tokens × documents + document tokens
    fit = 120_000 // per_document
    specs = build_calls(query=query, documents=["x"] * 200)
    sizes = [len(s.json["input"]["documents"]) for s in specs]
    assert sizes[:-1] == [fit] * (len(sizes) - 1) and sum(sizes) == 200
