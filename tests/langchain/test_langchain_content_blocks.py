"""LangChain standard content blocks: reasoning, web search as server tool blocks, text with
citation annotations (search results and app doc_references) — invoke, stream and v1 alike."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk

from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope, ChatDashScopeApp

KEY = "sk-test-langchain"
QUESTION = "What is the weather in Paris today? Tell me."
SEARCH = {"enable_search": True,
          "search_options": {"enable_source": True, "enable_citation": True}}  # fmt: skip


def _chat(server: ServerHandle, **fields: Any) -> ChatDashScope:
    return ChatDashScope(model="qwen-plus", api_key=KEY, base_url=server.base_url, **fields)


def _stream(model: Any, prompt: str) -> AIMessageChunk:
    whole = None
    for chunk in model.stream(prompt):
        whole = chunk if whole is None else whole + chunk
    assert isinstance(whole, AIMessageChunk)
    return whole


def _check_search_blocks(blocks: list[Any], text: str) -> None:
    kinds = [b["type"] for b in blocks]
    assert kinds == ["server_tool_call", "server_tool_result", "text"]
    call, result, body = blocks
    assert call["name"] == "web_search" and result["tool_call_id"] == call["id"]
    assert result["status"] == "success" and len(result["output"]) == 3
    assert body["text"] == text
    cites = body["annotations"]
    assert [c["extras"]["index"] for c in cites] == [1, 2]
    for cite, source in zip(cites, result["output"], strict=False):
        assert cite["type"] == "citation" and cite["url"] == source["url"]
        assert cite["title"] == source["title"]
        assert text[cite["start_index"] : cite["end_index"]] == f"[ref_{cite['extras']['index']}]"


def test_invoke_content_blocks(server: ServerHandle, emu: Emulator) -> None:
    answer = _chat(server, **SEARCH).invoke(QUESTION)
    assert isinstance(answer.content, str)  # v0: the text stays a string
    _check_search_blocks(answer.content_blocks, answer.content)
    assert answer.additional_kwargs["search_info"]["search_results"][0]["index"] == 1


@pytest.mark.parametrize("prepend", [False, True])
def test_stream_v0_and_v1_give_the_same_blocks(
    server: ServerHandle, emu: Emulator, prepend: bool
) -> None:
    options = {**SEARCH["search_options"], "prepend_search_result": prepend}  # type: ignore[dict-item]
    v0 = _stream(_chat(server, enable_search=True, search_options=options), QUESTION)
    _check_search_blocks(v0.content_blocks, v0.text)
    v1_model = _chat(server, enable_search=True, search_options=options, output_version="v1")
    v1 = _stream(v1_model, QUESTION)
    blocks = [{k: v for k, v in b.items() if k != "index"} for b in v1.content]  # type: ignore[union-attr]
    _check_search_blocks(blocks, v0.text)
    invoked = v1_model.invoke(QUESTION)
    assert invoked.content == blocks


def test_reasoning_block_comes_first(server: ServerHandle, emu: Emulator) -> None:
    emu.script.reasoning("Check the forecast first.", "Sunny.")
    answer = _chat(server, enable_thinking=True, output_version="v1").invoke("weather?")
    assert answer.content[0] == {"type": "reasoning", "reasoning": "Check the forecast first."}
    assert answer.content[1] == {"type": "text", "text": "Sunny."}


def test_v1_stream_with_tools(server: ServerHandle, emu: Emulator) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}  # fmt: skip
    model = _chat(server, output_version="v1").bind_tools([tool])
    emu.script.generation(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    whole = _stream(model, "weather in Paris?")
    calls = [b for b in whole.content if isinstance(b, dict) and b["type"] == "tool_call"]  # type: ignore[union-attr]
    assert [(c["name"], c["args"]) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert whole.tool_calls[0]["args"] == {"city": "Paris"}


def test_app_citations(server: ServerHandle, emu: Emulator) -> None:
    app = ChatDashScopeApp(app_id="demo-rag-app", api_key=KEY, base_url=server.base_url)
    answer = app.invoke("How do I pair the lamp?")
    [text] = [b for b in answer.content_blocks if b["type"] == "text"]
    cites = text["annotations"]
    refs = {r["index_id"]: r for r in answer.response_metadata["doc_references"]}
    assert cites and len(cites) == text["text"].count("<ref>")
    for cite in cites:
        ref = refs[cite["extras"]["index_id"]]
        assert text["text"][cite["start_index"] : cite["end_index"]] == (
            f"<ref>[{ref['index_id']}]</ref>")  # fmt: skip
        assert cite["title"] == ref["title"] and cite["cited_text"] == ref["text"]
    streamed = _stream(app.model_copy(update={"output_version": "v1"}), "How do I pair the lamp?")
    [block] = streamed.content  # type: ignore[misc]
    assert block["annotations"] == cites  # type: ignore[index]


@pytest.mark.parametrize("cut", range(1, 30))
def test_a_marker_split_across_frames_is_cited_once_at_its_place(cut: int) -> None:
    from dashscope_core import GenerationResponse
    from langchain_dashscope_ext._convert import ChunkConverter

    text = "Intro words here. Sunny today.[ref_2] Done."
    info = {"search_results": [{"index": 2, "url": "https://w.example/2", "title": "W"}]}
    pieces = [text[:cut], text[cut:]]
    converter, whole = ChunkConverter("qwen-plus"), None
    for n, piece in enumerate(pieces):
        frame = GenerationResponse.model_validate({
            "output": {"search_info": info, "choices": [{"message": {"role": "assistant",
                       "content": piece}, "finish_reason": "stop" if n else "null"}]}})  # fmt: skip
        chunk = converter.feed(frame).message
        whole = chunk if whole is None else whole + chunk
    assert isinstance(whole, AIMessageChunk)
    [cite] = whole.additional_kwargs["citations"]
    assert text[cite["start_index"] : cite["end_index"]] == "[ref_2]"
    assert whole.additional_kwargs["search_info"] == info
