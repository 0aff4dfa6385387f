"""Planning and rendering of generation replies (choices, usage, JSON and final frame)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator import _text as tx
from dashscope_core.emulator._cache import CacheUse, explicit_cache
from dashscope_core.emulator._genparams import GenParams
from dashscope_core.emulator._rag import rag_answer
from dashscope_core.emulator._schema import (
    Hints,
    build_tool_call,
    instance,
    select_tools,
    tool_words,
)
from dashscope_core.emulator._search import Search, plan_search
from dashscope_core.emulator.routing import Request, SSEEvent
from dashscope_core.emulator.state import Emulator

__all__ = ["Choice", "Plan", "build_plan", "final_event", "logprobs_json", "message_json", "render"]


@dataclass
class Choice:
    """One generated answer."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def output_tokens(self) -> int:
        """Tokens of content, reasoning and tool-call arguments."""
        calls = sum(tx.count_tokens(c["function"]["arguments"]) + 2 for c in self.tool_calls)
        return tx.count_tokens(self.content) + tx.count_tokens(self.reasoning) + calls


@dataclass
class Plan:
    """Everything a reply needs: choices and usage."""

    params: GenParams
    choices: list[Choice]
    input_tokens: int
    cached_tokens: int = 0
    output_override: int | None = None
    search: Search | None = None
    explicit: CacheUse | None = None
    """Explicit-cache reads and writes (``_cache``); None without markers."""

    def usage(self, output_tokens: int | None = None) -> dict[str, Any]:
        """The ``usage`` object (``output_tokens`` so far while streaming)."""
        total = self.total_output
        out = total if output_tokens is None else min(output_tokens, total)
        usage: dict[str, Any] = {
            "input_tokens": self.input_tokens,
            "output_tokens": out,
            "total_tokens": self.input_tokens + out,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }
        if self.explicit is not None:  # PROTOCOL.md "Context cache": the usage fields
            created = self.explicit.created
            usage["prompt_tokens_details"].update(
                cache_creation_input_tokens=created,
                cache_creation={"ephemeral_5m_input_tokens": created},
                cache_type="ephemeral",
            )
        if self.params.thinking:
            reasoning = sum(tx.count_tokens(c.reasoning) for c in self.choices)
            usage["output_tokens_details"] = {"reasoning_tokens": reasoning}
        if self.search is not None:
            usage["plugins"] = self.search.plugins
        return usage

    def with_search(self, output: dict[str, Any]) -> dict[str, Any]:
        """``output`` plus ``search_info`` when the call searched with sources on."""
        info = self.search.info if self.search is not None else None
        return output if info is None else {**output, "search_info": info}

    @property
    def total_output(self) -> int:
        """Output tokens of all choices."""
        if self.output_override is not None:
            return self.output_override
        return sum(c.output_tokens for c in self.choices)

    @property
    def as_message(self) -> bool:
        """Render ``output.choices`` (else ``output.text``)."""
        return self.params.result_format == "message" or any(c.tool_calls for c in self.choices)


def build_plan(params: GenParams, request: Request, emulator: Emulator) -> Plan:
    """Decide the answer(s) for ``params``."""
    seed = params.seed if params.seed is not None else emulator.seed
    script = request.script.data if request.script is not None else None
    choices = [_choice(params, tx.stable_hash(seed, i), script) for i in range(params.n)]
    input_tokens = _input_tokens(params)
    explicit = None  # markers count only where the model has explicit cache (its profile)
    if params.profile.explicit_cache:
        explicit = explicit_cache(params.model, params.tools, params.messages, emulator)
    if explicit is None:
        plan = Plan(params, choices, input_tokens, _cached_tokens(params, emulator))
    else:  # explicit and implicit caching exclude each other
        plan = Plan(params, choices, input_tokens, explicit.read, explicit=explicit)
    if script and isinstance(script.get("usage"), dict):
        plan.input_tokens = int(script["usage"].get("input_tokens", input_tokens))
        if "output_tokens" in script["usage"]:
            plan.output_override = int(script["usage"]["output_tokens"])
    plan.search = plan_search(params.parameters, _question(params))
    if plan.search is not None and params.response_format is None:
        for choice in choices:
            if not choice.tool_calls:
                choice.content = plan.search.cite(choice.content)
    return plan


