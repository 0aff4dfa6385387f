"""LlamaIndex ``CitationBlock``s for DashScope answers: web-search markers (``[ref_N]``,
``search_info``) and Bailian app markers (``<ref>[N]</ref>``, ``doc_references``).

Pure. Each block says which source a marker cites (``source``: the URL, or the app document's
id), the source's ``title``, what is cited (``cited_content``: the sentence the marker closes for
web results, the retrieved passage for app references) and where the marker sits in the answer
(``additional_location_info``: ``start_char_index`` / ``end_char_index``, and ``source_index``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import CitationBlock, TextBlock

from dashscope_core import find_citation_markers
from dashscope_core.types.generation import SearchInfo

__all__ = ["doc_citation_blocks", "search_citation_blocks"]

_SENTENCE_END = re.compile(r"(?s).*(?:[.!?。！？\n]|</ref>|\])")


def _claim(text: str, end: int) -> str:
    """The sentence that ends at ``end`` (a marker's start)."""
    before = text[:end]
    found = _SENTENCE_END.match(before.rstrip(".!?。！？"))
    return before[found.end() if found else 0 :].strip() or before.strip()


def _where(start: int, end: int, number: int) -> dict[str, int]:
    return {"start_char_index": start, "end_char_index": end, "source_index": number}


def search_citation_blocks(text: str, search_info: SearchInfo | None) -> list[CitationBlock]:
    """One block per marker of ``text`` that names a search result."""
    results = {r.index: r for r in search_info.search_results} if search_info else {}
    blocks = []
    for marker in find_citation_markers(text) if results else ():
        result = results.get(marker.number)
        if result is None or not result.url:
            continue
        blocks.append(CitationBlock(
            cited_content=TextBlock(text=_claim(text, marker.start)),
            source=result.url, title=result.title or result.site_name or result.url,
            additional_location_info=_where(marker.start, marker.end, marker.number),
        ))  # fmt: skip
    return blocks


def doc_citation_blocks(text: str, doc_references: Sequence[Any]) -> list[CitationBlock]:
    """One block per ``<ref>[N]</ref>`` marker of an app answer naming a ``doc_references``
    entry (``index_id`` N)."""
    refs = {str(r.index_id): r for r in doc_references}
    blocks = []
    for marker in find_citation_markers(text) if refs else ():
        ref = refs.get(str(marker.number))
        if ref is None:
            continue
        source = ref.doc_id or ref.doc_name or str(marker.number)
        blocks.append(CitationBlock(
            cited_content=TextBlock(text=ref.text or _claim(text, marker.start)),
            source=source, title=ref.title or ref.doc_name or source,
            additional_location_info=_where(marker.start, marker.end, marker.number),
        ))  # fmt: skip
    return blocks
