"""client.embeddings: argument checks, batching and merging (pure and against the emulator)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from dashscope_core import EmbeddingResponse
from dashscope_core.emulator import Emulator
from dashscope_core.emulator.embeddings import embed as embed_text
from dashscope_core.emulator.prediction_runs import state
from dashscope_core.errors import APIResponseValidationError, BadRequestError
from dashscope_core.resources.embeddings import (
    EMBEDDINGS_PATH,
    batch_limit,
    build_calls,
    merge_responses,
)

GenClient = Any  # the gen_ds wrapper of tests/core/conftest.py
TEXTS = [f"sentence number {i} about topic {i % 3}" for i in range(23)]


def embed(ds: GenClient, **kwargs: Any) -> EmbeddingResponse:
    result: EmbeddingResponse = ds.run(ds.client.embeddings.call(**kwargs))
    return result


BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"model": "", "texts": ["a"]}, ValueError, "model"),
    ({"model": "text-embedding-v3", "texts": "a"}, TypeError, "texts=\\[text\\]"),
    ({"model": "text-embedding-v3", "texts": []}, ValueError, "texts"),
    ({"model": "text-embedding-v3", "texts": 5}, TypeError, "texts"),
    ({"model": "text-embedding-v3", "texts": ["a", ""]}, ValueError, r"texts\[1\]"),
    ({"model": "text-embedding-v3", "texts": ["a", None]}, TypeError, r"texts\[1\]"),
    ({"model": "text-embedding-v3", "texts": ["a"], "text_type": "doc"}, ValueError, "text_type"),
    ({"model": "text-embedding-v3", "texts": ["a"], "dimension": 0}, ValueError, "dimension"),
    ({"model": "text-embedding-v3", "texts": ["a"], "batch_size": 0}, ValueError, "batch_size"),
    ({"model": "text-embedding-v3", "texts": ["a"], "output_type": 1}, TypeError, "output_type"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_arguments_name_the_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build_calls(**kwargs)


def test_requests_are_split_at_the_server_limit() -> None:
    assert (batch_limit("text-embedding-v2"), batch_limit("text-embedding-v4")) == (25, 10)
    assert batch_limit("my-embedder") == 10
    specs = build_calls(model="text-embedding-v3", texts=TEXTS, text_type="document", dimension=64)
    assert [len(s.json["input"]["texts"]) for s in specs] == [10, 10, 3]
    assert all(s.path == EMBEDDINGS_PATH and s.method == "POST" for s in specs)
    assert specs[0].json["parameters"] == {"text_type": "document", "dimension": 64}
    assert [t for s in specs for t in s.json["input"]["texts"]] == TEXTS
    v1 = build_calls(model="text-embedding-v1", texts=TEXTS + TEXTS)
    assert [len(s.json["input"]["texts"]) for s in v1] == [25, 21]
    own = build_calls(model="text-embedding-v3", texts=TEXTS, batch_size=4, output_type=None)
    assert [len(s.json["input"]["texts"]) for s in own] == [4, 4, 4, 4, 4, 3]
    assert own[0].json["parameters"] == {}


def test_a_batch_with_missing_vectors_raises() -> None:
    specs = build_calls(model="text-embedding-v3", texts=["a", "b"])
    short = EmbeddingResponse.model_validate(
        {"output": {"embeddings": [{"embedding": [1.0], "text_index": 0}]}, "request_id": "r1"}
    )
    with pytest.raises(APIResponseValidationError, match="sent 2 texts but got 1") as info:
        merge_responses([short], specs)
    assert info.value.request_id == "r1"


def test_batches_merge_in_input_order(gen_ds: GenClient, gen_emu: Emulator) -> None:
    merged = embed(gen_ds, model="text-embedding-v3", texts=TEXTS, dimension=64)
    sent = gen_emu.received("embeddings")
    assert sorted(len(r.json["input"]["texts"]) for r in sent) == [3, 10, 10]
    items = merged.output.embeddings
    assert [e.text_index for e in items] == list(range(len(TEXTS)))
    assert all(len(v) == 64 for v in merged.embeddings)
    gen_emu.reset()
    singles = [embed(gen_ds, model="text-embedding-v3", texts=[t], dimension=64) for t in TEXTS]
    assert merged.embeddings == [s.embeddings[0] for s in singles]
    assert merged.usage.total_tokens == sum(s.usage.total_tokens or 0 for s in singles)
    assert merged.request_id in {r.request_id for r in sent}


def test_one_batch_is_returned_as_is(gen_ds: GenClient, gen_emu: Emulator) -> None:
    result = embed(gen_ds, model="text-embedding-v2", texts=["代码改变世界"], text_type="query")
    (sent,) = gen_emu.received("embeddings")
    assert sent.json == {
        "model": "text-embedding-v2",
        "input": {"texts": ["代码改变世界"]},
        "parameters": {"text_type": "query"},
    }
    assert result.request_id == sent.request_id and len(result.embeddings[0]) == 1536
    assert result.usage.total_tokens and result.usage.total_tokens > 0


def test_server_errors_are_typed(gen_ds: GenClient, gen_emu: Emulator) -> None:
    with pytest.raises(BadRequestError) as info:
        embed(gen_ds, model="text-embedding-v3", texts=TEXTS, batch_size=20)
    assert info.value.code == "InvalidParameter" and info.value.request_id
    gen_emu.reset()
    with pytest.raises(TypeError, match="texts"):
        embed(gen_ds, model="text-embedding-v3", texts="one text")
    # (the async twin's cancelled second batch may still reach the log: look for this call only)
    assert not [r for r in gen_emu.received() if "one text" in r.body.decode()]


BATCH_FILE = (
    "data:text/plain;base64," + base64.b64encode("第一行\nsecond line\n\n".encode()).decode()
)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "", "url": "https://x/f.txt"}, "model"),
        ({"model": "text-embedding-async-v2", "url": "f.txt"}, "url"),
        ({"model": "text-embedding-async-v2", "url": None}, "url"),
        ({"model": "text-embedding-async-v2", "url": "https://x/f", "text_type": "q"}, "text_type"),
    ],
)
def test_batch_bad_arguments_name_the_argument(
    gen_ds: GenClient, gen_emu: Emulator, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        gen_ds.run(gen_ds.client.embeddings.batch(**kwargs))
    # a late batch of an earlier test may still land in the log: look for async submits only
    assert not [r for r in gen_emu.received() if "x-dashscope-async" in r.headers]


def test_batch_is_an_async_task_whose_result_file_has_one_vector_per_line(
    gen_ds: GenClient, gen_emu: Emulator
) -> None:
    state(gen_emu).settings.time_scale = 0.0
    task = gen_ds.run(gen_ds.client.embeddings.batch(
        model="text-embedding-async-v2", url=BATCH_FILE, text_type="document"))  # fmt: skip
    assert task.status == "PENDING" and task.task_id
    (sent,) = gen_emu.received("embeddings")
    assert sent.headers["x-dashscope-async"] == "enable"
    assert sent.json == {
        "model": "text-embedding-async-v2",
        "input": {"url": BATCH_FILE},
        "parameters": {"text_type": "document"},
    }
    done = gen_ds.run(gen_ds.client.tasks.wait(task, interval=0.01, timeout=10))
    assert done.status == "SUCCEEDED" and done.output.url and done.output.results is None
    with httpx.Client() as http:  # the result file is a plain link, as on OSS
        lines = http.get(done.output.url).raise_for_status().text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["text_index"] for r in rows] == [0, 1]
    assert rows[1]["embedding"] == embed_text("second line", 1536)


def test_batch_rejects_a_model_without_async_support(gen_ds: GenClient, gen_emu: Emulator) -> None:
    with pytest.raises(BadRequestError, match="async") as info:
        gen_ds.run(gen_ds.client.embeddings.batch(model="text-embedding-v3", url=BATCH_FILE))
    assert info.value.request_id and info.value.code == "InvalidParameter"
    assert len(gen_emu.received("embeddings")) == 1  # a create is never replayed
