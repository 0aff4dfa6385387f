"""Wire models of Bailian application completion (PROTOCOL.md "Application completion").

Field names are the JSON names verbatim; every field has a default so minimal bodies and stream
frames parse. ``finish_reason`` is the string ``"null"`` in unfinished stream frames (recorded
``application-single-generation-text-sse``) and is normalised to ``None``; ``thoughts``,
``doc_references``, ``usage`` and token counts may be ``null`` (or ``usage`` may be ``{}``, as
workflow apps answer) and become empty values. Workflow apps streaming with ``flow_stream_mode``
``message_format`` / ``message_format_plus`` send ``output.workflow_message`` frames without
``text`` (Model Studio "Invoke a workflow application" examples).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from dashscope_core.types.common import WireModel

__all__ = [
    "AppChunk",
    "AppOutput",
    "AppResponse",
    "AppUsage",
    "DocReference",
    "ModelUsage",
    "Thought",
    "WorkflowMessage",
    "WorkflowMessageContent",
]


def _null_to_none(value: Any) -> Any:
    return None if value == "null" else value


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_dict(value: Any) -> Any:
    return {} if value is None else value


def _none_to_zero(value: Any) -> Any:
    return 0 if value is None else value


def _to_text(value: Any) -> Any:
    # thought payloads are JSON strings on the wire; a server that sends the object itself
    # (or a number) must not make the whole answer unparsable
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _int_to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Thought(WireModel):
    """One step of the app's work: a retrieval, a plugin/API call, a memory lookup, reasoning."""

    thought: str | None = None
    action_type: str | None = None
    """``agentRag``, ``api``, ``reasoning`` ... (recorded ``application-*-nosse``)."""
    action_name: str | None = None
    action: str | None = None
    action_input_stream: str | None = None
    action_input: Any = None
    arguments: str | None = None
    observation: str | None = None
    """The step's result; for retrievals a JSON string listing the retrieved passages."""
    response: str | None = None

    _texts = field_validator(
        "thought", "action_input_stream", "arguments", "observation", "response", mode="before"
    )(_to_text)


class DocReference(WireModel):
    """A knowledge-base passage the answer cites; ``index_id`` matches ``<ref>[n]</ref>``."""

    index_id: str | None = None
    title: str | None = None
    doc_id: str | None = None
    doc_name: str | None = None
    text: str | None = None
    images: list[str] = Field(default_factory=list)
    page_number: list[int] | None = None
    doc_url: str | None = None
    biz_id: str | None = None

    _images = field_validator("images", mode="before")(_none_to_list)
    _ids = field_validator("index_id", "doc_id", "biz_id", mode="before")(_int_to_str)


class WorkflowMessageContent(WireModel):
    """``workflow_message.message``: one piece of a node's output (incremental)."""

    role: str | None = None
    content: str = ""

    @field_validator("content", mode="before")
    @classmethod
    def _content(cls, value: Any) -> Any:
        return "" if value is None else _to_text(value)


class WorkflowMessage(WireModel):
    """A workflow node's progress (``flow_stream_mode`` ``message_format[_plus]`` streams)."""

    node_id: str | None = None
    node_name: str | None = None
    node_type: str | None = None
    """``Start``, ``LLM``, ``End``, ... (the node kinds of the app's canvas)."""
    node_status: str | None = None
    """``executing`` or ``success``."""
    node_is_completed: bool | None = None
    node_msg_seq_id: int | None = None
    message: WorkflowMessageContent = Field(default_factory=WorkflowMessageContent)

    _message = field_validator("message", mode="before")(_none_to_dict)


class AppOutput(WireModel):
    """``output`` of an app answer (or, in a stream chunk, of one delta)."""

    text: str = ""
    finish_reason: str | None = None
    session_id: str | None = None
    thoughts: list[Thought] = Field(default_factory=list)
    doc_references: list[DocReference] = Field(default_factory=list)
    workflow_message: WorkflowMessage | None = None
    """A workflow node's output piece (``flow_stream_mode`` ``message_format[_plus]``)."""

    _finish = field_validator("finish_reason", mode="before")(_null_to_none)
    _lists = field_validator("thoughts", "doc_references", mode="before")(_none_to_list)

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return "" if value is None else value


class ModelUsage(WireModel):
    """Tokens one model behind the app used."""

    model_id: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    _tokens = field_validator("input_tokens", "output_tokens", mode="before")(_none_to_zero)


class AppUsage(WireModel):
    """``usage``: one entry per model the app called."""

    models: list[ModelUsage] = Field(default_factory=list)

    _models = field_validator("models", mode="before")(_none_to_list)

    @property
    def input_tokens(self) -> int:
        """Input tokens summed over ``models``."""
        return sum(m.input_tokens for m in self.models)

    @property
    def output_tokens(self) -> int:
        """Output tokens summed over ``models``."""
        return sum(m.output_tokens for m in self.models)

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens over ``models``."""
        return self.input_tokens + self.output_tokens


class AppResponse(WireModel):
    """A whole app answer: ``output``, ``usage`` and ``request_id``."""

    output: AppOutput = Field(default_factory=AppOutput)
    usage: AppUsage = Field(default_factory=AppUsage)
    request_id: str | None = None

    _parts = field_validator("output", "usage", mode="before")(_none_to_dict)

    @property
    def text(self) -> str:
        """The answer text."""
        return self.output.text

    @property
    def session_id(self) -> str | None:
        """The server-side session this answer belongs to."""
        return self.output.session_id


class AppChunk(AppResponse):
    """One streamed piece: ``output.text`` is new text only (a delta).

    ``output.thoughts`` is the app's steps so far, merged from the wire's fragments or
    snapshots; present when they changed and always on the final chunk. The final chunk has
    ``finish_reason`` set and the complete ``doc_references``; ``workflow_message`` is the
    frame's node output piece; ``usage`` is what the frame reported (cumulative so far).
    """

    @property
    def is_final(self) -> bool:
        """Whether this chunk ends the answer."""
        return self.output.finish_reason is not None
