"""``DashScopePromptCachingMiddleware``: explicit context cache for LangChain agents.

Requires ``langchain`` (>= 1.0, the agent middleware framework) besides langchain-core.

On every model call of a ``create_agent`` agent it marks the stable prefix with
``cache_control: {"type": "ephemeral"}``: the system prompt (tools come with it) and the last
message of the conversation so far, which the next call of the loop repeats. DashScope then
reads the longest cached prefix at 10% of the input price and writes the new one at 125%
(Model Studio "Context cache": 5-minute TTL, at least 1,024 tokens, at most four markers).
A marker is placed only where it pays: the model's profile says it supports explicit cache
and the prefix is estimated at ``min_prefix_tokens`` or more; markers the caller placed are
kept and counted against the four.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal
from warnings import warn

from langchain_core.messages import BaseMessage, SystemMessage

from dashscope_core import estimate_tokens, get_profile

try:
    from langchain.agents.middleware.types import AgentMiddleware, ModelRequest, ModelResponse
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "DashScopePromptCachingMiddleware needs the 'langchain' package (the agent "
        "framework): pip install 'langchain>=1.0'"
    ) from exc

__all__ = ["DashScopePromptCachingMiddleware"]

MARKER = {"type": "ephemeral"}
MAX_MARKERS = 4


def supports_explicit_cache(model: str) -> bool:
    """Whether ``model`` honours ``cache_control`` markers (its profile's ``explicit_cache``)."""
    return get_profile(model).explicit_cache


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        text = content
    else:
        text = " ".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content)
    calls = getattr(message, "tool_calls", None)
    return text + (json.dumps(calls, ensure_ascii=False) if calls else "")


def _markers(message: BaseMessage | None) -> int:
    if message is None or isinstance(message.content, str):
        return 0
    return sum(1 for b in message.content if isinstance(b, dict) and "cache_control" in b)


def _marked(message: BaseMessage) -> BaseMessage | None:
    """A copy of ``message`` whose last text block carries the marker (None: nothing to mark)."""
    content = message.content
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}] if content else []
    else:
        blocks = [{"type": "text", "text": b} if isinstance(b, str) else dict(b) for b in content]
    for block in reversed(blocks):
        if block.get("type") in ("text", "image", "image_url", "video", "audio"):
            block["cache_control"] = dict(MARKER)
            return message.model_copy(update={"content": blocks})
    return None


class DashScopePromptCachingMiddleware(AgentMiddleware):  # type: ignore[type-arg,unused-ignore]
    """Mark the stable prefix of each agent model call for DashScope's explicit cache."""

    def __init__(
        self,
        *,
        min_prefix_tokens: int = 1024,
        unsupported_model_behavior: Literal["ignore", "warn", "raise"] = "ignore",
    ) -> None:
        """Args:
        min_prefix_tokens: the shortest prefix worth marking (DashScope caches 1,024+).
        unsupported_model_behavior: what a model that is not ``ChatDashScope`` with explicit
            cache support gets: no markers (``"ignore"``), a warning, or a ``ValueError``.
        """
        super().__init__()
        if isinstance(min_prefix_tokens, bool) or not isinstance(min_prefix_tokens, int):
            raise TypeError("min_prefix_tokens: expected an int")
        if unsupported_model_behavior not in ("ignore", "warn", "raise"):
            raise ValueError("unsupported_model_behavior: expected 'ignore', 'warn' or 'raise'")
        self.min_prefix_tokens = min_prefix_tokens
        self.unsupported_model_behavior = unsupported_model_behavior

    def _supported(self, request: ModelRequest) -> bool:
        from langchain_dashscope_ext.chat_models import ChatDashScope

        model = request.model
        if isinstance(model, ChatDashScope) and supports_explicit_cache(model.model):
            return True
        message = (f"DashScopePromptCachingMiddleware: {type(model).__name__} "
                   f"({getattr(model, 'model', '?')}) has no explicit context cache")  # fmt: skip
        if self.unsupported_model_behavior == "raise":
            raise ValueError(message)
        if self.unsupported_model_behavior == "warn":
            warn(message, stacklevel=3)
        return False

    def mark(self, request: ModelRequest) -> ModelRequest:
        """``request`` with markers on the system prompt and the last message, where they pay."""
        if not self._supported(request):
            return request
        system = request.system_message
        messages: list[Any] = list(request.messages)
        budget = MAX_MARKERS - _markers(system) - sum(_markers(m) for m in messages)
        tokens = estimate_tokens(json.dumps(request.tools, default=str) if request.tools else "")
        tokens += estimate_tokens(_text(system)) if system is not None else 0
        updates: dict[str, Any] = {}
        if system is not None and budget > 0 and tokens >= self.min_prefix_tokens:
            marked = _marked(system)
            if isinstance(marked, SystemMessage):
                updates["system_message"], budget = marked, budget - 1
        tokens += sum(estimate_tokens(_text(m)) for m in messages)
        if budget > 0 and tokens >= self.min_prefix_tokens:
            for i in range(len(messages) - 1, -1, -1):  # the last message that has content
                marked = _marked(messages[i])
                if marked is not None:
                    messages[i] = marked
                    updates["messages"] = messages
                    break
        return request.override(**updates) if updates else request

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        """Mark the prefix, then call the model."""
        return handler(self.mark(request))

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelResponse:
        """Async ``wrap_model_call``."""
        return await handler(self.mark(request))
