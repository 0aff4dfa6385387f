"""Answers to retrieval-augmented prompts: quote the context sentence that best fits the query.

Rules of this module:
- A RAG prompt is recognised by the wording of the stock LlamaIndex and LangChain templates
  (text QA / refine, context chat engines, ``rlm/rag-prompt``); anything else gets ``None`` and
  the ordinary emulator answer.
- The answer is one sentence of the context, verbatim: the one sharing the most query words
  (words of three or more letters minus a few stop words; CJK by character pairs), the earliest
  on a tie (retrievers put the best node first). A sentence sharing no more than half the
  query's words does not answer it: a refine prompt then keeps its answer, others say the
  context has no answer.
- Pure and deterministic: no randomness, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["rag_answer"]

_MARKERS = (
    "context information is below",  # LlamaIndex text QA
    "context information below",  # LlamaIndex context chat engine
    "some more context below",  # LlamaIndex refine
    "refining existing answers",  # LlamaIndex chat refine
    "relevant documents for the context",  # LlamaIndex condense-plus-context chat engine
    "pieces of retrieved context",  # LangChain rlm/rag-prompt
)
# ``q``: the query; ``a``: the answer being refined, kept when the new context does not help.
_QUERY = (
    re.compile(r"(?:^|\n)\s*Query:\s*(?P<q>.+?)\s*\n\s*Answer:", re.S),  # LlamaIndex text QA
    re.compile(  # LlamaIndex refine
        r"original query is as follows:\s*(?P<q>[^\n]+)\n\s*"
        r"We have provided an existing answer:\s*(?P<a>.*?)\n\s*We have the opportunity",
        re.S,
    ),
    re.compile(  # LlamaIndex chat refine
        r"(?:^|\n)\s*Query:\s*(?P<q>[^\n]+)\n\s*Original Answer:\s*(?P<a>.*?)\s*\n\s*New Answer:",
        re.S,
    ),
    re.compile(r"(?:^|\n)\s*Question:\s*(?P<q>.+?)\s*\n\s*Context:", re.S),  # LangChain
)
# Template lines that are instructions, not context.
_BOILERPLATE = re.compile(
    r"context information|prior knowledge|answer the query|existing answer|original answer|"
    r"refine the|refined answer|instruction:|retrieved context|^answer:|^\W*$",
    re.I,
)
_LABEL = re.compile(r"^(?:new )?context:\s*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|(?<=[。！？])")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_STOP = frozenset(
    ("the", "and", "are", "was", "were", "which", "what", "who", "whom", "whose", "when", "where",
     "why", "how", "does", "did", "for", "with", "from", "that", "this", "these", "those", "its",
     "into", "about", "than", "then", "there", "their", "have", "has", "had", "you", "your",
     "tell", "give", "please", "describe", "explain", "know")
)  # fmt: skip


def rag_answer(messages: Sequence[tuple[str, str]]) -> str | None:
    """The answer to a RAG prompt in ``messages`` (``(role, text)`` pairs), else ``None``."""
    users = [text for role, text in messages if role == "user"]
    if not users:
        return None
    last = users[-1]
    if _is_rag(last):
        found = _query(last)
        if found is None:
            return None
        query, context, previous = found
    else:  # context chat engines put the retrieved text in a system message
        context = "\n".join(text for role, text in messages if role == "system")
        if not _is_rag(context):
            return None
        query, previous = last, None
    return _best_sentence(query, _after_marker(context)) or previous or _no_answer(query)


def _is_rag(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in _MARKERS)


def _after_marker(text: str) -> str:
    # the template's preamble (persona, rules) comes before the marker line, the context after
    lowered = text.lower()
    found = [i for i in (lowered.find(m) for m in _MARKERS) if i >= 0]
    if not found:
        return text
    end = text.find("\n", min(found))
    return text[end + 1 :] if end >= 0 else ""


def _query(prompt: str) -> tuple[str, str, str | None] | None:
    for pattern in _QUERY:
        found = pattern.search(prompt)
        if found:
            context = prompt[: found.start()] + "\n" + prompt[found.end() :]
            previous = found.groupdict().get("a")
            return found["q"].strip(), context, previous.strip() if previous else None
    return None


def _sentences(context: str) -> list[str]:
    lines = (line.strip() for line in context.splitlines())
    kept = [_LABEL.sub("", line) for line in lines if line and not _BOILERPLATE.search(line)]
    return [s.strip() for line in kept for s in _SENTENCE_END.split(line) if s.strip()]


def _words(text: str) -> set[str]:
    lowered = text.lower()
    words = {w for w in re.findall(r"[^\W\d_]{3,}|\d+", lowered) if w not in _STOP}
    cjk = "".join(_CJK.findall(lowered))
    return words | {cjk[i : i + 2] for i in range(len(cjk) - 1)}


def _best_sentence(query: str, context: str) -> str | None:
    wanted = _words(query)
    best, best_score = "", 0
    for sentence in _sentences(context):
        score = len(wanted & _words(sentence))
        if score > best_score:
            best, best_score = sentence, score
    return best if best_score * 2 > len(wanted) else None  # most query words, not a stray one


def _no_answer(query: str) -> str:
    if _CJK.search(query):
        return "上下文中没有找到这个问题的答案。"
    return "The context does not answer this question."
