"""Web search for generation calls with ``enable_search: true`` (PROTOCOL.md "Context cache,
search, tokenizer, media"; Model Studio "Web search").

Rules of this module:
- The emulator always searches when ``enable_search`` is true (the service decides per question;
  determinism matters more here) and finds three results derived from the question.
- ``output.search_info {search_results: [{index, title, url, site_name, icon}]}`` is returned
  only with ``search_options.enable_source: true``; ``usage.plugins.search {count, strategy}``
  always (strategy from ``search_options.search_strategy``, default ``turbo``).
- With ``enable_citation: true`` (needs ``enable_source``) the answer carries markers after its
  first and last sentence: ``[ref_1]`` ... ``[ref_2]``, or ``[1]`` ... ``[2]`` when
  ``citation_format`` is ``"[<number>]"``.
- ``prepend_search_result: true`` makes a stream open with a frame holding only the search
  results (``_genstream``); every frame carries ``search_info`` (like ``usage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator._text import stable_hash

__all__ = ["Search", "plan_search"]

_SITES = ("Example News", "Example Encyclopedia", "Example Weather")


@dataclass
class Search:
    """What a searching call adds to its reply."""

    results: list[dict[str, Any]]
    show_sources: bool
    marker: str | None
    """``"[ref_{n}]"`` / ``"[{n}]"`` when citations are on."""
    strategy: str
    prepend: bool

    @property
    def info(self) -> dict[str, Any] | None:
        """``output.search_info`` (None unless ``enable_source``)."""
        return {"search_results": self.results} if self.show_sources else None

    @property
    def plugins(self) -> dict[str, Any]:
        """``usage.plugins``."""
        return {"search": {"count": 1, "strategy": self.strategy}}

    def cite(self, text: str) -> str:
        """``text`` with citation markers after its first and last sentence."""
        if self.marker is None or not text:
            return text
        first, last = self.marker.format(n=1), self.marker.format(n=2)
        cut = _first_sentence_end(text)
        if cut >= len(text):
            return text + first + last
        return text[:cut] + first + text[cut:] + last


def _first_sentence_end(text: str) -> int:
    for i, char in enumerate(text):
        if char in ".!?。！？" and (i + 1 == len(text) or text[i + 1] in " \n"):
            return i + 1
    return len(text)


def plan_search(parameters: dict[str, Any], question: str) -> Search | None:
    """The search a call makes, or None without ``enable_search``."""
    if parameters.get("enable_search") is not True:
        return None
    options = parameters.get("search_options")
    options = options if isinstance(options, dict) else {}
    sources = options.get("enable_source") is True
    marker = None
    if sources and options.get("enable_citation") is True:
        numbered = options.get("citation_format") == "[<number>]"
        marker = "[{n}]" if numbered else "[ref_{n}]"
    key = stable_hash("search", question)
    results = []
    for i, site in enumerate(_SITES, start=1):
        slug = f"{key % 100_000:05d}-{i}"
        results.append({"index": i, "title": f"{site}: {question[:60] or 'search'}",
                        "url": f"https://search.example.com/{slug}", "site_name": site,
                        "icon": "https://search.example.com/favicon.ico"})  # fmt: skip
    strategy = str(options.get("search_strategy") or "turbo")
    prepend = options.get("prepend_search_result") is True
    return Search(results, sources, marker, strategy, prepend)
