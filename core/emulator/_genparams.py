"""Validation of generation requests, with the real service's codes and messages.

Choices (documented in ``generation``): the model must be in the profile table
(``dashscope_core.profiles``, registered profiles included), else 404 ``Model.NotExist``
(PROTOCOL.md's table), and be served on the endpoint called, else the service's "url error";
``input.messages`` present but empty answers the recorded ``parameter-error-nosse`` reply;
ranges follow the public parameter docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashscope_core.emulator._genrules import check_model, check_rules
from dashscope_core.emulator.routing import ApiError
from dashscope_core.profiles import ModelProfile

__all__ = ["GenParams", "parse_generation"]

ROLES = ("system", "user", "assistant", "tool")
_EMPTY_MESSAGES = "Role must be user or assistant and Content length must be greater than 0"


def bad(message: str, code: str = "InvalidParameter") -> ApiError:
    """A 400 error."""
    return ApiError(400, code, message)


@dataclass(frozen=True)
class GenParams:
    """A validated generation request."""

    model: str
    profile: ModelProfile
    messages: list[dict[str, Any]]
    parameters: dict[str, Any]
    result_format: str
    explicit_format: bool
    incremental: bool
    max_tokens: int | None
    n: int
    seed: int | None
    tools: list[dict[str, Any]]
    tool_choice: Any
    thinking: bool
    response_format: dict[str, Any] | None


def parse_generation(
    body: Any, *, endpoint: str, streaming: bool, scripted: bool = False
) -> GenParams:
    """Validate ``body`` sent to the ``endpoint`` ("text" / "multimodal") route; raises
    ``ApiError`` like the real service. A scripted reply skips the model-table check."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad('Required parameter "model" missing from request.')
    profile = check_model(model, kind="chat", endpoint=endpoint, scripted=scripted)
    inp = body.get("input")
    if not isinstance(inp, dict):
        raise bad('Required parameter "input" missing from request.', "BadRequest.EmptyInput")
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise bad('"parameters" must be a JSON object.')
    messages = _messages(inp)
    tools = _tools(params.get("tools"))
    fmt = params.get("result_format")
    if fmt is not None and fmt not in ("text", "message"):
        raise bad("result_format must be 'text' or 'message'.")
    thinking = profile.thinks(params.get("enable_thinking"))
    _check_sampling(params)
    result = GenParams(
        model=model,
        profile=profile,
        messages=messages,
        parameters=params,
        result_format=fmt or ("message" if tools or thinking else "text"),
        explicit_format=fmt is not None,
        incremental=params.get("incremental_output") is True,
        max_tokens=_max_tokens(params),
        n=_int_range(params, "n", 1, 4, default=1),
        seed=_seed(params),
        tools=tools,
        tool_choice=_tool_choice(params.get("tool_choice"), tools),
        thinking=thinking,
        response_format=_response_format(params.get("response_format")),
    )
    check_rules(result, streaming=streaming)  # thinking, JSON mode, tool order (_genrules)
    return result


def _messages(inp: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" in inp:
        messages = inp["messages"]
        if not isinstance(messages, list) or not messages:
            raise bad(_EMPTY_MESSAGES)
        for message in messages:
            _check_message(message)
        return list(messages)
    prompt = inp.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise bad('Either "input.messages" or "input.prompt" must be provided.')
    converted: list[dict[str, Any]] = []
    for turn in inp.get("history") or []:
        if isinstance(turn, dict):
            converted.append({"role": "user", "content": str(turn.get("user", ""))})
            converted.append({"role": "assistant", "content": str(turn.get("bot", ""))})
    return [*converted, {"role": "user", "content": prompt}]


def _check_message(message: Any) -> None:
    if not isinstance(message, dict):
        raise bad("Each message must be a JSON object with a role and content.")
    role = message.get("role")
    if role not in ROLES:
        raise bad(f"Role must be in [system, user, assistant, tool], got {role!r}.")
    content = message.get("content")
    if role == "assistant" and message.get("tool_calls"):
        return
    if isinstance(content, list):
        if not content or not all(isinstance(p, dict) for p in content):
            raise bad("Content parts must be a non-empty list of objects.")
        return
    if not isinstance(content, str) or (role == "user" and not content):
        raise bad(_EMPTY_MESSAGES)


def _int_range(params: dict[str, Any], name: str, low: int, high: int, *, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(f"Range of {name} should be [{low}, {high}]")
    return value


def _max_tokens(params: dict[str, Any]) -> int | None:
    for name in ("max_tokens", "max_completion_tokens"):
        if params.get(name) is not None:
            return _int_range(params, name, 1, 65536, default=1)
    return None


def _seed(params: dict[str, Any]) -> int | None:
    if params.get("seed") is None:
        return None
    return _int_range(params, "seed", 0, 2**63 - 1, default=0)


def _check_sampling(params: dict[str, Any]) -> None:
    checks = (
        ("temperature", 0.0, 2.0, "[0.0, 2.0)", False),
        ("top_p", 0.0, 1.0, "(0.0, 1.0]", True),
        ("presence_penalty", -2.0, 2.0, "[-2.0, 2.0]", True),
    )
    for name, low, high, shown, high_ok in checks:
        value = params.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"Range of {name} should be {shown}")
        too_high = value > high if high_ok else value >= high
        too_low = value <= low if name == "top_p" else value < low
        if too_high or too_low:
            raise bad(f"Range of {name} should be {shown}")
    top_k = params.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise bad("top_k should be a non-negative integer")


def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise bad("tools must be a list of function definitions.")
    for tool in tools:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad('Each tool must be {"type": "function", "function": {"name": ...}}.')
        if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
            raise bad(f"The parameters of tool {fn['name']!r} must be a JSON schema object.")
    return list(tools)


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> Any:
    if choice is None or choice in ("auto", "none"):
        return choice or "auto"
    if isinstance(choice, str) and choice == "required":
        return choice
    name = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if not isinstance(name, str):
        raise bad('tool_choice must be "auto", "none" or {"type": "function", ...}.')
    if name not in {t["function"]["name"] for t in tools}:
        raise bad(f"tool_choice names {name!r}, which is not in tools.")
    return {"type": "function", "function": {"name": name}}


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return dict(value)
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise bad("response_format.json_schema must hold a name and a schema object.")
        return dict(value)
    raise bad("response_format.type must be 'text', 'json_object' or 'json_schema'.")
