"""Argument checks of generation calls: pure, run before any request, errors name the argument.

Ranges follow PROTOCOL.md and the public parameter docs. ``stop`` also takes token ids
(``[[37763, 367]]`` in recorded ``single-generation-*`` requests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dashscope_core.profiles import ModelProfile
from dashscope_core.resources._parts import PartsSummary, check_parts

__all__ = [
    "check_history",
    "check_kind",
    "check_media",
    "check_messages",
    "check_model",
    "check_parameters",
    "check_prompt",
    "check_thinking",
    "check_tool_choice",
    "check_tools",
    "merge_system_messages",
]

ROLES = ("system", "user", "assistant", "tool")
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n", "thinking_budget")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return True
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def check_model(model: Any) -> None:
    """``model`` must be a non-empty string."""
    if not isinstance(model, str):
        raise TypeError(f"model: expected a model name string, got {type(model).__name__}")
    if not model.strip():
        raise ValueError("model: must not be empty (e.g. model='qwen-plus')")


def check_prompt(prompt: Any) -> None:
    """``prompt`` must be a non-empty string."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt: expected a string, got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("prompt: must not be empty")


def check_history(history: Any, *, with_prompt: bool) -> None:
    """``history`` (deprecated ``[{"user": ..., "bot": ...}]`` turns) goes with ``prompt`` only."""
    if not with_prompt:
        raise ValueError("history: only goes with prompt=; put earlier turns into messages=")
    if not _is_list(history) or not all(isinstance(turn, Mapping) for turn in history):
        raise TypeError("history: expected a list of {'user': ..., 'bot': ...} dicts")


