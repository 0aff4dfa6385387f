"""Generation streams: SSE events in, delta chunks out; and deltas merged back into one answer.

Rules of this module:
- Pure and push-style: ``GenerationStream.feed(event) -> list[chunk]``, ``close() -> list[chunk]``;
  the sync and async clients drive it with the same few lines.
- One ``model_validate_json`` per frame and nothing deep-copied: a parsed chunk is ours, so the
  cumulative-to-delta conversion edits it in place.
- Every chunk is a delta: content / reasoning_content hold only new text, tool calls are raw
  fragments keyed by ``index`` (first fragment: ``id`` and ``function.name``; later ones
  ``"id": ""`` and argument pieces). Fragments are never stripped or repaired.
- A stream is complete when some frame finished and every choice seen (or ``output`` in text
  format) carries a non-null ``finish_reason``; otherwise ``close()`` raises
  ``IncompleteStreamError``. DashScope sends ``"null"`` while streaming (PROTOCOL.md).
- Accumulating: text and reasoning concatenate per choice, tool calls merge by ``index`` (id,
  type and name from the first non-empty fragment, arguments concatenated verbatim), the last
  finish_reason / usage (cumulative in every frame) / request_id win.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dashscope_core._protocol.request import drop_none
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import APIResponseValidationError, IncompleteStreamError
from dashscope_core.types.generation import (
    Choice,
    FunctionCall,
    GenerationOutput,
    GenerationResponse,
    Message,
    SearchInfo,
    ToolCall,
    content_text,
)

__all__ = ["GenerationAccumulator", "GenerationStream", "accumulate", "parse_generation"]

_TEXT_KEY = -1  # completion key of text-format frames (``output.finish_reason``)
# ``model_validate_json`` minus its Python wrapper: this runs once per streamed frame
_validate_json = GenerationResponse.__pydantic_validator__.validate_json


def parse_generation(data: str | bytes) -> GenerationResponse:
    """One answer or frame; a ``null`` field reads as an absent one (its default), at no cost to
    bodies without nulls: those parse in one pass. Raises ``ValidationError``/``ValueError``."""
    try:
        parsed: GenerationResponse = _validate_json(data)
        return parsed
    except ValidationError:
        body = json.loads(data)
        if not isinstance(body, dict):
            raise
        return GenerationResponse.model_validate(drop_none(body))


class GenerationStream:
    """Push-style frame reader of a generation stream; yields delta ``GenerationResponse``s."""

    def __init__(self, *, incremental: bool = True) -> None:
        self.incremental = incremental
        """False when the server sends cumulative frames: they are converted to deltas."""
        self.request_id: str | None = None
        self._unfinished: set[int] = set()
        self._finished_any = False
        self._so_far: dict[tuple[int, str, int], str] = {}

    @property
    def complete(self) -> bool:
        """Whether the final frame has arrived."""
        return self._finished_any and not self._unfinished

    def feed(self, event: SSEEvent) -> list[GenerationResponse]:
        """Parse one SSE event into a delta chunk (events without data give none)."""
        data = event.data
        if not data:
            return []
        try:
            chunk = parse_generation(data)
        except ValueError as exc:  # ValidationError is one
            raise APIResponseValidationError(
                f"unexpected stream frame: {data[:200]!r}",
                status_code=event.status,
                request_id=self.request_id,
            ) from exc
        chunk.status_code = 200 if event.status is None else event.status  # errors raised
        request_id = chunk.request_id
        if request_id:
            self.request_id = request_id
        self._track(chunk.output)
        if not self.incremental:
            self._to_delta(chunk.output)
        return [chunk]

    def close(self) -> list[GenerationResponse]:
        """End of input; raises ``IncompleteStreamError`` when the final frame never came."""
        if not self.complete:
            raise IncompleteStreamError(
                "the generation stream ended before its final frame (no finish_reason)",
                status_code=None,
                request_id=self.request_id,
            )
        return []

    def _track(self, output: GenerationOutput) -> None:
        choices = output.choices
        if not choices:
            self._mark(_TEXT_KEY, output.finish_reason)
            return
        for pos, choice in enumerate(choices):
            index = choice.index
            self._mark(pos if index is None else index, choice.finish_reason)

    def _mark(self, key: int, finish_reason: str | None) -> None:
        if finish_reason is None:
            self._unfinished.add(key)
        else:
            self._unfinished.discard(key)
            self._finished_any = True

    def _delta(self, key: tuple[int, str, int], text: str) -> str:
        before = self._so_far.get(key, "")
        self._so_far[key] = text
        return text[len(before) :] if text.startswith(before) else text

    def _to_delta(self, output: GenerationOutput) -> None:
        if output.text is not None:
            output.text = self._delta((_TEXT_KEY, "text", 0), output.text)
        for pos, choice in enumerate(output.choices or ()):
            key = pos if choice.index is None else choice.index
            message = choice.message
            if message.content is not None:
                text = self._delta((key, "content", 0), content_text(message.content))
                message.content = text if isinstance(message.content, str) else [{"text": text}]
            if message.reasoning_content is not None:
                reasoning = self._delta((key, "reasoning", 0), message.reasoning_content)
                message.reasoning_content = reasoning
            if message.tool_calls:
                message.tool_calls = self._tool_deltas(key, message.tool_calls) or None

    def _tool_deltas(self, key: int, calls: list[ToolCall]) -> list[ToolCall]:
        deltas: list[ToolCall] = []
        for pos, call in enumerate(calls):
            slot = (key, "tool", pos if call.index is None else call.index)
            first = slot not in self._so_far
            piece = self._delta(slot, call.function.arguments)
            if first:
                call.function.arguments = piece
                deltas.append(call)
            elif piece:
                fragment = FunctionCall(arguments=piece)
                deltas.append(ToolCall(index=call.index, id="", type=call.type, function=fragment))
        return deltas


@dataclass
class _ToolAcc:
    index: int | None
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)

    def add(self, call: ToolCall) -> None:
        self.id = self.id or call.id or None
        self.type = self.type or call.type or None
        self.name = self.name or call.function.name or None
        self.arguments.append(call.function.arguments)

    def result(self) -> ToolCall:
        function = FunctionCall(name=self.name, arguments="".join(self.arguments))
        return ToolCall(index=self.index, id=self.id, type=self.type or "function",
                        function=function)  # fmt: skip


@dataclass
class _ChoiceAcc:
    index: int | None
    role: str | None = None
    parts: list[str] = field(default_factory=list)
    as_parts: bool = False
    reasoning: list[str] | None = None
    tools: dict[int, _ToolAcc] = field(default_factory=dict)
    finish_reason: str | None = None
    logprobs: list[Any] | None = None

    def add(self, choice: Choice) -> None:
        message = choice.message
        self.role = message.role or self.role
        content = message.content
        if content is not None:
            self.as_parts = self.as_parts or isinstance(content, list)
            self.parts.append(content_text(content))
        if message.reasoning_content is not None:
            self.reasoning = (self.reasoning or []) + [message.reasoning_content]
        for pos, call in enumerate(message.tool_calls or ()):
            key = pos if call.index is None else call.index
            self.tools.setdefault(key, _ToolAcc(call.index)).add(call)
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        if choice.logprobs is not None:
            self.logprobs = (self.logprobs or []) + list(choice.logprobs.get("content") or [])

    def result(self) -> Choice:
        text = "".join(self.parts)
        fields: dict[str, Any] = {"role": self.role or "assistant"}
        fields["content"] = [{"text": text}] if self.as_parts else text
        if self.reasoning is not None:
            fields["reasoning_content"] = "".join(self.reasoning)
        if self.tools:
            fields["tool_calls"] = [self.tools[k].result() for k in sorted(self.tools)]
        choice = Choice(index=self.index, finish_reason=self.finish_reason,
                        message=Message(**fields))  # fmt: skip
        if self.logprobs is not None:
            choice.logprobs = {"content": self.logprobs}
        return choice


class GenerationAccumulator:
    """Merges delta chunks into the answer a non-streaming call returns."""

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceAcc] = {}
        self._text: list[str] | None = None
        self._finish_reason: str | None = None
        self._last: GenerationResponse | None = None
        self._request_id: str | None = None
        self._search_info: SearchInfo | None = None

    def add(self, chunk: GenerationResponse) -> None:
        """Merge one delta chunk."""
        output = chunk.output
        self._last = chunk
        self._request_id = chunk.request_id or self._request_id
        self._search_info = output.search_info or self._search_info
        if output.text is not None:
            self._text = (self._text or []) + [output.text]
        if output.finish_reason is not None:
            self._finish_reason = output.finish_reason
        for pos, choice in enumerate(output.choices or ()):
            key = pos if choice.index is None else choice.index
            acc = self._choices.get(key)
            if acc is None:
                acc = self._choices[key] = _ChoiceAcc(choice.index)
            acc.add(choice)

    def result(self) -> GenerationResponse:
        """The merged answer so far."""
        fields: dict[str, Any] = {}
        if self._text is not None:
            fields["text"] = "".join(self._text)
        if self._finish_reason is not None:
            fields["finish_reason"] = self._finish_reason
        if self._choices:
            fields["choices"] = [self._choices[k].result() for k in sorted(self._choices)]
        if self._search_info is not None:
            fields["search_info"] = self._search_info
        last = self._last
        response = GenerationResponse(request_id=self._request_id,
                                      output=GenerationOutput(**fields))  # fmt: skip
        if last is not None:
            response.usage = last.usage.model_copy()
            response.status_code = last.status_code
        return response


def accumulate(chunks: Iterable[GenerationResponse]) -> GenerationResponse:
    """Merge streamed delta chunks into one ``GenerationResponse``."""
    accumulator = GenerationAccumulator()
    for chunk in chunks:
        accumulator.add(chunk)
    return accumulator.result()
