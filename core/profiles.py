"""Model profiles: what each model needs and offers, in one table (``_profile_data``).

Read by endpoint routing and the pre-flight shaper (``resources.generation``), the thinking
rule (``ModelProfile.thinks``), LangChain's ``ChatDashScope.profile``, LlamaIndex's
``DashScopeLLM.metadata`` and the emulator, which refuses what the table says the service
refuses. Rules of this module:

- ``get_profile(name)`` never raises: exact names win over glob patterns (``fnmatch``, case
  insensitive); among patterns, registered ones win over built-in ones, then the longest
  literal prefix. A name nothing matches gets ``UNKNOWN`` (``known=False``): text endpoint, no
  media, tool, cache or batch claims, small limits, thinking only when asked for.
- ``register_profile(pattern, based_on=..., **fields)`` adds or overrides an entry for every
  later lookup (fine-tunes, new releases); bad fields raise ``ValueError``/``TypeError``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

__all__ = [
    "UNKNOWN",
    "ModelProfile",
    "get_profile",
    "register_profile",
]

Endpoint = Literal["text", "multimodal"]
Thinking = Literal["none", "off_by_default", "on_by_default", "always"]
Kind = Literal["chat", "embedding", "rerank", "image", "video"]
Task = Literal[
    "text2image", "image_edit", "image2image", "text2video", "image2video", "keyframes2video",
    "batch_embedding",
]  # fmt: skip
_THINKING = ("none", "off_by_default", "on_by_default", "always")
_KINDS = ("chat", "embedding", "rerank", "image", "video")
_TASKS = ("text2image", "image_edit", "image2image", "text2video", "image2video",
          "keyframes2video", "batch_embedding")  # fmt: skip


@dataclass(frozen=True)
class ModelProfile:
    """What one model needs and offers (limits in tokens)."""

    model: str = ""
    """The name this profile was looked up for."""
    known: bool = True
    """False for a name the table does not hold (the conservative ``UNKNOWN`` values)."""
    kind: Kind = "chat"
    """``chat`` (generation), ``embedding``, ``rerank``, ``image`` or ``video`` synthesis."""
    endpoint: Endpoint = "text"
    """The native endpoint: ``text`` (text-generation / text-embedding) or ``multimodal``."""
    context_window: int = 8_192
    max_output_tokens: int = 2_048
    thinking: Thinking = "none"
    """``none``, ``off_by_default`` / ``on_by_default`` (hybrid), ``always``."""
    max_thinking_budget: int | None = None
    non_streaming_thinking: bool = False
    """Answers a non-streaming call with thinking on (else: streamed and accumulated)."""
    stream_only: bool = False
    """Refuses every non-streaming call (QwQ, QVQ, Omni): such calls are streamed."""
    tool_calling: bool = False
    forced_tool_choice: bool = False
    """Honours a named ``tool_choice`` (never while thinking)."""
    json_object: bool = False
    json_schema: bool = False
    image_inputs: bool = False
    video_inputs: bool = False
    audio_inputs: bool = False
    audio_outputs: bool = False
    search: bool = False
    explicit_cache: bool = False
    batch: bool = False
    """Served by the Batch API."""
    dimensions: tuple[int, ...] = ()
    """Embedding models: the accepted ``dimension`` values, the default first."""
    max_inputs: int | None = None
    """Embedding texts (or rerank documents) one request takes."""
    max_request_tokens: int | None = None
    """Rerank: tokens one request takes, counted as ``query tokens × documents + document
    tokens`` (``context_window`` is the per-query / per-document limit, longer ones truncated)."""
    task: Task | None = None
    """The async task (``X-DashScope-Async``) the model runs, which decides its route and
    required inputs: ``text2image``, ``image_edit`` (``function`` + ``base_image_url``),
    ``image2image`` (``images``), ``text2video``, ``image2video`` (``img_url``),
    ``keyframes2video`` (``first_frame_url``), ``batch_embedding`` (``input.url``)."""
    source: str = ""
    """Where the values come from (model card, API reference page, recording)."""

    def thinks(self, enable_thinking: bool | None = None) -> bool:
        """Whether a call with this ``enable_thinking`` value (None: not sent) thinks."""
        if self.thinking == "always":
            return True
        if self.thinking == "none":
            return False
        if enable_thinking is None:
            return self.thinking == "on_by_default"
        return bool(enable_thinking)

    @property
    def can_disable_thinking(self) -> bool:
        """Whether ``enable_thinking=False`` turns thinking off (hybrid models)."""
        return self.thinking in ("off_by_default", "on_by_default")

    def streams_call(self, enable_thinking: bool | None = None) -> bool:
        """Whether a non-streaming call must go as a stream (refused otherwise)."""
        if self.stream_only:
            return True
        return self.thinks(enable_thinking) and not self.non_streaming_thinking


UNKNOWN = ModelProfile(
    known=False, thinking="off_by_default", source="not in the table: conservative defaults"
)
"""The profile of a name the table does not hold."""

_FIELDS = {f.name for f in dataclasses.fields(ModelProfile)} - {"model", "known"}
_WILD = re.compile(r"[*?\[]")
_lock = threading.Lock()
_registered: dict[str, ModelProfile] = {}


def _check_fields(fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise TypeError(f"register_profile: unknown field(s) {unknown}; known: {sorted(_FIELDS)}")
    for name in ("context_window", "max_output_tokens"):
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):  # fmt: skip
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if "thinking" in fields and fields["thinking"] not in _THINKING:
        raise ValueError(f"thinking: expected one of {_THINKING}, got {fields['thinking']!r}")
    if "endpoint" in fields and fields["endpoint"] not in ("text", "multimodal"):
        raise ValueError(f"endpoint: expected 'text' or 'multimodal', got {fields['endpoint']!r}")
    if "kind" in fields and fields["kind"] not in _KINDS:
        raise ValueError(f"kind: expected one of {_KINDS}, got {fields['kind']!r}")
    if fields.get("task") is not None and fields["task"] not in _TASKS:
        raise ValueError(f"task: expected None or one of {_TASKS}, got {fields['task']!r}")


def register_profile(pattern: str, *, based_on: str | None = None, **fields: Any) -> ModelProfile:
    """Add or override the profile of ``pattern`` (a name or a glob such as ``my-ft-*``).

    ``based_on`` copies another model's profile (which must be known) before ``fields`` apply;
    without it the conservative ``UNKNOWN`` values are the base. Returns the stored profile.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("pattern: expected a model name or glob, e.g. 'my-finetune-*'")
    _check_fields(fields)
    base = UNKNOWN
    if based_on is not None:
        base = get_profile(based_on)
        if not base.known:
            raise ValueError(f"based_on: {based_on!r} is not in the profile table")
    source = fields.pop("source", f"register_profile({pattern!r})")
    profile = dataclasses.replace(base, model=pattern, known=True, source=source, **fields)
    with _lock:
        _registered[pattern.lower()] = profile
        _lookup.cache_clear()
    return profile


def get_profile(model: str) -> ModelProfile:
    """The profile of ``model``; never raises (an unknown or odd name gets ``UNKNOWN``)."""
    if not isinstance(model, str):
        return UNKNOWN
    return _lookup(model)


@lru_cache(maxsize=1024)
def _lookup(model: str) -> ModelProfile:
    from dashscope_core._profile_data import PROFILES

    name = model.strip().lower()
    with _lock:
        registered = dict(_registered)
    found = registered.get(name) or PROFILES.get(name)
    if found is None:
        found = _by_pattern(name, registered) or _by_pattern(name, PROFILES)
    if found is None:
        return dataclasses.replace(UNKNOWN, model=model)
    return dataclasses.replace(found, model=model)


def _by_pattern(name: str, table: Mapping[str, ModelProfile]) -> ModelProfile | None:
    matches = [p for p in table if _WILD.search(p) and fnmatch.fnmatchcase(name, p)]
    return table[max(matches, key=_specificity)] if matches else None


def _specificity(pattern: str) -> tuple[int, int]:
    """The longest literal prefix wins (``qwen2.5-vl-*`` over ``qwen2.5-*-instruct``)."""
    found = _WILD.search(pattern)
    return (found.start() if found else len(pattern), len(pattern))