def check_messages(messages: Any) -> tuple[list[Mapping[str, Any]], PartsSummary]:
    """Check ``messages``; returns them as a list and what their content parts hold (media,
    cache markers, local files: ``_parts``)."""
    if not _is_list(messages):
        raise TypeError(
            "messages: expected a list of {'role': ..., 'content': ...} dicts, "
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise ValueError("messages: must not be empty")
    summary = PartsSummary()
    for i, message in enumerate(messages):
        parts = _check_message(i, message)
        if parts is not None:
            check_parts(f"messages[{i}]", parts, summary)
    return merge_system_messages(messages), summary


def merge_system_messages(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One leading system message holding every system message's content, in order.

    The service refuses a system message that is not the first one (the Qwen chat template's
    "System message must be at the beginning"), and LangChain's standard suite sends two. The
    other messages keep their order; texts are joined by a blank line, part lists concatenated.
    """
    systems = [m for m in messages if m.get("role") == "system"]
    if not systems or (len(systems) == 1 and messages[0] is systems[0]):
        return list(messages)
    contents: list[Any] = [m.get("content") for m in systems]
    content: Any
    if all(isinstance(c, str) for c in contents):
        content = "\n\n".join(c for c in contents if c)
    else:  # checked before: a string or a list of part dicts
        content = [p for c in contents for p in ([{"text": c}] if isinstance(c, str) else c)]
    rest = [m for m in messages if m.get("role") != "system"]
    return [{**systems[0], "content": content}, *rest]


def _check_message(i: int, message: Any) -> Sequence[Mapping[str, Any]] | None:
    """Check one message; its content parts, or None for string (or no) content."""
    where = f"messages[{i}]"
    if not isinstance(message, dict | Mapping):
        raise TypeError(f"{where}: expected a dict with 'role' and 'content', "
                        f"got {type(message).__name__}")  # fmt: skip
    role = message.get("role")
    if role not in ROLES:
        raise ValueError(f"{where}.role: expected one of {', '.join(ROLES)}, got {role!r}")
    content = message.get("content")
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if role != "assistant":
            raise ValueError(f"{where}.tool_calls: only assistant messages carry tool calls")
        if not _is_list(tool_calls) or not all(isinstance(c, Mapping) for c in tool_calls):
            raise TypeError(f"{where}.tool_calls: expected a list of tool call dicts")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"{where}.tool_call_id: a tool message needs the id of its call")
    if content is None:
        if role == "assistant" and tool_calls:
            return None
        raise ValueError(f"{where}.content: missing (a {role} message needs content)")
    if isinstance(content, str):
        return None
    if not _is_list(content) or not all(isinstance(p, Mapping) for p in content):
        raise TypeError(f"{where}.content: expected a string or a list of part dicts "
                        "such as {'text': ...} or {'image': url}")  # fmt: skip
    return content  # type: ignore[no-any-return]  # checked: a list of mappings


def check_tools(tools: Any) -> list[Mapping[str, Any]] | None:
    """Tools in OpenAI form pass through; a bare function dict is wrapped; names are required."""
    if tools is None:
        return None
    if not _is_list(tools):
        raise TypeError(f"tools: expected a list of tool definitions, got {type(tools).__name__}")
    wire: list[Mapping[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, Mapping):
            raise TypeError(f"tools[{i}]: expected a dict, got {type(tool).__name__}")
        if "function" not in tool and "name" in tool:
            tool = {"type": "function", "function": tool}
        function = tool.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not name:
            raise ValueError(f"tools[{i}].function.name: a tool needs a function name")
        schema = function.get("parameters") if isinstance(function, Mapping) else None
        if schema is not None and not isinstance(schema, Mapping):
            raise TypeError(f"tools[{i}].function.parameters: expected a JSON schema dict")
        wire.append(tool)
    return wire or None


def check_tool_choice(choice: Any, tools: list[Mapping[str, Any]] | None) -> Any:
    """``auto`` / ``none`` / ``required`` (a call of any tool, see ``_protocol.tool_forcing``) /
    a tool name / ``{"type": "function", "function": {"name": ...}}``."""
    if choice is None:
        return None
    names = [t["function"]["name"] for t in tools or ()]
    if isinstance(choice, str):
        if choice in ("auto", "none"):
            return choice
        if choice == "required":
            if not names:
                raise ValueError("tool_choice: 'required' needs tools")
            return choice
        if choice in names:
            return {"type": "function", "function": {"name": choice}}
        raise ValueError(
            "tool_choice: expected 'auto', 'none', 'required', the name of one of tools or "
            f"{{'type': 'function', 'function': {{'name': ...}}}}, got {choice!r}"
        )
    if not isinstance(choice, Mapping):
        raise TypeError(f"tool_choice: expected a string or a dict, got {type(choice).__name__}")
    function = choice.get("function")
    name = function.get("name") if isinstance(function, Mapping) else None
    if choice.get("type", "function") != "function" or not isinstance(name, str) or not name:
        raise ValueError("tool_choice: expected {'type': 'function', 'function': {'name': ...}}")
    if name not in names:
        raise ValueError(f"tool_choice: names {name!r}, which is not one of tools ({names})")
    return {"type": "function", "function": {"name": name}}


def check_parameters(parameters: dict[str, Any], *, streaming: bool) -> dict[str, Any]:
    """Check known parameters; returns a copy without ``None`` values and without ``stream``."""
    params = {k: v for k, v in parameters.items() if v is not None}
    if params.pop("stream", False) and not streaming:
        raise ValueError("stream: call generation.stream(...) for a streamed answer")
    for name in _POSITIVE_INTS:
        value = params.get(name)
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    _check_range(params, "temperature", lambda v: 0 <= v < 2, "[0, 2)")
    _check_range(params, "top_p", lambda v: 0 < v <= 1, "(0, 1]")
    top_k = params.get("top_k")
    if top_k is not None and (not _is_int(top_k) or top_k < 0):
        raise ValueError(f"top_k: expected a non-negative integer, got {top_k!r}")
    if "stop" in params and not _valid_stop(params["stop"]):
        raise TypeError(
            "stop: expected a string, a list of strings, or token ids (list[int] / "
            f"list[list[int]]), got {params['stop']!r}"
        )
    return params


_MEDIA = ("image", "video", "audio")
_MEDIA_TYPES = {"image_url": "image", "input_audio": "audio", "video_url": "video"}


def check_kind(profile: ModelProfile) -> None:
    """Generation needs a generation model (an embedding or synthesis model answers 400)."""
    if profile.kind != "chat":
        raise ValueError(
            f"model: {profile.model!r} is a {profile.kind} model, not a generation model"
        )


def check_media(profile: ModelProfile, messages: Sequence[Mapping[str, Any]]) -> None:
    """Image, video and audio parts go only to models whose profile takes them."""
    for i, message in enumerate(messages):
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            kind = _media_kind(part)
            if kind is None or getattr(profile, f"{kind}_inputs"):
                continue
            how = (
                "use a model that takes them (e.g. qwen3.5-plus, qwen-vl-max)"
                if profile.known
                else f"register_profile({profile.model!r}, endpoint='multimodal', "
                f"{kind}_inputs=True) if it takes them"
            )
            raise ValueError(
                f"messages[{i}].content: a {kind} part, which model {profile.model!r} does "
                f"not take (its profile); {how}"
            )


def _media_kind(part: Mapping[str, Any]) -> str | None:
    kind = part.get("type")
    if isinstance(kind, str) and kind in _MEDIA_TYPES:
        return _MEDIA_TYPES[kind]
    return next((k for k in _MEDIA if part.get(k) is not None), None)


def check_thinking(profile: ModelProfile, params: Mapping[str, Any], *, streaming: bool) -> bool:
    """The thinking rule (one place): returns whether the call thinks; raises for what the
    service refuses in thinking mode (PROTOCOL.md "Wave 2 facts"): ``enable_thinking=False``
    on a thinking-only model, a forced ``tool_choice``, JSON output, a ``thinking_budget``
    above the model's maximum, text format, and a stream without incremental output (models that
    answer thinking only as a stream)."""
    flag = params.get("enable_thinking")
    if flag is not None and not isinstance(flag, bool):
        raise TypeError(f"enable_thinking: expected a bool, got {type(flag).__name__}")
    if flag is False and profile.thinking == "always":
        raise ValueError(f"enable_thinking: model {profile.model!r} always thinks; thinking "
                         "cannot be switched off (the service: 'restricted to True')")  # fmt: skip
    if not profile.thinks(flag):
        return False
    why = (f"model {profile.model!r} always thinks" if profile.thinking == "always"
           else "thinking is on (enable_thinking or the model's default)")  # fmt: skip
    off = "" if profile.thinking == "always" else "; or pass enable_thinking=False"
    choice = params.get("tool_choice")
    if isinstance(choice, Mapping) or choice == "required":
        raise ValueError(f"tool_choice: a forced tool choice is refused in thinking mode "
                         f"({why}); use 'auto'{off}")  # fmt: skip
    fmt = params.get("response_format")
    if isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema"):
        raise ValueError(f"response_format: JSON output is refused in thinking mode ({why})"
                         f"{off}")  # fmt: skip
    budget, most = params.get("thinking_budget"), profile.max_thinking_budget
    if budget is not None and most is not None and budget > most:
        raise ValueError(f"thinking_budget: at most {most} for model {profile.model!r}, "
                         f"got {budget}")  # fmt: skip
    if params.get("result_format") == "text":
        raise ValueError(f"result_format: thinking mode answers in the message format ({why})")
    if (
        streaming
        and not profile.non_streaming_thinking
        and params.get("incremental_output") is False
    ):
        raise ValueError(f"incremental_output: must be True when streaming in thinking mode "
                         f"({why})")  # fmt: skip
    return True


def _check_range(
    params: dict[str, Any], name: str, ok: Callable[[float], bool], shown: str
) -> None:
    value = params.get(name)
    if value is not None and (not _is_number(value) or not ok(value)):
        raise ValueError(f"{name}: expected a number in {shown}, got {value!r}")


def _valid_stop(stop: Any) -> bool:
    if isinstance(stop, str):
        return True
    if not _is_list(stop):
        return False
    return (
        all(isinstance(s, str) for s in stop)
        or all(_is_int(s) for s in stop)
        or all(_is_list(s) and all(_is_int(t) for t in s) for s in stop)
    )
