"""``with_structured_output`` for ChatDashScope: json_schema (default), function_calling, json_mode.

Default ``json_schema``: DashScope's ``response_format={"type": "json_schema", ...}`` constrains
the answer itself, needs no tool call and is parsed from the text. ``function_calling`` forces
the schema's tool by name; ``json_mode`` sends ``{"type": "json_object"}`` (the prompt should ask
for JSON). Thinking mode refuses JSON output and forced tool choices (PROTOCOL.md), so structured
output turns thinking off (``enable_thinking=False``) where the model allows it; a model that
always thinks (QwQ, ``*-thinking``) answers through a tool call asked for with ``"any"``, which
ChatDashScope sends as ``auto`` plus an instruction in thinking mode.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from dashscope_core import get_profile

if TYPE_CHECKING:
    from langchain_dashscope_ext.chat_models import ChatDashScope

__all__ = ["structured_output_runnable"]

_METHODS = ("function_calling", "json_mode", "json_schema")


def _is_pydantic(schema: Any) -> bool:
    return isinstance(schema, type) and is_basemodel_subclass(schema)


def _parser(schema: Any) -> Runnable[Any, Any]:
    if _is_pydantic(schema):
        return PydanticOutputParser(pydantic_object=schema)
    return JsonOutputParser()


def _response_format(schema: Any, strict: bool | None) -> dict[str, Any]:
    function = convert_to_openai_tool(schema)["function"]
    spec: dict[str, Any] = {"name": function["name"], "schema": function.get("parameters", {})}
    if function.get("description"):
        spec["description"] = function["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def _bound(llm: ChatDashScope, schema: Any, method: str, strict: bool | None) -> tuple[Any, Any]:
    ls_kwargs: dict[str, Any] = {"method": method}
    if strict is not None:
        ls_kwargs["strict"] = strict
    # langchain-core reads ["schema"] unconditionally (None is skipped as not convertible)
    ls_format: dict[str, Any] = {"kwargs": ls_kwargs, "schema": schema}
    if method == "function_calling":
        name = convert_to_openai_tool(schema)["function"]["name"]
        choice = "any" if get_profile(llm.model).thinking == "always" else name
        bound = llm.bind_tools([schema], tool_choice=choice, strict=strict,
                               ls_structured_output_format=ls_format)  # fmt: skip
        parser: Any = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if _is_pydantic(schema)
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
        return bound, parser
    if method == "json_mode":
        fmt = {"type": "json_object"}
        return llm.bind(response_format=fmt, ls_structured_output_format=ls_format), _parser(schema)
    fmt = _response_format(schema, strict)
    return llm.bind(response_format=fmt, ls_structured_output_format=ls_format), _parser(schema)


def structured_output_runnable(
    llm: ChatDashScope, schema: Any, method: str, include_raw: bool, strict: bool | None
) -> Runnable[LanguageModelInput, Any]:
    """The runnable ``with_structured_output`` returns; ``llm`` itself is never modified."""
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {_METHODS}, got {method!r}")
    if schema is None and method != "json_mode":
        raise ValueError(f"schema: required for method={method!r}")
    if method == "json_mode" and strict is not None:
        raise ValueError("strict: not supported with method='json_mode'")
    profile = get_profile(llm.model)
    if profile.thinking == "always":
        if schema is None:
            raise ValueError(f"schema: model {llm.model!r} always thinks, so structured output "
                             "goes through a tool call, which needs a schema")  # fmt: skip
        method = "function_calling"
    elif profile.thinks(llm._default_params.get("enable_thinking")):
        llm = llm.model_copy(update={"enable_thinking": False})
    bound, parser = _bound(llm, schema, method, strict)
    if not include_raw:
        return bound | parser  # type: ignore[no-any-return]  # RunnableSequence of Any
    assign = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    none = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | assign.with_fallbacks([none], exception_key="parsing_error")
