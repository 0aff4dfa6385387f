"""App streams: SSE frames → ``AppChunk``s, and chunks → the whole ``AppResponse``.

Rules of this module:
- Push-style and pure: ``AppStreamStage.feed(event) -> list[AppChunk]``, ``close()``; the sync
  and async clients drive the same object.
- Text is a delta whatever the wire did. Incremental frames (``incremental_output: true``) are
  passed through; cumulative frames (the server default) are cut against the text already seen.
  A cumulative text that does not extend the previous one is an error, never a silently wrong
  answer. A final frame that repeats the whole text when nothing was streamed before (workflow
  apps in ``message_format``, whose pieces came as ``workflow_message``) is that whole text.
- Thoughts arrive in three shapes, merged into steps by ``ThoughtMerger``: fragments of the step
  in progress (incremental agent streams: ``[{"action_type":"reasoning","thought":"嗯"}]``,
  then ``"，"`` ..., Model Studio "deep thinking" example), snapshots of every step so far
  (cumulative streams, and workflow ``full_thoughts`` frames, whose node states are keyed by the
  ``nodeId`` inside ``response``), and whole lists (non-streaming answers). A step that has its
  ``observation`` is finished, so an identical copy of it is a repeat. Chunks carry the
  merged steps so far when they changed, and always on the final chunk.
- ``doc_references`` grow during a stream, each frame carrying the list so far (recorded
  ``application-single-generation-text-sse``): the latest list is held back for the final chunk.
- The final frame is the one whose ``finish_reason`` is not ``"null"``; a stream that ends
  without it raises ``IncompleteStreamError`` at ``close()``.
- ``accumulate_app`` folds chunks back into the answer a non-streaming call returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import APIResponseValidationError, IncompleteStreamError
from dashscope_core.types.apps import (
    AppChunk,
    AppOutput,
    AppResponse,
    AppUsage,
    DocReference,
    Thought,
)

__all__ = ["AppAccumulator", "AppStreamStage", "ThoughtMerger", "accumulate_app"]

_TEXT_FIELDS = ("thought", "action_input_stream", "arguments", "observation", "response")


def _node_id(thought: Thought) -> str | None:
    if not thought.response or not thought.response.startswith("{"):
        return None
    try:
        state = json.loads(thought.response)
    except ValueError:
        return None
    node = state.get("nodeId") if isinstance(state, dict) else None
    return str(node) if node else None


def _key(thought: Thought) -> tuple[str | None, ...]:
    node = _node_id(thought)
    if node is not None:
        return ("node", node)
    return (thought.action_type, thought.action_name, thought.action)


def _extend(step: Thought, fragment: Thought) -> Thought:
    """``step`` with ``fragment``'s text fields appended (other fields: the latest value)."""
    merged = step.model_copy(
        update=fragment.model_dump(exclude_none=True, exclude=set(_TEXT_FIELDS))
    )
    for name in _TEXT_FIELDS:
        piece = getattr(fragment, name)
        if piece:
            setattr(merged, name, (getattr(step, name) or "") + piece)
    return merged


class ThoughtMerger:
    """Merges the ``thoughts`` of successive frames into the app's steps (see module rules)."""

    def __init__(self, *, incremental: bool) -> None:
        self.incremental = incremental
        self.steps: list[Thought] = []

    def feed(self, thoughts: Sequence[Thought]) -> bool:
        """Take one frame's thoughts; return whether the steps changed."""
        before = list(self.steps)
        if len(thoughts) > 1 or not self.incremental:
            self._snapshot(thoughts)
        elif thoughts:
            self._single(thoughts[0])
        return self.steps != before

    def _snapshot(self, thoughts: Sequence[Thought]) -> None:
        for i, thought in enumerate(thoughts):
            if i < len(self.steps):
                self.steps[i] = thought
            else:
                self.steps.append(thought)

    def _single(self, thought: Thought) -> None:
        last = self.steps[-1] if self.steps else None
        if last is None or _key(last) != _key(thought):
            if thought not in self.steps:  # an earlier, finished step sent again
                self.steps.append(thought)
        elif _key(thought)[0] == "node":  # a workflow node's state replaces its previous one
            self.steps[-1] = thought
        elif last.observation and thought.observation == last.observation:
            return  # a step is finished once it has its observation: this is a repeat
        else:
            self.steps[-1] = _extend(last, thought)


