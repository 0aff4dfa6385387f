"""Wire models of text and multimodal generation (PROTOCOL.md "Text generation").

Field names are the JSON names verbatim; every field has a default so minimal bodies and stream
fragments parse. ``finish_reason`` is the string ``"null"`` in unfinished stream frames
(recorded ``single-generation-*-sse``); it is normalised to ``None``. These models sit on the
per-frame path, so they carry no Python validators for ``null`` fields: a body that fails on a
null is parsed again without its nulls (``_protocol.generation_stream.parse_generation``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from dashscope_core.types.common import WireModel

__all__ = [
    "Choice",
    "FunctionCall",
    "GenerationOutput",
    "GenerationResponse",
    "GenerationUsage",
    "Message",
    "OutputTokensDetails",
    "PromptTokensDetails",
    "SearchInfo",
    "SearchResult",
    "ToolCall",
    "content_text",
]


def _null_to_none(value: Any) -> Any:
    return None if value == "null" else value


# ``"null"`` (unfinished stream frames) read as None; one plain function call per frame
FinishReason = Annotated[str | None, BeforeValidator(_null_to_none)]


def content_text(content: str | list[dict[str, Any]] | None) -> str:
    """The text of a message ``content``: the string, or the joined ``text`` parts of a list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if isinstance(p.get("text"), str))


class FunctionCall(WireModel):
    """The function a tool call invokes; ``arguments`` is a JSON string (or a piece of one)."""

    name: str | None = None
    arguments: str = ""


class ToolCall(WireModel):
    """One tool call, or while streaming one fragment of it (merged by ``index``)."""

    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: FunctionCall = Field(default_factory=FunctionCall)


class Message(WireModel):
    """An assistant message: text (or multimodal ``[{"text": ...}]`` parts) and tool calls."""

    role: str | None = None
    content: str | list[dict[str, Any]] | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(WireModel):
    """One candidate answer (``result_format="message"``)."""

    index: int | None = None
    finish_reason: FinishReason = None
    message: Message = Field(default_factory=Message)
    logprobs: dict[str, Any] | None = None


class SearchResult(WireModel):
    """One web page a searching call read; ``[ref_<index>]`` markers in the text cite it."""

    index: int | None = None
    title: str | None = None
    url: str | None = None
    site_name: str | None = None
    icon: str | None = None


class SearchInfo(WireModel):
    """``output.search_info`` (``enable_search`` with ``search_options.enable_source``)."""

    search_results: list[SearchResult] = Field(default_factory=list)


class GenerationOutput(WireModel):
    """``output``: ``text``/``finish_reason`` (text format) or ``choices`` (message format)."""

    text: str | None = None
    finish_reason: FinishReason = None
    choices: list[Choice] | None = None
    search_info: SearchInfo | None = None


class PromptTokensDetails(WireModel):
    """``usage.prompt_tokens_details``: cache reads, and explicit-cache creations (PROTOCOL.md
    "Context cache": ``cache_creation {ephemeral_5m_input_tokens}``, ``cache_type``)."""

    cached_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_creation: dict[str, Any] | None = None
    cache_type: str | None = None


class OutputTokensDetails(WireModel):
    """``usage.output_tokens_details``."""

    reasoning_tokens: int | None = None


class GenerationUsage(WireModel):
    """Token usage; cumulative in every stream frame. ``image_tokens`` etc. arrive as extras."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None
    plugins: dict[str, Any] | None = None
    """``{"search": {"count", "strategy"}}`` when the call searched the web."""


class GenerationResponse(WireModel):
    """A generation answer, or one streamed delta of it."""

    request_id: str | None = None
    output: GenerationOutput = Field(default_factory=GenerationOutput)
    usage: GenerationUsage = Field(default_factory=GenerationUsage)
    status_code: int | None = None
    """HTTP status of the answer (not a wire field; set by the client)."""

    @property
    def message(self) -> Message | None:
        """The first choice's message, or None (text format)."""
        choices = self.output.choices
        return choices[0].message if choices else None

    @property
    def text(self) -> str:
        """The first choice's text (list content joined), else ``output.text``, else ""."""
        choices = self.output.choices
        if choices:
            return content_text(choices[0].message.content)
        return self.output.text or ""

    @property
    def finish_reason(self) -> str | None:
        """The first choice's finish reason, else ``output.finish_reason``."""
        choices = self.output.choices
        if choices:
            return choices[0].finish_reason
        return self.output.finish_reason

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The first choice's tool calls (empty when there are none)."""
        choices = self.output.choices
        if choices:
            return choices[0].message.tool_calls or []
        return []
