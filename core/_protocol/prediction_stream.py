"""Prediction output streams (``urls.stream``, PROTOCOL.md "Stream URL"): a push-style reader.

Rules of this module:
- Events: ``output`` (text; multi-line data already joined with ``\\n`` by ``SSEDecoder``),
  ``logs``, ``error`` (JSON; raises), ``done`` (yielded last, as the seed client does: nothing
  after it is read). Any other event name is passed through untouched; comments never reach
  here (the decoder drops them).
- ``error`` raises ``PredictionFailedError`` carrying the detail, or the typed HTTP error when
  the JSON names an HTTP ``status`` >= 400 (RFC 7807).
- ``done`` with ``{"reason": "canceled"}`` raises ``JobCancelledError(reason="server")``: a
  cancelled prediction is never reported as a complete answer.
- A stream that ends without ``done`` raises ``IncompleteStreamError`` at ``close()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dashscope_core._protocol.polling import JobCancelledError
from dashscope_core._protocol.request import RequestSpec
from dashscope_core._protocol.sse import SSEEvent
from dashscope_core.errors import (
    DashScopeError,
    IncompleteStreamError,
    PredictionFailedError,
    error_from_response,
)

__all__ = ["PredictionStreamReader", "ServerSentEvent"]


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a prediction stream; ``str(event)`` is the text of an ``output`` event."""

    event: str
    data: str
    id: str | None = None

    def __str__(self) -> str:
        return self.data if self.event == "output" else ""

    def json(self) -> Any:
        """``data`` decoded as JSON (``error`` and ``done`` events carry JSON)."""
        return json.loads(self.data) if self.data.strip() else {}


def _decode(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


class PredictionStreamReader:
    """Turns decoded SSE events of one prediction's stream into ``ServerSentEvent``s."""

    def __init__(self, prediction: Any) -> None:
        url = getattr(getattr(prediction, "urls", None), "stream", None)
        if not url:
            raise ValueError(
                f"prediction {getattr(prediction, 'id', '?')} has no urls.stream: the model does "
                "not support streaming, or the prediction was not created with stream=True"
            )
        self.prediction = prediction
        self.spec = RequestSpec(
            "GET", url, headers={"Accept": "text/event-stream", "Cache-Control": "no-store"}
        )
        self.finished = False

    def feed(self, event: SSEEvent) -> list[ServerSentEvent]:
        """Events for the caller; raises on ``error`` and on a cancelled ``done``."""
        if self.finished:
            return []
        if event.event == "error":
            raise self._error(event.data)
        if event.event == "done":
            self.finished = True
            body = _decode(event.data)
            if isinstance(body, dict) and body.get("reason") in ("canceled", "cancelled"):
                raise JobCancelledError(
                    f"prediction {self.prediction.id}: cancelled by the server while streaming",
                    reason="server",
                    item=self.prediction,
                )
        return [ServerSentEvent(event.event, event.data, event.id)]

    def close(self) -> list[ServerSentEvent]:
        """End of input: a stream without ``done`` is incomplete."""
        if not self.finished:
            raise IncompleteStreamError(
                f"prediction {self.prediction.id}: the stream ended without a 'done' event",
                status_code=None,
            )
        return []

    def _error(self, data: str) -> DashScopeError:
        body = _decode(data)
        if isinstance(body, dict) and isinstance(body.get("status"), int) and body["status"] >= 400:
            return error_from_response(body["status"], None, body)
        detail = body.get("detail") or body.get("message") if isinstance(body, dict) else body
        return PredictionFailedError(
            f"prediction {self.prediction.id} failed while streaming: {detail or data}",
            prediction=self.prediction,
        )
