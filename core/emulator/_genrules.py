"""Cross-parameter rules of text generation that the real service enforces with a 400.

Rules of this module (each rejection is 400 ``InvalidParameter``; sources cited per rule):
- Thinking mode is ``enable_thinking: true`` or a model that only thinks (``qwq-*``,
  ``qvq-*``, ``*thinking*``); it rejects a forced ``tool_choice`` (``"required"`` or a named
  function) and ``response_format`` json_object / json_schema.
- ``response_format: {"type": "json_object"}`` needs the word "json" (any case) in a system or
  user message.
- A ``tool`` message must follow an assistant message with ``tool_calls`` (or another ``tool``
  message answering the same turn).
- Pure: no I/O; called from ``_genparams.parse_generation`` after the single-field checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dashscope_core.emulator._text import content_text
from dashscope_core.emulator.routing import ApiError

if TYPE_CHECKING:
    from dashscope_core.emulator._genparams import GenParams

__all__ = ["check_rules", "thinks_only"]

_ASKING = ("system", "user")
_THINKING_ONLY = re.compile(r"^(?:qwq|qvq)-|thinking", re.I)
# The algorithm layer's own wording, as production returns it (prefix included).
_ALGO = "<400> InternalError.Algo.InvalidParameter: "
# Seen from DashScope in production, e.g. github.com/cloudwego/eino/issues/994 and
# github.com/QwenLM/qwen-code/issues/7659 (qwen3.5-plus / qwen3.6-plus, enable_thinking: true).
FORCED_TOOL_CHOICE = (
    _ALGO + "The tool_choice parameter does not support being set to required or object in "
    "thinking mode"
)
# Model Studio "JSON Mode" guide (help.aliyun.com/zh/model-studio/user-guide/json-mode):
# "思考模式的模型暂不支持结构化输出功能"; the reply text as Bailian returns it is quoted in
# github.com/presenton/presenton/issues/184 (qwen3-235b-a22b-thinking-2507).
JSON_WHILE_THINKING = "Json mode response is not supported when enable_thinking is true"
# Same JSON Mode guide: the system or user message must contain "JSON" (case-insensitive),
# otherwise this error.
JSON_WORD_MISSING = (
    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
    "'json_object'."
)
# Seen from DashScope (qwen-max, qwen-turbo-latest): github.com/camel-ai/camel/issues/2075,
# github.com/sigoden/aichat/pull/993, github.com/philschmid/mcp-openai-gemini-llama-example/pull/5.
TOOL_WITHOUT_CALL = (
    _ALGO + 'messages with role "tool" must be a response to a preceeding message with '
    '"tool_calls".'
)


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def thinks_only(model: str) -> bool:
    """Whether ``model`` always thinks (QwQ, QVQ, ``*-thinking*`` snapshots)."""
    return bool(_THINKING_ONLY.search(model))


def check_rules(params: GenParams) -> None:
    """Raise ``ApiError`` for a combination of parameters the real service rejects."""
    forced = params.tool_choice == "required" or isinstance(params.tool_choice, dict)
    fmt = params.response_format
    if params.thinking and forced and params.tools:
        raise _bad(FORCED_TOOL_CHOICE)
    if params.thinking and fmt is not None:
        raise _bad(JSON_WHILE_THINKING)
    if fmt is not None and fmt.get("type") == "json_object":
        _check_json_word(params.messages)
    _check_tool_order(params.messages)


def _check_json_word(messages: Sequence[dict[str, Any]]) -> None:
    texts = (content_text(m.get("content")) for m in messages if m.get("role") in _ASKING)
    if not any("json" in text.lower() for text in texts):
        raise _bad(JSON_WORD_MISSING)


def _check_tool_order(messages: Sequence[dict[str, Any]]) -> None:
    answering = False
    for message in messages:
        role = message.get("role")
        if role == "tool" and not answering:
            raise _bad(TOOL_WITHOUT_CALL)
        if role != "tool":
            answering = role == "assistant" and bool(message.get("tool_calls"))
