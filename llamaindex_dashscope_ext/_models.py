"""Per-model metadata: context window, output limit and capabilities of the Qwen families.

Rules of this module:
- Names are matched by prefix, most specific pattern first; a snapshot suffix such as
  ``-2025-04-28``, ``-0919`` or ``-latest`` is matched by the family's prefix.
- Values are those of the stable alias in the Model Studio model list (non-thinking mode); a
  dated snapshot may differ. Unknown models get ``UNKNOWN``: a small window, no tools, no vision.
  ``DashScopeLLM(context_window=..., is_function_calling_model=...)`` overrides any of this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MODELS", "UNKNOWN", "ModelInfo", "model_info"]


@dataclass(frozen=True)
class ModelInfo:
    """What LlamaIndex needs to know about one model family."""

    context_window: int
    max_output: int
    is_chat_model: bool = True
    function_calling: bool = True
    vision: bool = False
    json_schema: bool = False
    """Accepts ``response_format={"type": "json_schema", ...}`` (native structured output)."""
    reasoning: bool = False
    """Always thinks (``reasoning_content``), e.g. QwQ."""


_K = 1024
# (prefix pattern, info); the first match wins, so longer / more specific prefixes come first.
MODELS: tuple[tuple[str, ModelInfo], ...] = (
    # vision-language
    ("qwen3-vl-", ModelInfo(262_144, 32 * _K, vision=True)),
    ("qwen2.5-vl-", ModelInfo(131_072, 8 * _K, function_calling=False, vision=True)),
    ("qwen-vl-max", ModelInfo(131_072, 8 * _K, function_calling=False, vision=True)),
    ("qwen-vl-", ModelInfo(131_072, 8 * _K, function_calling=False, vision=True)),
    ("qvq-", ModelInfo(131_072, 8 * _K, function_calling=False, vision=True, reasoning=True)),
    # coder
    ("qwen3-coder-480b", ModelInfo(262_144, 64 * _K, json_schema=True)),
    ("qwen3-coder-30b", ModelInfo(262_144, 64 * _K, json_schema=True)),
    ("qwen3-coder-", ModelInfo(1_000_000, 64 * _K, json_schema=True)),
    ("qwen2.5-coder-", ModelInfo(131_072, 8 * _K)),
    # flagship and commercial aliases
    ("qwen3-max", ModelInfo(262_144, 64 * _K, json_schema=True)),
    ("qwen-max-latest", ModelInfo(131_072, 8 * _K, json_schema=True)),
    ("qwen-max", ModelInfo(32_768, 8 * _K, json_schema=True)),
    ("qwen-plus", ModelInfo(131_072, 16 * _K, json_schema=True)),
    ("qwen-flash", ModelInfo(1_000_000, 32 * _K, json_schema=True)),
    ("qwen-turbo", ModelInfo(1_000_000, 16 * _K, json_schema=True)),
    ("qwen-long", ModelInfo(10_000_000, 8 * _K, function_calling=False)),
    # reasoning
    ("qwq-", ModelInfo(131_072, 8 * _K, reasoning=True)),
    # open weights
    ("qwen3-next-", ModelInfo(262_144, 32 * _K, json_schema=True)),
    ("qwen3-235b-a22b-instruct-2507", ModelInfo(262_144, 32 * _K, json_schema=True)),
    ("qwen3-30b-a3b-instruct-2507", ModelInfo(262_144, 32 * _K, json_schema=True)),
    ("qwen3-", ModelInfo(131_072, 16 * _K, json_schema=True)),
    ("qwen2.5-14b-instruct-1m", ModelInfo(1_000_000, 8 * _K)),
    ("qwen2.5-7b-instruct-1m", ModelInfo(1_000_000, 8 * _K)),
    ("qwen2.5-", ModelInfo(131_072, 8 * _K)),
    ("qwen2-", ModelInfo(131_072, 6 * _K)),
)

UNKNOWN = ModelInfo(8_192, 2 * _K, function_calling=False)
"""Conservative values for a model this table does not know."""

_PATTERNS = tuple((re.compile(re.escape(prefix), re.I), info) for prefix, info in MODELS)


@lru_cache(maxsize=256)
def model_info(model: str) -> ModelInfo:
    """The metadata of ``model`` (matched by prefix), or ``UNKNOWN``."""
    for pattern, info in _PATTERNS:
        if pattern.match(model):
            return info
    return UNKNOWN
