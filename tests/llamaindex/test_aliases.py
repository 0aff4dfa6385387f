"""Names from llama-index-llms-dashscope and ChatTongyi, and client options passed per call."""

from __future__ import annotations

import json

import pytest
from llama_index.core.base.llms.types import ChatMessage

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import APITimeoutError
from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

from .conftest import Events

SECRET = "sk-li-alias-secret-777"
HELLO = [ChatMessage(role="user", content="Hello")]


def test_model_name_is_the_model(li_server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(model_name="qwen-max", api_key=SECRET, base_url=li_server.base_url)
    assert llm.model == "qwen-max" and llm.metadata.model_name == "qwen-max"
    llm.chat(HELLO)
    assert emu.received("generation")[-1].json["model"] == "qwen-max"
    with pytest.raises(ValueError, match="model"):
        DashScopeLLM(model="qwen-plus", model_name="qwen-max", api_key=SECRET)
    embed = DashScopeEmbedding(model="text-embedding-v3", api_key=SECRET,
                               base_url=li_server.base_url)  # fmt: skip
    embed.get_text_embedding("hello")
    assert embed.model_name == "text-embedding-v3"
    assert emu.received("embeddings")[-1].json["model"] == "text-embedding-v3"


def test_dashscope_api_key_is_the_secret_key(
    li_server: ServerHandle, emu: Emulator, events: Events
) -> None:
    llm = DashScopeLLM(dashscope_api_key=SECRET, base_url=li_server.base_url)
    llm.chat(HELLO)
    list(llm.stream_complete("Hello"))
    assert {r.headers["authorization"] for r in emu.received()} == {f"Bearer {SECRET}"}
    bodies = [json.dumps(r.json) for r in emu.received()]
    shown = [
        repr(llm),
        str(llm),
        llm.to_json(),
        json.dumps(llm.to_dict()),
        json.dumps([e.model_dump(mode="json") for e in events.seen]),
    ]
    for text in [*shown, *bodies]:
        assert SECRET not in text
    assert events.seen  # the handler did see the calls


async def test_a_per_call_timeout_is_the_calls_client_timeout(
    li_server: ServerHandle, emu: Emulator, mode: str
) -> None:
    llm = DashScopeLLM(api_key=SECRET, base_url=li_server.base_url, max_retries=0)
    emu.faults.queue("slow_first_byte", delay=1.0, route="generation", times=2)
    with pytest.raises(APITimeoutError):
        if mode == "sync":
            llm.chat(HELLO, timeout=0.2)
        else:
            await llm.achat(HELLO, timeout=0.2)
    with pytest.raises(APITimeoutError):
        if mode == "sync":
            list(llm.stream_complete("Hello", request_timeout=0.2))
        else:
            [r async for r in await llm.astream_complete("Hello", request_timeout=0.2)]
    emu.faults.clear()
    llm.chat(HELLO, max_retries=1)
    assert all("timeout" not in json.dumps(r.json) for r in emu.received())
    assert all("max_retries" not in json.dumps(r.json) for r in emu.received())


def test_per_call_key_and_headers_choose_the_client(li_server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(api_key=SECRET, base_url=li_server.base_url)
    options = {"dashscope_api_key": "sk-per-call-77", "default_headers": {"X-Trace": "t-1"}}
    list(llm.stream_chat(HELLO, **options))
    llm.complete("Hello", **options)
    llm.complete("Hello")
    first, second, usual = emu.received("generation")[-3:]
    for sent in (first, second):  # both calls with the options: their key and header, sent
        assert (sent.headers["authorization"], sent.headers["x-trace"]) == (
            "Bearer sk-per-call-77", "t-1")  # fmt: skip
        assert "sk-per-call-77" not in sent.body.decode() and "X-Trace" not in sent.body.decode()
    assert usual.headers["authorization"] == f"Bearer {SECRET}" and "x-trace" not in usual.headers
