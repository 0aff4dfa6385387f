"""Knowledge bases of emulated Bailian apps: documents, passages, filters and BM25 retrieval.

Rules of this module:
- Stdlib only and deterministic: the same question over the same documents always ranks the
  same passages in the same order (ties broken by document order).
- A passage is a paragraph of a document (blank-line separated); long paragraphs are cut at
  sentence ends near ``MAX_PASSAGE_CHARS``. Tokens are lower-cased ASCII words (minus a few stop
  words) and CJK characters plus CJK bigrams, so Chinese questions retrieve too.
- ``rag_options`` narrow the candidate documents before ranking: ``pipeline_ids``, ``file_ids``
  (with ``session_file_ids``), ``tags`` (any), ``metadata_filter`` / ``structured_filter``
  (every key equal).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_PASSAGE_CHARS", "Document", "Hit", "Passage", "best_sentence", "retrieve"]

MAX_PASSAGE_CHARS = 600
_WORD = re.compile(r"[a-z0-9]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
     "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "the", "this", "to", "was",
     "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "about",
     "tell", "please"}
)  # fmt: skip
_K1, _B = 1.5, 0.75
_RELATIVE_CUTOFF = 0.5


def tokens(text: str) -> list[str]:
    """Search tokens of ``text`` (see the module rules)."""
    lowered = text.lower()
    words = [_stem(w) for w in _WORD.findall(lowered) if w not in _STOP]
    chars = _CJK.findall(lowered)
    bigrams = [a + b for a, b in itertools.pairwise(chars)]
    return words + chars + bigrams


def _stem(word: str) -> str:
    # a crude suffix strip so "pairing"/"pairs" meet "pair"; enough for a demo knowledge base
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@dataclass(frozen=True)
class Document:
    """One knowledge-base document of an emulated app."""

    doc_id: str
    text: str
    doc_name: str = ""
    title: str = ""
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    file_id: str = ""
    images: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Document:
        """Build from ``{"doc_id", "text", "doc_name"?, "title"?, "tags"?, "metadata"?, ...}``."""
        if not isinstance(data, Mapping):
            raise TypeError(f"document: expected a dict, got {type(data).__name__}")
        for key in ("doc_id", "text"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise ValueError(f"document.{key}: expected a non-empty string")
        doc_id = data["doc_id"]
        return cls(
            doc_id=doc_id,
            text=data["text"],
            doc_name=str(data.get("doc_name") or data.get("title") or doc_id),
            title=str(data.get("title") or data.get("doc_name") or doc_id),
            tags=tuple(data.get("tags") or ()),
            metadata=dict(data.get("metadata") or {}),
            file_id=str(data.get("file_id") or doc_id),
            images=tuple(data.get("images") or ()),
        )

    def passages(self, pipeline_id: str) -> list[Passage]:
        """This document cut into passages."""
        out: list[Passage] = []
        for paragraph in re.split(r"\n\s*\n", self.text):
            for piece in _cut(paragraph.strip()):
                out.append(Passage(self, pipeline_id, len(out), piece))
        return out


def _cut(paragraph: str) -> list[str]:
    if len(paragraph) <= MAX_PASSAGE_CHARS:
        return [paragraph] if paragraph else []
    pieces, current = [], ""
    for sentence in _SENTENCE.split(paragraph):
        if current and len(current) + len(sentence) > MAX_PASSAGE_CHARS:
            pieces.append(current.strip())
            current = ""
        current += sentence + " "
    if current.strip():
        pieces.append(current.strip())
    return pieces


@dataclass(frozen=True)
class Passage:
    """A retrievable piece of a document."""

    document: Document
    pipeline_id: str
    index: int
    text: str


@dataclass(frozen=True)
class Hit:
    """A ranked passage and its BM25 score."""

    passage: Passage
    score: float


def _allowed(doc: Document, options: Mapping[str, Any]) -> bool:
    file_ids = [*(options.get("file_ids") or ()), *(options.get("session_file_ids") or ())]
    if file_ids and doc.file_id not in file_ids and doc.doc_id not in file_ids:
        return False
    tags = options.get("tags") or ()
    if tags and not set(tags) & set(doc.tags):
        return False
    for key in ("metadata_filter", "structured_filter"):
        wanted = options.get(key) or {}
        if any(doc.metadata.get(k) != v for k, v in wanted.items()):
            return False
    return True


def candidates(
    pipelines: Mapping[str, Sequence[Document]], options: Mapping[str, Any]
) -> list[Passage]:
    """Passages of the documents ``options`` allow, in pipeline and document order."""
    chosen = options.get("pipeline_ids") or list(pipelines)
    out: list[Passage] = []
    for pipeline_id in chosen:
        for doc in pipelines.get(pipeline_id, ()):
            if _allowed(doc, options):
                out.extend(doc.passages(pipeline_id))
    return out


def _bm25(query: list[str], passages: list[Passage]) -> list[float]:
    docs = [Counter(tokens(p.document.title + " " + p.text)) for p in passages]
    avg = sum(sum(d.values()) for d in docs) / max(len(docs), 1)
    df = Counter(t for d in docs for t in d)
    scores = []
    for d in docs:
        length, score = sum(d.values()), 0.0
        for term in set(query):
            tf = d.get(term, 0)
            if tf:
                idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
                score += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / max(avg, 1)))
        scores.append(score)
    return scores


def retrieve(
    query: str,
    pipelines: Mapping[str, Sequence[Document]],
    options: Mapping[str, Any] | None = None,
    *,
    top_k: int = 3,
) -> list[Hit]:
    """The ``top_k`` best passages for ``query`` among those ``options`` allow (score > 0,
    and at least half the best score)."""
    passages = candidates(pipelines, options or {})
    query_tokens = tokens(query)
    if not passages or not query_tokens:
        return []
    scored = [Hit(p, s) for p, s in zip(passages, _bm25(query_tokens, passages), strict=True)]
    ranked = sorted((h for h in scored if h.score > 0), key=lambda h: -h.score)
    # passages far below the best one are noise, not evidence: cite only close seconds
    return [h for h in ranked[:top_k] if h.score >= _RELATIVE_CUTOFF * ranked[0].score]


def best_sentence(text: str, query: str) -> str:
    """The sentence of ``text`` sharing most tokens with ``query`` (the first on ties)."""
    sentences = [s.strip() for s in _SENTENCE.split(text) if s.strip()] or [text.strip()]
    wanted = set(tokens(query))
    return max(sentences, key=lambda s: len(wanted & set(tokens(s))))


def documents(items: Iterable[Mapping[str, Any] | Document]) -> list[Document]:
    """``Document``s from dicts (or documents, passed through)."""
    return [d if isinstance(d, Document) else Document.from_dict(d) for d in items]
