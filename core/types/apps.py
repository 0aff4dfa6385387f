"""Wire models of Bailian application completion (PROTOCOL.md "Application completion").

Field names are the JSON names verbatim; every field has a default so minimal bodies and stream
frames parse. ``finish_reason`` is the string ``"null"`` in unfinished stream frames (recorded
``application-single-generation-text-sse``) and is normalised to ``None``; ``thoughts`` and
``doc_references`` may be ``null`` on the wire and become empty lists.
"""

from __future__ import annotations

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
]


def _null_to_none(value: Any) -> Any:
    return None if value == "null" else value


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


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


class DocReference(WireModel):
    """A knowledge-base passage the answer cites; ``index_id`` matches ``<ref>[n]</ref>``."""

    index_id: str | None = None
    title: str | None = None
    doc_id: str | None = None
    doc_name: str | None = None
    text: str | None = None
    images: list[str] = Field(default_factory=list)
    page_number: list[int] | None = None

    _images = field_validator("images", mode="before")(_none_to_list)


class AppOutput(WireModel):
    """``output`` of an app answer (or, in a stream chunk, of one delta)."""

    text: str = ""
    finish_reason: str | None = None
    session_id: str | None = None
    thoughts: list[Thought] = Field(default_factory=list)
    doc_references: list[DocReference] = Field(default_factory=list)

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

    @property
    def text(self) -> str:
        """The answer text."""
        return self.output.text

    @property
    def session_id(self) -> str | None:
        """The server-side session this answer belongs to."""
        return self.output.session_id


class AppChunk(AppResponse):
    """One streamed delta: ``output.text`` is new text only; ``thoughts`` are new steps only.

    The final chunk has ``finish_reason`` set and carries the complete ``doc_references``;
    ``usage`` is what the frame reported (cumulative so far, as on the wire).
    """

    @property
    def is_final(self) -> bool:
        """Whether this chunk ends the answer."""
        return self.output.finish_reason is not None
