"""App streams: SSE frames → delta ``AppChunk``s, and chunks → the whole ``AppResponse``.

Rules of this module:
- Push-style and pure: ``AppStreamStage.feed(event) -> list[AppChunk]``, ``close()``; the sync
  and async clients drive the same object.
- Chunks are deltas whatever the wire did. Incremental frames (``incremental_output: true``) are
  passed through; cumulative frames (the server default) are turned into deltas by cutting the
  text already seen. A cumulative text that does not extend the previous one is an error, never
  a silently wrong answer.
- ``thoughts`` are emitted once each (frames may repeat earlier steps). ``doc_references`` grow
  during a stream, each frame carrying the list so far (recorded
  ``application-single-generation-text-sse``), so the latest list is held back and delivered on
  the final chunk only.
- The final frame is the one whose ``finish_reason`` is not ``"null"``; a stream that ends
  without it raises ``IncompleteStreamError`` at ``close()``.
- ``accumulate_app`` folds chunks back into the answer a non-streaming call returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

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

__all__ = ["AppAccumulator", "AppStreamStage", "accumulate_app"]


class AppStreamStage:
    """Turns app SSE events into delta chunks; ``incremental`` says how the server streams."""

    def __init__(self, *, incremental: bool = True) -> None:
        self.incremental = incremental
        self._text = ""
        self._thoughts: list[Thought] = []
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
        delta = self._delta(out.text, frame.request_id)
        new_thoughts = [t for t in out.thoughts if t not in self._thoughts]
        self._thoughts.extend(new_thoughts)
        if out.doc_references:
            self._refs = list(out.doc_references)
        final = out.finish_reason is not None
        if not (delta or new_thoughts or final):
            return []
        self._finished = final
        extra = {k: v for k, v in (out.model_extra or {}).items()}
        output = AppOutput(
            text=delta,
            finish_reason=out.finish_reason,
            session_id=out.session_id,
            thoughts=new_thoughts,
            doc_references=self._refs if final else [],
            **extra,
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
                f"an app stream frame is not valid JSON: {data[:200]!r}",
                status_code=200,
                request_id=self._request_id,
            ) from exc

    def _delta(self, text: str, request_id: str | None) -> str:
        if self.incremental:
            self._text += text
            return text
        if not text.startswith(self._text):
            raise APIResponseValidationError(
                "a cumulative app stream frame does not extend the text received so far",
                status_code=200,
                request_id=request_id,
            )
        delta, self._text = text[len(self._text) :], text
        return delta


class AppAccumulator:
    """Folds delta chunks into one ``AppResponse`` (text joined, thoughts appended)."""

    def __init__(self) -> None:
        self._text: list[str] = []
        self._thoughts: list[Thought] = []
        self._refs: list[DocReference] = []
        self._last: AppChunk | None = None
        self._session_id: str | None = None

    def add(self, chunk: AppChunk) -> None:
        """Take the next chunk."""
        self._text.append(chunk.output.text)
        self._thoughts.extend(chunk.output.thoughts)
        if chunk.output.doc_references:
            self._refs = list(chunk.output.doc_references)
        self._session_id = chunk.output.session_id or self._session_id
        self._last = chunk

    def response(self) -> AppResponse:
        """The whole answer so far (complete once the final chunk was added)."""
        last = self._last
        extra = dict(last.output.model_extra or {}) if last else {}
        output = AppOutput(
            text="".join(self._text),
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
