"""Acceptance: DashScopeLLM / DashScopeEmbedding on recorded production replies and hostile ones.

Every failure must surface as a typed ``dashscope_core.errors`` exception carrying the server's
request_id, never as an empty answer (llama-index-llms-dashscope's fault). Runs on the
independent server of ``_independent``, not on our emulator.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock, ThinkingBlock

from dashscope_core.errors import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    RateLimitError,
)
from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

from ._calls import Calls
from ._independent import (
    EMBEDDING,
    MULTIMODAL,
    IndependentDashScope,
    Reply,
    error,
    load,
    recorded,
)

KEY = "sk-independent-wire-0123456789"
USER = [ChatMessage(role="user", content="1+1=?")]
NOSSE = json.loads(load("single-generation-message-nosse.response.body.txt"))
RECORDED_TEXT = NOSSE["output"]["choices"][0]["message"]["content"]
AUTH = json.loads(load("auth-error-nosse.response.body.txt"))
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _llm(ds: IndependentDashScope, **fields: Any) -> DashScopeLLM:
    return DashScopeLLM(api_key=KEY, base_url=ds.base_url, **fields)


@pytest.fixture
def calls(ds: IndependentDashScope, mode: str) -> Calls:
    return Calls(_llm(ds), mode)


def _streamed_text(responses: list[Any]) -> str:
    return "".join(r.delta or "" for r in responses)


async def test_recorded_answer(ds: IndependentDashScope, calls: Calls) -> None:
    ds.replay(recorded("single-generation-message-nosse"))
    response = await calls.chat(USER)
    assert response.message.content == RECORDED_TEXT
    kwargs = response.additional_kwargs
    assert (kwargs["prompt_tokens"], kwargs["completion_tokens"], kwargs["total_tokens"]) == (
        8,
        39,
        47,
    )
    assert kwargs["request_id"] == NOSSE["request_id"]
    assert response.raw is not None and response.raw["usage"]["output_tokens"] == 39


async def test_recorded_stream(ds: IndependentDashScope, calls: Calls) -> None:
    ds.replay(recorded("single-generation-message-sse"))
    responses = await calls.stream_complete("1+1=?")
    assert _streamed_text(responses) == responses[-1].text
    assert responses[-1].text.startswith("1+1 等于 2。")
    with_usage = [r for r in responses if "total_tokens" in r.additional_kwargs]
    assert [r.additional_kwargs["total_tokens"] for r in with_usage] == [48]  # once, at the end


async def test_cumulative_frames_become_deltas(ds: IndependentDashScope, mode: str) -> None:
    llm = _llm(ds, additional_kwargs={"incremental_output": False})
    ds.answer("one two three four five six", pieces=3)
    responses = await Calls(llm, mode).stream_chat(USER)
    assert ds.requests()[0].json["parameters"]["incremental_output"] is False
    assert _streamed_text(responses) == "one two three four five six"
    assert responses[-1].message.content == "one two three four five six"


async def test_recorded_auth_error_is_typed_everywhere(
    ds: IndependentDashScope, calls: Calls
) -> None:
    for method in ("chat", "complete", "stream_chat", "stream_complete"):
        ds.replay(recorded("auth-error-nosse"))
        arg: Any = USER if "chat" in method else "hi"
        with pytest.raises(AuthenticationError) as info:
            await getattr(calls, method)(arg)
        assert info.value.request_id == AUTH["request_id"]
        assert info.value.code == "InvalidApiKey"
        assert KEY not in str(info.value) and KEY not in repr(info.value)
    assert len(ds.requests()) == 4  # a 401 is never retried


async def test_errors_are_never_empty_answers(ds: IndependentDashScope, calls: Calls) -> None:
    ds.replay(recorded("parameter-error-nosse"))
    with pytest.raises(BadRequestError, match="InvalidParameter"):
        await calls.chat(USER)
    body = json.dumps({"code": "DataInspectionFailed", "message": "bad", "request_id": "r-200"})
    ds.replay(Reply(200, {"content-type": "application/json"}, [body.encode()]))
    with pytest.raises(BadRequestError) as info:
        await calls.complete("hi")
    assert info.value.request_id == "r-200"
    ds.answer("one two three", error_after=2)
    with pytest.raises(RateLimitError, match="Throttling"):
        await calls.stream_chat(USER)
    ds.answer("one two three", cut_after=2)
    with pytest.raises(IncompleteStreamError):
        await calls.stream_complete("hi")


def test_query_engine_raises_instead_of_answering_empty(ds: IndependentDashScope) -> None:
    llm, embed = _llm(ds), DashScopeEmbedding(api_key=KEY, base_url=ds.base_url)
    index = VectorStoreIndex.from_documents(
        [Document(text="Hangzhou has West Lake.")], embed_model=embed
    )
    ds.replay(recorded("auth-error-nosse"))
    with pytest.raises(AuthenticationError):
        index.as_query_engine(llm=llm).query("What does Hangzhou have?")


async def test_retries_then_answers(ds: IndependentDashScope, calls: Calls) -> None:
    busy = error(503, "ServiceUnavailable", "busy")
    busy.headers["retry-after"] = "0.01"
    ds.replay(busy)
    ds.answer("Recovered.")
    assert (await calls.chat(USER)).message.content == "Recovered."
    assert len(ds.requests()) == 2


async def test_timeout_is_typed(ds: IndependentDashScope, mode: str) -> None:
    ds.replay(Reply(200, {}, [b"{}"], delay=1.0))
    with pytest.raises(APITimeoutError):
        await Calls(_llm(ds, timeout=0.2, max_retries=0), mode).chat(USER)


async def test_fields_reach_the_wire(ds: IndependentDashScope, mode: str) -> None:
    fields = {"temperature": 0.3, "top_p": 0.8, "top_k": 20, "max_tokens": 300, "seed": 7,
              "stop": ["END"], "enable_search": True, "enable_thinking": False,
              "thinking_budget": 50, "repetition_penalty": 1.1}  # fmt: skip
    llm = _llm(ds, workspace="ws-1", **fields)
    assert llm.metadata.num_output == 300
    ds.answer("ok")
    await Calls(llm, mode).complete("hi")
    (sent,) = ds.requests()
    assert {k: sent.json["parameters"][k] for k in fields} == fields
    assert sent.headers["x-dashscope-workspace"] == "ws-1"
    assert KEY not in json.dumps(llm.to_dict()) and KEY not in repr(llm)


async def test_thinking_arrives_as_thinking_block(ds: IndependentDashScope, calls: Calls) -> None:
    ds.answer("Two.", reasoning="One plus one is two.", pieces=2)
    responses = await calls.stream_chat(USER)
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert thinking == "One plus one is two."
    blocks = responses[-1].message.blocks
    assert [b.content for b in blocks if isinstance(b, ThinkingBlock)] == [thinking]
    assert responses[-1].message.content == "Two."


async def test_image_goes_to_the_multimodal_endpoint(
    ds: IndependentDashScope, calls: Calls
) -> None:
    calls.llm = _llm(ds, model="qwen-vl-max")
    assert calls.llm.metadata.context_window == 131_072
    ds.answer("A single pixel.")
    message = ChatMessage(role="user", blocks=[ImageBlock(image=PNG), TextBlock(text="What?")])
    response = await calls.chat([message])
    assert response.message.content == "A single pixel."
    (sent,) = ds.requests(MULTIMODAL)
    (part_image, part_text) = sent.json["input"]["messages"][0]["content"]
    assert part_image["image"].startswith("data:image/png;base64,")
    assert part_text == {"text": "What?"}


async def test_embeddings_recorded_shape_and_text_types(
    ds: IndependentDashScope, mode: str
) -> None:
    embed = DashScopeEmbedding(api_key=KEY, base_url=ds.base_url, dimension=64, embed_batch_size=2)
    texts = ["a b", "c d", "e f"]
    if mode == "sync":
        docs, query = embed.get_text_embedding_batch(texts), embed.get_query_embedding("a")
    else:
        docs, query = (
            await embed.aget_text_embedding_batch(texts),
            await embed.aget_query_embedding("a"),
        )
    assert len(docs) == 3 and len(query) == 64
    sent = [r.json for r in ds.requests(EMBEDDING)]
    texts_sent = [*sorted(s["input"]["texts"] for s in sent[:2]), sent[2]["input"]["texts"]]
    assert texts_sent == [["a b", "c d"], ["e f"], ["a"]]  # async batches race: order-free
    assert [s["parameters"]["text_type"] for s in sent] == ["document", "document", "query"]
    assert {s["parameters"]["dimension"] for s in sent} == {64}
