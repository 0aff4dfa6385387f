"""Web search answers: typed ``search_info`` and ``usage.plugins`` on core responses, streamed
and accumulated; citation markers found whole and split across stream pieces."""

from __future__ import annotations

from _gen_client import GenClient

from dashscope_core import SearchInfo, accumulate, find_citation_markers
from dashscope_core.emulator import Emulator

QUESTION = [{"role": "user", "content": "What is the weather in Paris today? Tell me."}]
SEARCH = {"enable_search": True, "search_options": {"enable_source": True,
                                                    "enable_citation": True}}  # fmt: skip


def test_search_info_is_typed_and_cited(gen_ds: GenClient, gen_emu: Emulator) -> None:
    answer = gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=QUESTION,
                                                      **SEARCH))  # fmt: skip
    info = answer.output.search_info
    assert isinstance(info, SearchInfo) and len(info.search_results) == 3
    first = info.search_results[0]
    assert first.index == 1 and first.url and first.title and first.site_name
    assert answer.usage.plugins == {"search": {"count": 1, "strategy": "turbo"}}
    markers = find_citation_markers(answer.text)
    assert [m.number for m in markers] == [1, 2]
    assert all(answer.text[m.start : m.end] == f"[ref_{m.number}]" for m in markers)
    assert gen_emu.received("generation")[0].json["parameters"]["search_options"] == {
        "enable_source": True, "enable_citation": True}  # fmt: skip


def test_streamed_search_info_survives_accumulate(gen_ds: GenClient, gen_emu: Emulator) -> None:
    options = {"enable_source": True, "enable_citation": True, "prepend_search_result": True,
               "citation_format": "[<number>]", "search_strategy": "max"}  # fmt: skip
    chunks = gen_ds.collect(
        gen_ds.client.generation.stream(
            model="qwen-plus", messages=QUESTION, enable_search=True, search_options=options
        )
    )
    assert chunks[0].text == "" and chunks[0].output.search_info is not None  # prepended
    whole = accumulate(chunks)
    assert whole.output.search_info == chunks[0].output.search_info
    assert whole.usage.plugins == {"search": {"count": 1, "strategy": "max"}}
    assert [m.number for m in find_citation_markers(whole.text)] == [1, 2]
    assert "[1]" in whole.text and "[ref_" not in whole.text


def test_without_enable_source_no_search_info(gen_ds: GenClient, gen_emu: Emulator) -> None:
    answer = gen_ds.run(gen_ds.client.generation.call(model="qwen-plus", messages=QUESTION,
                                                      enable_search=True))  # fmt: skip
    assert answer.output.search_info is None and answer.usage.plugins is not None
    assert find_citation_markers(answer.text) == []


def test_markers_split_across_pieces_are_found_once_with_whole_offsets() -> None:
    text = "Sunny.[ref_1] Warm <ref>[2]</ref> and [3]."
    for cut in range(1, len(text)):
        first, second = text[:cut], text
        found = find_citation_markers(first) + find_citation_markers(second, since=len(first))
        assert [(m.start, m.end, m.number) for m in found] == [
            (6, 13, 1), (19, 33, 2), (38, 41, 3)]  # fmt: skip