class AppStreamStage:
    """Turns app SSE events into chunks; ``incremental`` says how the server streams."""

    def __init__(self, *, incremental: bool = True) -> None:
        self.incremental = incremental
        self._text = ""
        self._thoughts = ThoughtMerger(incremental=incremental)
        self._refs: list[DocReference] = []
        self._finished = False
        self._request_id: str | None = None

    def feed(self, event: SSEEvent) -> list[AppChunk]:
        """Take one event; return the chunks it produces (zero or one)."""
        if self._finished or not event.data.strip():
            return []
        frame = self._parse(event.data)
        self._request_id = frame.request_id or self._request_id
        out = frame.output
        final = out.finish_reason is not None
        delta = self._delta(out.text, frame.request_id, final)
        changed = self._thoughts.feed(out.thoughts)
        if out.doc_references:
            self._refs = list(out.doc_references)
        if not (delta or changed or final or out.workflow_message):
            return []
        self._finished = final
        output = AppOutput(
            text=delta,
            finish_reason=out.finish_reason,
            session_id=out.session_id,
            thoughts=list(self._thoughts.steps) if changed or final else [],
            doc_references=self._refs if final else [],
            workflow_message=out.workflow_message,
            **(out.model_extra or {}),
        )
        return [AppChunk(output=output, usage=frame.usage, request_id=frame.request_id)]

    def close(self) -> list[AppChunk]:
        """End of stream: raise ``IncompleteStreamError`` unless the final frame came."""
        if not self._finished:
            raise IncompleteStreamError(
                "the app stream ended before its final frame (finish_reason was never set); "
                f"{len(self._text)} characters received so far",
                status_code=None,
                request_id=self._request_id,
            )
        return []

    def _parse(self, data: str) -> AppResponse:
        try:
            return AppResponse.model_validate(json.loads(data))
        except ValueError as exc:
            raise APIResponseValidationError(
                f"an app stream frame is not valid JSON or not an app frame: {data[:200]!r}",
                status_code=200,
                request_id=self._request_id,
            ) from exc

    def _delta(self, text: str, request_id: str | None, final: bool) -> str:
        if self.incremental and not (final and text and text == self._text):
            self._text += text
            return text
        if not text and final:
            return ""
        if not text.startswith(self._text):
            raise APIResponseValidationError(
                "a cumulative app stream frame does not extend the text received so far",
                status_code=200,
                request_id=request_id,
            )
        delta, self._text = text[len(self._text) :], text
        return delta


class AppAccumulator:
    """Folds chunks into one ``AppResponse`` (text joined, latest thoughts and citations)."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thoughts: list[Thought] = []
        self._refs: list[DocReference] = []
        self._last: AppChunk | None = None
        self._session_id: str | None = None

    def add(self, chunk: AppChunk) -> None:
        """Take the next chunk."""
        self._text.append(chunk.output.text)
        if chunk.output.thoughts:
            self._thoughts = list(chunk.output.thoughts)
        if chunk.output.doc_references:
            self._refs = list(chunk.output.doc_references)
        self._session_id = chunk.output.session_id or self._session_id
        self._last = chunk

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self._text)

    def response(self) -> AppResponse:
        """The whole answer so far (complete once the final chunk was added)."""
        last = self._last
        extra = dict(last.output.model_extra or {}) if last else {}
        output = AppOutput(
            text=self.text,
            finish_reason=last.output.finish_reason if last else None,
            session_id=self._session_id,
            thoughts=list(self._thoughts),
            doc_references=list(self._refs),
            **extra,
        )
        usage = last.usage if last else AppUsage()
        return AppResponse(output=output, usage=usage, request_id=last.request_id if last else None)


def accumulate_app(chunks: Iterable[AppChunk]) -> AppResponse:
    """The ``AppResponse`` a non-streaming call returns, rebuilt from streamed chunks."""
    acc = AppAccumulator()
    for chunk in chunks:
        acc.add(chunk)
    return acc.response()
