"""The model and cross-parameter rules of generation that the real service enforces.

Rules of this module (each rejection is 400 ``InvalidParameter`` unless said; sources cited
per rule):
- The model comes from the profile table (``dashscope_core.profiles``, the client's own rule
  source): a name it does not hold answers 404 ``Model.NotExist``; a model served on the other
  endpoint (or not a generation model) answers the service's "url error".
- Thinking mode is the profile's ``thinks(enable_thinking)``; ``enable_thinking: false`` on a
  thinking-only model is refused; a non-streaming call is refused by a stream-only model and,
  with thinking on, by a model whose profile lacks ``non_streaming_thinking``; a thinking
  stream needs ``incremental_output: true``; ``thinking_budget`` is capped per model; thinking
  mode rejects a forced ``tool_choice`` (``"required"`` or a named function) and
  ``response_format`` json_object / json_schema.
- ``response_format: {"type": "json_object"}`` needs the word "json" (any case) in a system or
  user message.
- A ``tool`` message must follow an assistant message with ``tool_calls`` (or another ``tool``
  message answering the same turn).
- A ``system`` message must be the first message, and there is at most one.
- Pure: no I/O; called from ``_genparams.parse_generation`` after the single-field checks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dashscope_core.emulator._text import content_text
from dashscope_core.emulator.routing import ApiError
from dashscope_core.profiles import ModelProfile, get_profile

if TYPE_CHECKING:
    from dashscope_core.emulator._genparams import GenParams

__all__ = ["URL_ERROR", "check_model", "check_rules"]

_ASKING = ("system", "user")
# The service's wording, as reported verbatim in github.com/agentscope-ai/agentscope/issues/1295
# (qwen3.5-plus on text-generation); note the full-width exclamation mark.
URL_ERROR = (
    "url error, please check url！ For details, see: "
    "https://help.aliyun.com/zh/model-studio/error-code#error-url"
)
# PROTOCOL.md "Wave 2 facts"; github.com/langchain4j/langchain4j/issues/3974 (native body).
NON_STREAMING_THINKING = "parameter.enable_thinking must be set to false for non-streaming calls"
# github.com/QuantumNous/new-api/issues/905, infiniflow/ragflow#5912 (qwq-plus), trailing space.
STREAM_ONLY = (
    "This model only support stream mode, please enable the stream parameter to access the model. "
)
THINKING_RESTRICTED = "The value of the enable_thinking parameter is restricted to True"
INCREMENTAL_REQUIRED = (
    'The incremental_output parameter must be "true" when enable_thinking is true'
)
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
# The Qwen chat template's own check (quoted from Qwen3 servers in
# github.com/charmbracelet/crush/issues/3050 and BerriAI/litellm#39852).
SYSTEM_NOT_FIRST = _ALGO + "System message must be at the beginning."
TOOL_WITHOUT_CALL = (
    _ALGO + 'messages with role "tool" must be a response to a preceeding message with '
    '"tool_calls".'
)


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def _budget_error(most: int) -> str:
    # github.com/CherryHQ/cherry-studio/issues/7263 (qwen3, most = 38912)
    return (
        _ALGO + "The thinking_budget parameter must be a positive integer and not greater "
        f"than {most}"
    )


def check_model(model: str, *, kind: str, endpoint: str, scripted: bool = False) -> ModelProfile:
    """The profile of ``model`` for a route serving ``kind`` on ``endpoint``; else ``ApiError``.

    A scripted reply (``emulator.script``) answers for any name: tests script made-up models.
    """
    profile = get_profile(model)
    if scripted and not profile.known:
        return dataclasses.replace(profile, kind=kind, endpoint=endpoint)  # type: ignore[arg-type]
    if not profile.known:
        raise ApiError(404, "Model.NotExist", "Model not exist.")
    if profile.kind != kind or profile.endpoint != endpoint:
        raise _bad(URL_ERROR)
    return profile


def _check_thinking(params: GenParams, streaming: bool) -> None:
    profile, flag = params.profile, params.parameters.get("enable_thinking")
    if flag is False and profile.thinking == "always":
        raise _bad(THINKING_RESTRICTED)
    if not streaming and profile.stream_only:
        raise _bad(STREAM_ONLY)
    if not params.thinking:
        return
    if not streaming and not profile.non_streaming_thinking:
        raise _bad(NON_STREAMING_THINKING)
    if streaming and not profile.non_streaming_thinking and not params.incremental:
        raise _bad(INCREMENTAL_REQUIRED)
    budget, most = params.parameters.get("thinking_budget"), profile.max_thinking_budget
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
        or (most is not None and budget > most)
    ):  # fmt: skip
        raise _bad(_budget_error(most or 0))


def check_rules(params: GenParams, *, streaming: bool) -> None:
    """Raise ``ApiError`` for a combination of parameters the real service rejects."""
    _check_thinking(params, streaming)
    forced = params.tool_choice == "required" or isinstance(params.tool_choice, dict)
    fmt = params.response_format
    if params.thinking and forced and params.tools:
        raise _bad(FORCED_TOOL_CHOICE)
    if params.thinking and fmt is not None:
        raise _bad(JSON_WHILE_THINKING)
    if fmt is not None and fmt.get("type") == "json_object":
        _check_json_word(params.messages)
    _check_tool_order(params.messages)
    if any(m.get("role") == "system" for m in params.messages[1:]):
        raise _bad(SYSTEM_NOT_FIRST)


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
