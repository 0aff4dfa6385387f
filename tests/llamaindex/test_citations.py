"""LlamaIndex: ``DashScopeLLM(search_options=...)`` answers carry ``CitationBlock``s (whole and
streamed alike), ``ThinkingBlock``s first; app answers cite their ``doc_references``; citation
blocks in history are not sent back."""

from __future__ import annotations

import asyncio

from llama_index.core.base.llms.types import CitationBlock, TextBlock, ThinkingBlock
from llama_index.core.llms import ChatMessage

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeAppLLM, DashScopeLLM

from .conftest import FAKE_KEY

QUESTION = [ChatMessage(role="user", content="What is the weather in Paris today? Tell me.")]
OPTIONS = {"enable_source": True, "enable_citation": True}


def _llm(server: ServerHandle, **fields: object) -> DashScopeLLM:
    return DashScopeLLM(api_key=FAKE_KEY, base_url=server.base_url, **fields)


def test_search_options_alone_turn_search_on_and_cite(
    li_server: ServerHandle, emu: Emulator
) -> None:
    llm = _llm(li_server, search_options=OPTIONS)
    answer = llm.chat(QUESTION)
    sent = emu.received("generation")[0].json["parameters"]
    assert sent["enable_search"] is True and sent["search_options"] == OPTIONS
    text, *cites = answer.message.blocks
    assert isinstance(text, TextBlock) and all(isinstance(c, CitationBlock) for c in cites)
    results = answer.raw["output"]["search_info"]["search_results"]
    assert [c.source for c in cites] == [results[0]["url"], results[1]["url"]]
    assert [c.title for c in cites] == [results[0]["title"], results[1]["title"]]
    for cite in cites:
        where = cite.additional_location_info
        marker = text.text[where["start_char_index"] : where["end_char_index"]]
        assert marker == f"[ref_{where['source_index']}]"
        assert cite.cited_content.text and cite.cited_content.text in text.text  # type: ignore[union-attr]
    assert answer.message.content == text.text  # citations do not change the text


def test_stream_ends_with_the_same_blocks(li_server: ServerHandle, emu: Emulator) -> None:
    llm = _llm(li_server, search_options={**OPTIONS, "prepend_search_result": True})
    whole = llm.chat(QUESTION)

    async def last() -> object:
        responses = [r async for r in await llm.astream_chat(QUESTION)]
        return responses[-1]

    streamed = asyncio.run(last())
    assert streamed.message.blocks == whole.message.blocks  # type: ignore[attr-defined]


def test_thinking_block_first(li_server: ServerHandle, emu: Emulator) -> None:
    emu.script.reasoning("Look it up.", "Sunny.")
    blocks = _llm(li_server, enable_thinking=True).chat(QUESTION).message.blocks
    assert isinstance(blocks[0], ThinkingBlock) and blocks[0].content == "Look it up."


def test_app_answer_cites_doc_references_and_history_round_trips(
    li_server: ServerHandle, emu: Emulator
) -> None:
    app = DashScopeAppLLM(app_id="demo-rag-app", api_key=FAKE_KEY, base_url=li_server.base_url)
    answer = app.chat([ChatMessage(role="user", content="How do I pair the lamp?")])
    cites = [b for b in answer.message.blocks if isinstance(b, CitationBlock)]
    refs = {r["index_id"]: r for r in answer.additional_kwargs["doc_references"]}
    assert cites and {c.additional_location_info["source_index"] for c in cites} == {
        int(k) for k in refs}  # fmt: skip
    for cite in cites:
        ref = refs[str(cite.additional_location_info["source_index"])]
        assert cite.source == ref["doc_id"] and cite.cited_content.text == ref["text"]  # type: ignore[union-attr]
    streamed = list(app.stream_chat([ChatMessage(role="user", content="How do I pair the lamp?")]))
    assert streamed[-1].message.blocks == answer.message.blocks
    llm = _llm(li_server)
    llm.chat([ChatMessage(role="user", content="hi"), answer.message,
              ChatMessage(role="user", content="thanks")])  # fmt: skip
    history = emu.received("generation")[-1].json["input"]["messages"]
    assert history[1] == {"role": "assistant", "content": answer.message.content}
