"""Generation streams: the frames of a ``Plan``, incremental or cumulative.

Rules of this module (PROTOCOL.md, recorded ``*-sse`` fixtures):
- Per choice: reasoning pieces first, then content pieces, then tool calls one call after the
  other; ``finish_reason`` is ``"null"`` until the choice's last frame.
- A choice that ends in tool calls finishes on the frame carrying its last argument piece
  (recorded ``single-generation-message-with-parallel-tools-sse``: no empty frame follows);
  any other choice finishes in a closing frame after its pieces (recorded
  ``single-generation-message-with-tools-sse``: empty content, ``finish_reason: "stop"``),
  which carries every choice not finished yet.
- Incremental frames carry only the new piece; cumulative frames carry everything so far.
- A tool call's first fragment has ``id`` and ``function.name``; later fragments have
  ``"id": ""`` and only an ``arguments`` piece, cut at arbitrary characters.
- Every frame carries ``usage`` (output tokens so far) and ``request_id``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dashscope_core.emulator import _text as tx
from dashscope_core.emulator._genplan import Choice, Plan, final_event, logprobs_json
from dashscope_core.emulator.routing import SSEEvent

__all__ = ["stream_events"]


@dataclass(frozen=True)
class _Step:
    kind: str  # "reasoning" | "content" | "tool"
    text: str
    fragment: dict[str, Any] | None = None


@dataclass
class _Acc:
    content: str = ""
    reasoning: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)

    def apply(self, step: _Step) -> None:
        if step.kind == "content":
            self.content += step.text
        elif step.kind == "reasoning":
            self.reasoning += step.text
        elif step.fragment is not None and step.fragment["id"]:
            self.calls.append(copy.deepcopy(step.fragment))
        else:
            self.calls[-1]["function"]["arguments"] += step.text


def _steps(plan: Plan, choice: Choice, key: int) -> Iterator[_Step]:
    if plan.as_message:
        for piece in tx.fragments(choice.reasoning, key):
            yield _Step("reasoning", piece)
    for piece in tx.fragments(choice.content, key + 1):
        yield _Step("content", piece)
    for call in choice.tool_calls:
        args = call["function"]["arguments"]
        for n, piece in enumerate(tx.split_anywhere(args, key) or [""]):
            fragment: dict[str, Any] = {
                "index": call["index"],
                "id": "",
                "type": "function",
                "function": {"arguments": piece},
            }
            if n == 0:
                fragment["id"] = call["id"]
                fragment["function"] = {"name": call["function"]["name"], "arguments": piece}
            yield _Step("tool", piece, fragment)


def _message(plan: Plan, step: _Step, acc: _Acc, cumulative: bool) -> dict[str, Any]:
    if cumulative:
        message: dict[str, Any] = {"content": acc.content, "role": "assistant"}
        if plan.params.thinking:
            message["reasoning_content"] = acc.reasoning
        if acc.calls:
            message["tool_calls"] = copy.deepcopy(acc.calls)
        return message
    message = {"content": step.text if step.kind == "content" else "", "role": "assistant"}
    if plan.params.thinking:
        message["reasoning_content"] = step.text if step.kind == "reasoning" else ""
    if step.fragment is not None:
        message["tool_calls"] = [step.fragment]
    return message


def _output(
    plan: Plan, index: int, step: _Step, acc: _Acc, cumulative: bool, finish: str = "null"
) -> dict[str, Any]:
    if not plan.as_message:
        return {"finish_reason": "null", "text": acc.content if cumulative else step.text}
    item: dict[str, Any] = {
        "message": _message(plan, step, acc, cumulative),
        "index": index,
        "finish_reason": finish,
    }
    if plan.params.parameters.get("logprobs"):
        text = step.text if step.kind == "content" else ""
        item["logprobs"] = logprobs_json(text, index)
    return {"choices": [item]}


def stream_events(plan: Plan, request_id: str) -> Iterator[SSEEvent]:
    """All frames of ``plan``; each choice finishes as the module rules say."""
    cumulative = not plan.params.incremental
    produced = 0
    open_choices: list[int] = []
    last_choice = len(plan.choices) - 1
    if plan.search is not None and plan.search.prepend:  # the results first, on their own
        output = _output(plan, 0, _Step("content", ""), _Acc(), cumulative)
        body = {"output": plan.with_search(output), "usage": plan.usage(0)}
        yield SSEEvent({**body, "request_id": request_id})
    for index, choice in enumerate(plan.choices):
        acc = _Acc()
        steps = list(_steps(plan, choice, tx.stable_hash("stream", index)))
        ends_in_call = bool(steps) and steps[-1].kind == "tool" and plan.as_message
        if not ends_in_call:
            open_choices.append(index)
        for n, step in enumerate(steps):
            acc.apply(step)
            produced += tx.count_tokens(step.text) if step.kind != "tool" else 1
            finishing = ends_in_call and n == len(steps) - 1
            finish = choice.finish_reason if finishing else "null"
            output = plan.with_search(_output(plan, index, step, acc, cumulative, finish))
            whole = finishing and index == last_choice and not open_choices
            usage = plan.usage() if whole else plan.usage(produced)
            yield SSEEvent({"output": output, "usage": usage, "request_id": request_id})
    if open_choices:
        yield final_event(plan, request_id, cumulative=cumulative, indices=open_choices)
