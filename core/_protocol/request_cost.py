"""What a request costs a rate-limit budget: its model, its tokens before sending, its usage after.

Rules of this module:
- A request draws from a budget when its JSON body names a ``model`` (generation, multimodal,
  embeddings, rerank, image tasks); polls, pages and app calls (``"model": ""``) do not.
- Input tokens are estimated from the body's text with ``estimate_tokens`` (generous on
  purpose; the budget learns the bias from the answers). Media references (URLs, data URIs) are
  not text and count nothing; the settled usage corrects the estimate.
- Output tokens are expected only from generation bodies (``input.messages`` / ``prompt``):
  the model's learned mean, never above ``parameters.max_tokens`` or the model's output limit.
- Usage is read from the response body or the last stream frame: ``usage.total_tokens``, or
  input plus output (PROTOCOL.md "Text generation", "Embeddings").
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashscope_core._protocol.tokens import estimate_tokens

__all__ = ["TokenNeed", "limited_model", "token_need", "usage_of"]

_MEDIA_PREFIXES = ("data:", "http://", "https://", "oss://", "file://")


@dataclass(frozen=True)
class TokenNeed:
    """A request's token cost before sending: its input and whether it generates output."""

    input: int
    output_cap: float = math.inf
    """``max_tokens`` when the request sets one, else the model's output limit if known."""
    generates: bool = False

    def cost(self, input_ratio: float, expected_output: float) -> float:
        """The input corrected by ``input_ratio``, plus the expected output (if it generates,
        never above ``max_tokens``)."""
        output = min(expected_output, self.output_cap) if self.generates else 0.0
        return self.input * input_ratio + output


def limited_model(body: Any) -> str | None:
    """The model a request body names, or None (the request draws from no budget)."""
    if isinstance(body, Mapping):
        model = body.get("model")
        if isinstance(model, str) and model:
            return model
    return None


def _text_tokens(value: Any) -> int:
    if isinstance(value, str):
        return 0 if value.startswith(_MEDIA_PREFIXES) else estimate_tokens(value)
    if isinstance(value, Mapping):
        return sum(_text_tokens(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_text_tokens(v) for v in value)
    return 0


def token_need(body: Mapping[str, Any], output_limit: float = math.inf) -> TokenNeed:
    """The estimated token cost of a request body (see the module rules); ``output_limit``:
    the model's, when known."""
    inputs = body.get("input")
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, Mapping) else {}
    tokens = _text_tokens(inputs) + _text_tokens(parameters.get("tools"))
    generates = isinstance(inputs, Mapping) and ("messages" in inputs or "prompt" in inputs)
    cap = parameters.get("max_tokens")
    if isinstance(cap, int) and not isinstance(cap, bool) and cap > 0:
        output_limit = float(cap)
    return TokenNeed(tokens, output_limit, generates)


def usage_of(body: bytes | str | Mapping[str, Any] | None) -> tuple[float | None, float | None]:
    """``(tokens used, output tokens)`` of a response body or stream frame; None when absent."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return None, None
    usage = body.get("usage") if isinstance(body, Mapping) else None
    if not isinstance(usage, Mapping):
        return None, None
    numbers = {k: float(v) for k, v in usage.items() if isinstance(v, (int, float))}
    output = numbers.get("output_tokens", numbers.get("completion_tokens"))
    total = numbers.get("total_tokens")
    if total is None:
        parts = [numbers.get("input_tokens", numbers.get("prompt_tokens")), output]
        known = [p for p in parts if p is not None]
        total = sum(known) if known else None
    return total, output
