"""What an emulated Bailian app answers: conversation questions, RAG answers, thoughts.

Rules of this module:
- Questions about the conversation itself ("what did I ask first?", "what is my name?") are
  answered from the history (session turns or ``messages``) before anything else.
- Otherwise the answer quotes the best sentence of each retrieved passage followed by its
  citation marker ``<ref>[n]</ref>`` (the real server's marker, recorded
  ``application-single-generation-text-nosse``); ``doc_references[n-1].index_id == "n"``.
- A follow-up that retrieves nothing on its own is retried with the previous user question
  prepended, so "and how long is its battery warranty?" works in a session.
- Thoughts mirror the recorded shapes: ``agentRag`` / ``知识检索`` / ``rag`` with a JSON
  ``observation`` of the passages, ``api`` / ``长期记忆检索`` / ``memory`` for ``memory_id``,
  ``api`` / plugin id / ``plugin`` for ``biz_params.user_defined_params``, ``reasoning``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator._text import answer_text, is_cjk, reasoning_text, stable_hash
from dashscope_core.emulator.knowledge import Document, Hit, best_sentence, retrieve

__all__ = ["Answer", "compose"]

_FIRST = re.compile(
    r"(what|which).{0,30}\b(ask|asked|question)\b.{0,20}\bfirst\b|\bfirst (question|thing)\b.*"
    r"\b(ask|asked)\b|第一个问题|最开始问|最早问",
    re.IGNORECASE,
)
_PREVIOUS = re.compile(
    r"what did i (just )?ask|\b(previous|last) question\b|上一个问题|刚才问", re.IGNORECASE
)
_NAME_SET = re.compile(r"\bmy name is ([A-Z][\w-]*)|我叫(\w{1,8})", re.IGNORECASE)
_NAME_ASK = re.compile(r"what('s| is) my name|我叫什么", re.IGNORECASE)


@dataclass
class Answer:
    """The text, the passages it cites and the thoughts behind it."""

    text: str
    hits: list[Hit] = field(default_factory=list)
    thoughts: list[dict[str, Any]] = field(default_factory=list)


def _user_turns(history: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(m.get("content", "")) for m in history if m.get("role") == "user"]


def _conversation_answer(prompt: str, history: Sequence[Mapping[str, Any]]) -> str | None:
    asked = _user_turns(history)
    zh = is_cjk(prompt)
    if _FIRST.search(prompt):
        if not asked:
            return (
                "这是您的第一个问题。"
                if zh
                else "This is your first question in this conversation."
            )
        return (
            f"您问的第一个问题是：“{asked[0]}”" if zh else f'Your first question was: "{asked[0]}"'
        )
    if _PREVIOUS.search(prompt):
        if not asked:
            return "您之前没有提问。" if zh else "You have not asked anything before this."
        return (
            f"您上一个问题是：“{asked[-1]}”" if zh else f'Your previous question was: "{asked[-1]}"'
        )
    if _NAME_ASK.search(prompt):
        names = [m.group(1) or m.group(2) for t in asked for m in [_NAME_SET.search(t)] if m]
        if not names:
            return "您还没有告诉我您的名字。" if zh else "You have not told me your name yet."
        return f"您叫{names[-1]}。" if zh else f"Your name is {names[-1]}."
    return None


def _rag_text(prompt: str, hits: list[Hit], app_name: str) -> str:
    zh = is_cjk(prompt)
    if not hits:
        if zh:
            return f"抱歉，{app_name}的知识库中没有找到相关内容。"
        return f"Sorry, I could not find anything about that in the {app_name} knowledge base."
    quotes = [f"{best_sentence(h.passage.text, prompt)}<ref>[{i}]</ref>" for i, h in
              enumerate(hits, 1)]  # fmt: skip
    head = "根据知识库：" if zh else "According to the knowledge base:"
    return head + " " + " ".join(quotes)


def _observation(hits: list[Hit]) -> str:
    items = [
        {
            "content": h.passage.text,
            "dataId": h.passage.document.file_id,
            "dataName": h.passage.document.doc_name,
            "display": True,
            "id": f"{h.passage.pipeline_id}_{h.passage.document.doc_id}_{h.passage.index}",
            "images": list(h.passage.document.images),
            "referenceIndex": i,
            "score": round(h.score, 4),
            "title": h.passage.document.title,
            "webSearch": False,
        }
        for i, h in enumerate(hits, 1)
    ]
    return json.dumps(items, ensure_ascii=False)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rag_thought(query: str, options: Mapping[str, Any], hits: list[Hit]) -> dict[str, Any]:
    arguments = _dumps({"query": query, "rag_options": dict(options)})
    return {
        "thought": f"Searching the knowledge base for: {query}",
        "action_type": "agentRag",
        "action_name": "知识检索",
        "action": "rag",
        "action_input_stream": arguments,
        "arguments": arguments,
        "observation": _observation(hits),
    }


def _api_thought(name: str, action: str, arguments: str, observation: str) -> dict[str, Any]:
    return {"thought": f"Calling {name}", "action_type": "api", "action_name": name,
            "action": action, "action_input_stream": arguments, "arguments": arguments,
            "observation": observation}  # fmt: skip


def _extra_thoughts(
    prompt: str, memory_id: str | None, biz_params: Mapping[str, Any], thinking: bool
) -> list[dict[str, Any]]:
    thoughts: list[dict[str, Any]] = []
    if memory_id:
        args = _dumps({"memory_id": memory_id, "query": prompt})
        thoughts.append(_api_thought("长期记忆检索", "memory", args, "[]"))
    plugins = biz_params.get("user_defined_params") or {}
    for plugin_id, params in plugins.items():
        seen = _dumps({"plugin_id": plugin_id, "user_defined_params": params, "status": "ok"})
        thoughts.append(_api_thought(plugin_id, "plugin", _dumps(params), seen))
    prompt_params = biz_params.get("user_prompt_params")
    if prompt_params:
        args = _dumps(prompt_params)
        thoughts.append(_api_thought("prompt variables", "prompt", args, args))
    if thinking:
        text = reasoning_text(prompt)
        thoughts.append({"thought": text, "action_type": "reasoning", "action_name": "思考过程",
                         "action": "reasoning", "response": text, "observation": None})  # fmt: skip
    return thoughts


def compose(
    *,
    prompt: str,
    history: Sequence[Mapping[str, Any]],
    pipelines: Mapping[str, Sequence[Document]],
    app_name: str,
    options: Mapping[str, Any],
    top_k: int,
    memory_id: str | None = None,
    biz_params: Mapping[str, Any] | None = None,
    thinking: bool = False,
) -> Answer:
    """The app's answer to ``prompt`` after ``history`` (thoughts always built; callers drop
    them unless ``has_thoughts``)."""
    extra = _extra_thoughts(prompt, memory_id, biz_params or {}, thinking)
    direct = _conversation_answer(prompt, history)
    if direct is not None:
        return Answer(direct, [], extra)
    if not pipelines:
        return Answer(answer_text(prompt, stable_hash(app_name, prompt)), [], extra)
    query, hits = prompt, retrieve(prompt, pipelines, options, top_k=top_k)
    asked = _user_turns(history)
    if not hits and asked:
        query = f"{asked[-1]} {prompt}"
        hits = retrieve(query, pipelines, options, top_k=top_k)
    thoughts = [_rag_thought(query, options, hits), *extra]
    return Answer(_rag_text(prompt, hits, app_name), hits, thoughts)


def doc_references(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The ``doc_references`` of ``hits`` (``index_id`` = the citation number)."""
    return [
        {
            "index_id": str(i),
            "title": h.passage.document.title,
            "doc_id": h.passage.document.doc_id,
            "doc_name": h.passage.document.doc_name,
            "text": h.passage.text,
            "images": list(h.passage.document.images),
        }
        for i, h in enumerate(hits, 1)
    ]
