"""Explicit context cache: ``cache_control`` markers on content parts (Model Studio "Context
cache"; PROTOCOL.md "Context cache, search, tokenizer, media").

Rules of this module:
- A marker caches the prefix from the start of the request (tools, then messages) to the end
  of the part it marks. More than four markers: 400 ``InvalidParameter``.
- Hit: for each marker the emulator looks back up to 20 parts for a live cache entry with the
  same prefix; the longest hit becomes ``cached_tokens`` and its 5-minute TTL restarts.
- Miss: a marked prefix of at least 1,024 tokens becomes a new entry (shorter ones are not
  cached and not billed); ``cache_creation_input_tokens`` is the longest new prefix minus what
  was read from the cache.
- Explicit and implicit caching exclude each other: a request with markers never gets the
  implicit ``cached_tokens``. Time is ``emulator.clock`` (tests move it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator._text import MESSAGE_OVERHEAD, count_tokens, stable_hash
from dashscope_core.emulator.routing import ApiError
from dashscope_core.emulator.state import Emulator

__all__ = ["LOOKBACK", "MAX_MARKERS", "MIN_TOKENS", "TTL", "CacheUse", "explicit_cache"]

TTL = 300.0
MIN_TOKENS = 1024
MAX_MARKERS = 4
LOOKBACK = 20


@dataclass(frozen=True)
class CacheUse:
    """What one request read from and wrote to the explicit cache."""

    read: int
    created: int


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, list):
        return [p for p in content if isinstance(p, dict)]
    return [{"text": content}] if isinstance(content, str) else []


def _prefixes(
    model: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> list[tuple[str, int, bool]]:
    """Per content part in request order: (prefix key, prefix tokens, marked?)."""
    tools_text = json.dumps(tools, ensure_ascii=False, sort_keys=True) if tools else ""
    tokens = count_tokens(tools_text)
    key = stable_hash("cache", model, tools_text)
    out = []
    for message in messages:
        tokens += MESSAGE_OVERHEAD
        key = stable_hash(key, message.get("role"))
        for part in _parts(message.get("content")):
            plain = {k: v for k, v in part.items() if k != "cache_control"}
            tokens += count_tokens(str(plain.get("text", "")))
            key = stable_hash(key, json.dumps(plain, ensure_ascii=False, sort_keys=True))
            out.append((f"{key:016x}", tokens, "cache_control" in part))
    return out


def explicit_cache(
    model: str, tools: list[dict[str, Any]], messages: list[dict[str, Any]], emulator: Emulator
) -> CacheUse | None:
    """Apply the request's markers to the cache; None when it has no markers."""
    parts = _prefixes(model, tools, messages)
    marked = [i for i, (_, _, mark) in enumerate(parts) if mark]
    if not marked:
        return None
    if len(marked) > MAX_MARKERS:
        raise ApiError(400, "InvalidParameter",
                       f"The number of cache_control markers ({len(marked)}) exceeds the "
                       f"limit of {MAX_MARKERS}.")  # fmt: skip
    store = emulator.namespace("explicit_cache")  # prefix key -> expiry
    now = emulator.clock()
    for key in [k for k, expiry in store.items() if expiry <= now]:
        del store[key]
    read = 0
    for i in marked:
        for key, tokens, _ in reversed(parts[max(0, i - LOOKBACK) : i + 1]):
            if key in store:
                store[key] = now + TTL
                read = max(read, tokens)
                break
    created = 0
    for i in marked:
        key, tokens, _ = parts[i]
        if key not in store and tokens >= MIN_TOKENS:
            store[key] = now + TTL
            created = max(created, tokens - read)
    return CacheUse(read, created)
