"""Deterministic text for the emulator: token units, answers, reasoning, fragments.

Rules of this module:
- A token is a CJK character or a run of other non-space characters (leading whitespace
  belongs to the token after it), so ``"".join(units(t)) == t`` up to trailing whitespace kept
  on the last unit, and counts are additive over unit-aligned fragments.
- Everything derives from ``stable_hash`` of the inputs: no global randomness.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "MESSAGE_OVERHEAD",
    "answer_text",
    "apply_stop",
    "content_text",
    "count_tokens",
    "fragments",
    "is_cjk",
    "message_tokens",
    "reasoning_text",
    "split_anywhere",
    "stable_hash",
    "tool_answer_text",
    "truncate_tokens",
    "units",
]

_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_UNIT = re.compile(rf"\s*(?:[{_CJK}]|[^\s{_CJK}]+)|\s+$")
_HAS_CJK = re.compile(rf"[{_CJK}]")
_ARITH = re.compile(r"(-?\d+(?:\.\d+)?)\s*([+\-*/×÷])\s*(-?\d+(?:\.\d+)?)")

_EN_OPENERS = ("Sure!", "Good question.", "Happy to help.", "Here is a short answer.")
_EN_BODIES = (
    'You asked about "{topic}". In short, the key idea is simple and worth a closer look.',
    'Regarding "{topic}": this is a brief, friendly answer from the DashScope emulator.',
    '"{topic}" is an interesting topic, and the same question always gets the same reply here.',
)
_ZH_OPENERS = ("好的。", "这是个好问题。", "很高兴为您解答。")
_ZH_BODIES = (
    "关于“{topic}”：这是模拟器给出的简短回答。",
    "您问的是“{topic}”，简单来说，关键在于把问题拆开来看。",
    "“{topic}”是个有趣的话题，相同的问题总会得到相同的回答。",
)


def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of ``repr(parts)`` that is stable across processes."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "big")


def units(text: str) -> list[str]:
    """Split ``text`` into token units (see the module rules)."""
    return _UNIT.findall(text)


def count_tokens(text: str) -> int:
    """Number of token units in ``text``."""
    return sum(1 for u in units(text) if u.strip())


MESSAGE_OVERHEAD = 3
"""Input tokens a message costs besides its text (its role and separators)."""


def message_tokens(messages: Iterable[Any]) -> int:
    """The input tokens of ``messages``: their text plus ``MESSAGE_OVERHEAD`` each."""
    return sum(count_tokens(content_text(m.get("content"))) + MESSAGE_OVERHEAD for m in messages)


def is_cjk(text: str) -> bool:
    """Whether ``text`` contains CJK characters."""
    return _HAS_CJK.search(text) is not None


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of parts (``{"text": ...}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return " ".join(t for t in texts if isinstance(t, str))
    return ""


def truncate_tokens(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` tokens, and whether it was cut."""
    pieces = [u for u in units(text) if u.strip()]
    if len(pieces) <= limit:
        return text, False
    return "".join(pieces[:limit]), True


def apply_stop(text: str, stop: Any) -> tuple[str, bool]:
    """``text`` cut before the first stop string (token-id stops are ignored)."""
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    found = [text.find(s) for s in stops if isinstance(s, str) and s]
    hits = [i for i in found if i >= 0]
    if not hits:
        return text, False
    return text[: min(hits)], True


def fragments(text: str, key: int) -> list[str]:
    """Split ``text`` into stream pieces of 1 to 4 token units, chosen by ``key``."""
    pieces: list[str] = []
    parts = units(text)
    i = 0
    while i < len(parts):
        size = 1 + stable_hash(key, i) % 4
        pieces.append("".join(parts[i : i + size]))
        i += size
    return pieces


def split_anywhere(text: str, key: int) -> list[str]:
    """Split ``text`` at arbitrary character offsets (tool-call argument streaming)."""
    pieces: list[str] = []
    i = 0
    while i < len(text):
        size = 2 + stable_hash(key, i) % 7
        pieces.append(text[i : i + size])
        i += size
    return pieces


def _topic(question: str) -> str:
    topic = " ".join(question.split())
    if len(topic) > 60:
        topic = topic[:57].rstrip() + "..."
    return topic.rstrip("?？.。!！ ")


def _arithmetic(question: str, cjk: bool) -> str:
    found = _ARITH.search(question)
    if not found:
        return ""
    a, op, b = float(found[1]), found[2], float(found[3])
    ops = {"+": a + b, "-": a - b, "*": a * b, "×": a * b}
    value = ops.get(op, a / b if b else float("nan"))
    shown = str(int(value)) if value == value and float(value).is_integer() else f"{value:g}"
    expr = f"{found[1]}{op}{found[3]}"
    return f"{expr} 等于 {shown}。" if cjk else f"{expr} = {shown}."


def answer_text(question: str, key: int) -> str:
    """A short friendly answer that references ``question``; varies with ``key``."""
    cjk = is_cjk(question)
    if not question.strip():
        return "你好！有什么可以帮您？" if cjk else "Hello! How can I help you today?"
    openers, bodies = (_ZH_OPENERS, _ZH_BODIES) if cjk else (_EN_OPENERS, _EN_BODIES)
    h = stable_hash(question, key)
    opener = openers[h % len(openers)]
    body = bodies[(h >> 16) % len(bodies)].format(topic=_topic(question))
    arithmetic = _arithmetic(question, cjk)
    sep = "" if cjk else " "
    return sep.join(p for p in (opener, arithmetic, body) if p)


def tool_answer_text(results: Sequence[str], question: str) -> str:
    """An answer that uses the tool ``results``."""
    joined = [r.strip() for r in results if r.strip()]
    if is_cjk(question) or any(is_cjk(r) for r in joined):
        return "根据工具返回的结果：" + "；".join(joined) + "。"
    return "Based on the tool results: " + "; ".join(joined) + "."


def reasoning_text(question: str) -> str:
    """The ``reasoning_content`` a thinking model emits before answering ``question``."""
    if is_cjk(question):
        return f"用户问的是“{_topic(question)}”。我应该给出简短、友好、准确的回答。"
    return (
        f'The user asks: "{_topic(question)}". I should give a short, friendly and accurate answer.'
    )
