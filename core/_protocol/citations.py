"""Citation markers in answer text: ``[ref_3]`` / ``[3]`` (web search, PROTOCOL.md "search") and
``<ref>[3]</ref>`` (Bailian app ``doc_references``, recorded ``application-*``).

Pure; used whole (an answer) or incrementally (a stream: pass the text so far and the length
it had before the newest piece, and only markers completed by that piece come back, with
offsets into the whole text, even when a marker was split across pieces).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CitationMarker", "find_citation_markers"]

_MARKER = re.compile(r"<ref>\[(\d+)\]</ref>|\[ref_(\d+)\]|(?<!<ref>)\[(\d+)\]")
_LONGEST = 24  # longer than any marker the pattern matches (``<ref>[12345678]</ref>``)
# a bare ``[N]`` right after ``<ref>`` is an app marker whose ``</ref>`` has not arrived yet


@dataclass(frozen=True)
class CitationMarker:
    """One marker: ``text[start:end]`` cites source ``number`` (``index`` / ``index_id``)."""

    start: int
    end: int
    number: int


def find_citation_markers(text: str, since: int = 0) -> list[CitationMarker]:
    """The markers in ``text`` that end after offset ``since`` (0: all of them)."""
    found = []
    for match in _MARKER.finditer(text, max(0, since - _LONGEST)):
        if match.end() > since:
            number = next(g for g in match.groups() if g is not None)
            found.append(CitationMarker(match.start(), match.end(), int(number)))
    return found
