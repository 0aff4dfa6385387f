"""``tool_choice="required"``: the answer must call a tool, whatever the number of tools.

Rules of this module:
- DashScope forces only a named tool (PROTOCOL.md: ``tool_choice`` is ``auto``, ``none`` or
  ``{"type": "function", "function": {"name": ...}}``). With one tool, "required" is that
  tool's named choice and the server enforces it: nothing to check here.
- With several tools the request sends ``auto`` plus a system instruction naming the tools
  (``instruct``), and ``ToolCallRequired`` checks the answer: one without a tool call is never
  shown to the caller; it is asked again once, then ``ToolChoiceNotHonoredError``.
- Streams hold their chunks back until the first tool-call fragment arrives, then release them
  and pass the rest through: the caller sees one answer, live once it is known to be a tool
  call, never text from a rejected attempt. So invoke and stream behave the same.
- Tokens of a rejected attempt were billed: their usage is added to every later chunk's usage
  (DashScope usage is cumulative per frame), so callbacks count what was spent.
- Pure and push-style (``feed``/``close`` for streams, ``accept`` for whole answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashscope_core.errors import ToolChoiceNotHonoredError
from dashscope_core.types.generation import GenerationResponse, GenerationUsage

__all__ = ["ATTEMPTS", "REQUIRED", "ToolCallRequired", "instruct"]

REQUIRED = "required"
"""The ``tool_choice`` asking for a call of any of the tools (OpenAI's word for it)."""
ATTEMPTS = 2
"""Requests made for one answer at most (the first, then one more)."""
_INSTRUCTION = (
    "You must answer by calling at least one of these tools: {names}. Do not answer in text."
)


def instruct(messages: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[Any]:
    """``messages`` with the instruction to call one of ``names`` in the leading system message
    (system messages are merged into one leading message before this runs)."""
    text = _INSTRUCTION.format(names=", ".join(names))
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        content = first.get("content")
        if isinstance(content, str):
            merged: Any = f"{content}\n\n{text}" if content else text
        else:
            merged = [*(content or []), {"text": text}]
        return [{**first, "content": merged}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def _add(usage: GenerationUsage, spent: GenerationUsage) -> None:
    for name in ("input_tokens", "output_tokens", "total_tokens"):
        extra = getattr(spent, name)
        if extra:
            setattr(usage, name, (getattr(usage, name) or 0) + extra)


class ToolCallRequired:
    """Checks answers (whole or streamed) of a call that must call a tool; one per call."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.attempt = 0
        self._spent = GenerationUsage()
        self._held: list[GenerationResponse] = []
        self._released = False

    def accept(self, response: GenerationResponse) -> bool:
        """Whether ``response`` is the answer (True) or the call must be made again (False);
        raises ``ToolChoiceNotHonoredError`` when the last attempt had no tool call."""
        self.attempt += 1
        if response.tool_calls:
            _add(response.usage, self._spent)
            return True
        return self._reject(response)

    def feed(self, chunk: GenerationResponse) -> list[GenerationResponse]:
        """The chunks to yield now: none until a tool call shows, then all held, then each."""
        if self._released:
            _add(chunk.usage, self._spent)
            return [chunk]
        self._held.append(chunk)
        if not chunk.tool_calls:
            return []
        self._released = True
        held, self._held = self._held, []
        for piece in held:
            _add(piece.usage, self._spent)
        return held

    def close(self) -> bool:
        """End of one streamed attempt: True when it was the answer, False to ask again."""
        self.attempt += 1
        if self._released:
            return True
        last = self._held[-1] if self._held else GenerationResponse()
        self._held = []
        return self._reject(last)

    def _reject(self, response: GenerationResponse) -> bool:
        _add(self._spent, response.usage)
        if self.attempt < ATTEMPTS:
            return False
        raise ToolChoiceNotHonoredError(
            f'tool_choice="required": the model answered {self.attempt} times without calling '
            f"one of the tools {self.names}; DashScope can force only a named tool. Bind one "
            "tool, name the tool to call, or use tool_choice='auto'.",
            request_id=response.request_id,
        )
