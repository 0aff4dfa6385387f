"""``DashScopeEmbedding(use_batch_api=True)`` for ingestion, against the emulator: one batch job
per ingestion run, the real-time vectors in node order, queries still real-time, progress."""

from __future__ import annotations

import pytest
from llama_index.core import Document
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter

from dashscope_core import BatchJob
from dashscope_core.emulator import Emulator, ServerHandle, batch_settings
from llamaindex_dashscope_ext import DashScopeEmbedding

from .conftest import FAKE_KEY


@pytest.fixture
def batched(li_server: ServerHandle, emu: Emulator) -> DashScopeEmbedding:
    batch_settings(emu).time_scale = 0  # batches finish at the first look
    return DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url, dimension=64,
                              use_batch_api=True, batch_poll_interval=0)  # fmt: skip


def _uploads(emu: Emulator) -> int:
    return len([r for r in emu.received("compatible_files") if r.method == "POST"])


async def test_ingestion_is_one_batch_job(
    batched: DashScopeEmbedding, li_server: ServerHandle, emu: Emulator, mode: str
) -> None:
    seen: list[BatchJob] = []
    batched.batch_progress = seen.append
    documents = [Document(text=f"river number {i} " * 80) for i in range(4)]
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), batched]
    )
    if mode == "sync":
        nodes = pipeline.run(documents=documents)
    else:
        nodes = await pipeline.arun(documents=documents)
    assert len(nodes) > 10 and _uploads(emu) == 1  # one job for the whole run
    assert emu.received("embeddings") == []  # nothing went real-time
    assert seen[-1].status == "completed"
    assert seen[-1].request_counts.total == -(-len(nodes) // 10)  # 10 texts per request
    realtime = DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url, dimension=64)
    expected = realtime.get_text_embedding_batch([n.get_content(metadata_mode="embed")
                                                  for n in nodes])  # fmt: skip
    for node, want in zip(nodes, expected, strict=True):
        assert node.embedding == pytest.approx(want)


def test_queries_stay_real_time(batched: DashScopeEmbedding, emu: Emulator) -> None:
    vector = batched.get_query_embedding("where do rivers end?")
    assert len(vector) == 64 and _uploads(emu) == 0
    (call,) = emu.received("embeddings")
    assert call.json["parameters"]["text_type"] == "query"


def test_batch_size_defaults_follow_the_mode(li_server: ServerHandle) -> None:
    realtime = DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url)
    chosen = DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url,
                                use_batch_api=True, embed_batch_size=500)  # fmt: skip
    assert realtime.embed_batch_size == 10 and chosen.embed_batch_size == 500
    batched = DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url,
                                 use_batch_api=True)  # fmt: skip
    assert batched.embed_batch_size >= 100_000
    assert "batch_progress" not in batched.to_dict()