def _question(params: GenParams) -> str:
    for message in reversed(params.messages):
        if message.get("role") == "user":
            return tx.content_text(message.get("content"))
    return ""


def _choice(params: GenParams, key: int, script: dict[str, Any] | None) -> Choice:
    if script is not None:
        return _scripted_choice(params, script, key)
    question = _question(params)
    reasoning = tx.reasoning_text(question) if params.thinking else ""
    trailing = _trailing_tool_results(params.messages)
    if trailing:
        return _limit(Choice(tx.tool_answer_text(trailing, question), reasoning), params)
    calls = _tool_calls(params, question, key)
    if calls:
        forced = isinstance(params.tool_choice, dict)
        return Choice("", reasoning, calls, "stop" if forced else "tool_calls")
    return _limit(Choice(_answer(params, question, key), reasoning), params)


def _scripted_choice(params: GenParams, script: dict[str, Any], key: int) -> Choice:
    calls = []
    for i, call in enumerate(script.get("tool_calls") or []):
        args = call.get("arguments", {})
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        call_id = call.get("id") or f"call_{tx.stable_hash(call.get('name'), i, key):016x}"
        calls.append(
            {
                "index": i,
                "id": call_id,
                "type": "function",
                "function": {"name": call["name"], "arguments": text},
            }
        )
    choice = Choice(str(script.get("text") or ""), str(script.get("reasoning") or ""), calls)
    choice.finish_reason = "tool_calls" if calls else "stop"
    choice = _limit(choice, params)
    if script.get("finish_reason"):
        choice.finish_reason = str(script["finish_reason"])
    return choice


def _trailing_tool_results(messages: list[dict[str, Any]]) -> list[str]:
    results: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, tx.content_text(message.get("content")))
    return results


def _tool_calls(params: GenParams, question: str, key: int) -> list[dict[str, Any]]:
    choice = params.tool_choice
    if not params.tools or choice == "none":
        return []
    if isinstance(choice, dict):
        name = choice["function"]["name"]
        chosen = [t for t in params.tools if t["function"]["name"] == name][:1]
    else:
        chosen = select_tools(params.tools, question) or _instructed(params)
        if choice == "required" and not chosen:
            chosen = params.tools[:1]
    parallel = params.parameters.get("parallel_tool_calls")
    if parallel is False:
        chosen = chosen[:1]
    hints = Hints.from_text(question, tool_words(params.tools))
    if parallel is True and len(chosen) == 1 and len(hints.strings) >= 2:
        per_value = [Hints(question, [s], list(hints.numbers)) for s in hints.strings[:4]]
        return [build_tool_call(chosen[0], h, i, key) for i, h in enumerate(per_value)]
    return [build_tool_call(tool, hints, i, key) for i, tool in enumerate(chosen)]


def _instructed(params: GenParams) -> list[dict[str, Any]]:
    """Tools a system message tells the model to call by name (a model follows that)."""
    system = " ".join(
        tx.content_text(m.get("content")) for m in params.messages if m.get("role") == "system"
    ).lower()
    if "call" not in system:
        return []
    return [t for t in params.tools if str(t["function"]["name"]).lower() in system][:1]


def _answer(params: GenParams, question: str, key: int) -> str:
    fmt = params.response_format
    if fmt is None:
        return _rag_answer(params) or tx.answer_text(question, key)
    if fmt["type"] == "json_schema":
        schema = fmt["json_schema"].get("schema") or {"type": "object"}
        value = instance(schema, Hints.from_text(question), root=schema)
    else:
        value = {"answer": tx.answer_text(question, key)}
    return json.dumps(value, ensure_ascii=False)


