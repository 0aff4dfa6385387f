"""What a prediction tool tells a language model: summaries, progress, failures (pure).

Shared by the LangChain and LlamaIndex prediction tools. Rules of this module:
- Iterator outputs are joined into one text; file outputs are listed as URLs; a ``data:`` URI
  is shown as its type and size (the bytes stay in the artifact); dicts become JSON.
- Text longer than ``max_chars`` is cut with an explicit ``[truncated N chars]`` marker: the
  tool's artifact keeps the whole output, nothing is silently lost.
- Failure messages say what went wrong and what the model can do about it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from dashscope_core._protocol.progress import parse_progress
from dashscope_core.errors import (
    APIConnectionError,
    APIStatusError,
    BadRequestError,
    CancelledError,
    DashScopeError,
    NotFoundError,
    PredictionFailedError,
    RateLimitError,
    TaskFailedError,
)

__all__ = ["DEFAULT_MAX_CHARS", "describe_failure", "progress_event", "summarize", "truncate"]

DEFAULT_MAX_CHARS = 4000
_EVENT_KEYS = ("id", "status")


def truncate(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """``text``, or its first ``max_chars`` characters plus ``[truncated N chars]``."""
    if max_chars < 1:
        raise ValueError(f"max_chars: expected an integer >= 1, got {max_chars!r}")
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}\n[truncated {len(text) - max_chars} chars]"


def _data_uri_note(uri: str) -> str:
    head, _, payload = uri.partition(",")
    mime = head[5:].split(";", 1)[0] or "application/octet-stream"
    size = len(payload) * 3 // 4 if head.endswith(";base64") else len(payload)
    return f"[inline {mime} file, about {size} bytes; the full data URI is in the artifact]"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return _data_uri_note(value) if value.startswith("data:") else str.__str__(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(_render(v) for v in value)
    if value is None:
        return "(no output)"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def summarize(output: Any, *, iterator: bool = False, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The text a model sees for a prediction output (see the module rules)."""
    if iterator and isinstance(output, list):
        text = "".join(str.__str__(v) if isinstance(v, str) else str(v) for v in output)
    else:
        text = _render(output)
    return truncate(text, max_chars)


def progress_event(item: Any, kind: str = "prediction") -> dict[str, Any]:
    """A JSON-able progress payload for a prediction or task: id, status, progress if known."""
    if kind == "task":
        out = getattr(item, "output", None)
        event: dict[str, Any] = {
            "id": getattr(out, "task_id", None),
            "status": getattr(out, "task_status", None),
        }
    else:
        event = {key: getattr(item, key, None) for key in _EVENT_KEYS}
    progress = parse_progress(item) if kind != "task" else None
    if progress is not None:
        event.update(percentage=progress.percentage, current=progress.current, total=progress.total)
    return {"kind": kind, **event}


def _status_advice(exc: APIStatusError) -> str:
    if isinstance(exc, RateLimitError):
        return "The service is busy: wait a little, then try again."
    if isinstance(exc, NotFoundError):
        return "The model or version does not exist: do not retry with the same model."
    if isinstance(exc, BadRequestError) or (exc.status_code or 0) in (400, 422):
        return "The inputs were rejected: fix the arguments named above and call again."
    return "The service failed: you may try again once."


def _body_detail(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    fields = body.get("invalid_fields")
    if not isinstance(fields, list):
        return ""
    parts = [f"{f.get('field')}: {f.get('description')}" for f in fields if isinstance(f, Mapping)]
    return f" Invalid inputs: {'; '.join(parts)}." if parts else ""


def describe_failure(exc: BaseException, target: str) -> str:
    """An error message a model can act on, for a failed run of ``target``."""
    if isinstance(exc, PredictionFailedError):
        error = getattr(exc.prediction, "error", None) or exc.message
        return (
            f"The model {target} ran but failed (prediction {exc.prediction_id}): {error}. "
            "Change the inputs before trying again; the same inputs will fail again."
        )
    if isinstance(exc, TaskFailedError):
        return (
            f"The {target} task failed: {exc}. Change the inputs (for example the prompt) "
            "before trying again."
        )
    if isinstance(exc, CancelledError):
        return (
            f"The run of {target} was stopped before it finished: {exc.message}. "
            "Ask for less work (fewer steps or a smaller input) or report that it timed out."
        )
    if isinstance(exc, APIStatusError):
        detail = _body_detail(exc.body)
        return f"Calling {target} failed: {exc}.{detail} {_status_advice(exc)}"
    if isinstance(exc, APIConnectionError):
        return f"Could not reach the service to run {target}: {exc}. Try again later."
    if isinstance(exc, DashScopeError):
        return f"Running {target} failed: {exc}."
    return f"Running {target} failed: {type(exc).__name__}: {exc}."
