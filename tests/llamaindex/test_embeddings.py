"""DashScopeEmbedding against the emulator: text types, batching, async, dimension, secrets."""

from __future__ import annotations

import json
import math

import pytest

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import AuthenticationError
from llamaindex_dashscope_ext import DashScopeEmbedding

from .conftest import FAKE_KEY

TEXTS = [f"document number {i} about rivers and lakes" for i in range(23)]


def _types(emu: Emulator) -> list[str]:
    return [r.json["parameters"]["text_type"] for r in emu.received("embeddings")]


async def test_query_and_document_types(
    embed_model: DashScopeEmbedding, emu: Emulator, mode: str
) -> None:
    if mode == "sync":
        query = embed_model.get_query_embedding("long river")
        doc = embed_model.get_text_embedding("long river")
    else:
        query = await embed_model.aget_query_embedding("long river")
        doc = await embed_model.aget_text_embedding("long river")
    assert len(query) == 1024  # text-embedding-v4's default dimension
    assert math.isclose(sum(x * x for x in doc), 1.0, rel_tol=1e-6)
    assert _types(emu) == ["query", "document"]
    assert emu.received("embeddings")[0].json["model"] == "text-embedding-v4"


async def test_batching_keeps_order(
    embed_model: DashScopeEmbedding, emu: Emulator, mode: str
) -> None:
    if mode == "sync":
        vectors = embed_model.get_text_embedding_batch(TEXTS)
    else:
        vectors = await embed_model.aget_text_embedding_batch(TEXTS)
    sizes = [len(r.json["input"]["texts"]) for r in emu.received("embeddings")]
    assert sorted(sizes) == [3, 10, 10]
    assert len(vectors) == len(TEXTS)
    emu.reset()
    single = embed_model.get_text_embedding(TEXTS[17])
    assert vectors[17] == single


async def test_dimension(li_server: ServerHandle, emu: Emulator, mode: str) -> None:
    model = DashScopeEmbedding(
        model_name="text-embedding-v3", dimension=256, api_key=FAKE_KEY, base_url=li_server.base_url
    )
    if mode == "sync":
        vector = model.get_query_embedding("hello")
    else:
        vector = await model.aget_query_embedding("hello")
    assert len(vector) == 256
    request = emu.received("embeddings")[0].json
    assert request["parameters"] == {"text_type": "query", "dimension": 256}
    assert request["model"] == "text-embedding-v3"


async def test_bad_key_is_typed(li_server: ServerHandle, mode: str) -> None:
    model = DashScopeEmbedding(api_key="invalid", base_url=li_server.base_url, max_retries=0)
    with pytest.raises(AuthenticationError):
        if mode == "sync":
            model.get_query_embedding("x")
        else:
            await model.aget_query_embedding("x")


def test_bad_arguments(li_server: ServerHandle, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="dimension"):
        DashScopeEmbedding(dimension=0, api_key=FAKE_KEY, base_url=li_server.base_url)
    model = DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(ValueError, match="texts"):
        model.get_text_embedding("")
    assert not emu.received()


def test_key_never_leaks(embed_model: DashScopeEmbedding) -> None:
    for text in (repr(embed_model), embed_model.to_json(), json.dumps(embed_model.to_dict())):
        assert FAKE_KEY not in text
