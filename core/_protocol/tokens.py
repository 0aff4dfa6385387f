"""A local, deliberately generous token estimate (no tokenizer, no network).

Used where a limit must not be crossed (rerank request splitting) or a threshold judged
(context-cache prefixes of at least 1,024 tokens): Qwen's byte-level BPE splits digits one per
token and keeps most CJK characters whole, so a digit, a CJK character or any other non-space
symbol counts as one token and a run of Latin letters as one token per three letters (real
English averages about four). The estimate errs high for ordinary text.
"""

from __future__ import annotations

import re

__all__ = ["estimate_tokens"]

_PIECES = re.compile(r"[A-Za-z]+|\S")


def estimate_tokens(text: str) -> int:
    """A generous estimate of the Qwen tokens in ``text`` (whitespace is free)."""
    total = 0
    for piece in _PIECES.findall(text):
        total += (len(piece) + 2) // 3 if len(piece) > 1 else 1
    return total