def _rag_answer(params: GenParams) -> str | None:
    # RAG prompts (LlamaIndex / LangChain templates) are answered from their context: _rag.py
    pairs = [(str(m.get("role")), tx.content_text(m.get("content"))) for m in params.messages]
    return rag_answer(pairs)


def _limit(choice: Choice, params: GenParams) -> Choice:
    text, stopped = tx.apply_stop(choice.content, params.parameters.get("stop"))
    truncated = False
    if params.max_tokens is not None:
        text, truncated = tx.truncate_tokens(text, params.max_tokens)
    choice.content = text
    if truncated:
        choice.finish_reason = "length"
    elif stopped:
        choice.finish_reason = "stop"
    return choice


def _input_tokens(params: GenParams) -> int:
    tokens = tx.message_tokens(params.messages)
    if params.tools:
        tokens += tx.count_tokens(json.dumps(params.tools, ensure_ascii=False))
    return tokens


def _cached_tokens(params: GenParams, emulator: Emulator) -> int:
    """Tokens of the longest message prefix an earlier call already sent."""
    seen: set[int] = emulator.namespace("generation").setdefault("prefixes", set())
    cached = 0
    for size in range(1, len(params.messages) + 1):
        prefix = params.messages[:size]
        digest = tx.stable_hash(params.model, json.dumps(prefix, sort_keys=True))
        if digest in seen:
            cached = tx.message_tokens(prefix)
        seen.add(digest)
    return cached


def message_json(plan: Plan, choice: Choice) -> dict[str, Any]:
    """The complete ``message`` object of ``choice``."""
    message: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if plan.params.thinking:
        message["reasoning_content"] = choice.reasoning
    if choice.tool_calls:
        message["tool_calls"] = choice.tool_calls
    return message


def logprobs_json(text: str, key: int) -> dict[str, Any]:
    """Per-token log probabilities for ``text`` (deterministic)."""
    content = [
        {
            "token": u,
            "bytes": list(u.encode()),
            "top_logprobs": [],
            "logprob": -round((tx.stable_hash(key, i, u) % 2000) / 1000, 3),
        }
        for i, u in enumerate(tx.units(text))
    ]
    return {"content": content}


def render(plan: Plan, request_id: str) -> dict[str, Any]:
    """The non-streaming reply body."""
    if not plan.as_message:
        first = plan.choices[0]
        output: dict[str, Any] = {"text": first.content, "finish_reason": first.finish_reason}
    else:
        choices = []
        for i, choice in enumerate(plan.choices):
            item = {
                "finish_reason": choice.finish_reason,
                "index": i,
                "message": message_json(plan, choice),
            }
            if plan.params.parameters.get("logprobs"):
                item["logprobs"] = logprobs_json(choice.content, i)
            choices.append(item)
        output = {"choices": choices}
    return {"output": plan.with_search(output), "usage": plan.usage(), "request_id": request_id}


def final_event(
    plan: Plan, request_id: str, *, cumulative: bool, indices: list[int] | None = None
) -> SSEEvent:
    """The closing stream frame of the choices ``indices`` (default all): finish reasons
    (plus the whole answer when cumulative)."""
    if not plan.as_message:
        first = plan.choices[0]
        text = first.content if cumulative else ""
        output: dict[str, Any] = {"finish_reason": first.finish_reason, "text": text}
    else:
        choices = []
        for i, choice in enumerate(plan.choices):
            if indices is not None and i not in indices:
                continue
            message = message_json(plan, choice)
            if not cumulative:
                message = {k: "" for k in message if k in ("content", "reasoning_content")}
                message["role"] = "assistant"
            choices.append({"message": message, "index": i, "finish_reason": choice.finish_reason})
        output = {"choices": choices}
    body = {"output": plan.with_search(output), "usage": plan.usage(), "request_id": request_id}
    return SSEEvent(body)
