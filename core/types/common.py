"""The base of the wire models: wire field names, unknown fields kept, minimal bodies parse."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticUseDefault

__all__ = ["ErrorBody", "ListPage", "WireModel", "null_means_default"]

T = TypeVar("T")


class WireModel(BaseModel):
    """Base of every wire model: ``extra="allow"`` keeps fields this library does not know."""

    model_config = ConfigDict(extra="allow")


def _use_default(value: Any) -> Any:
    if value is None:
        raise PydanticUseDefault
    return value


def null_means_default(*fields: str) -> Any:
    """A before-validator for ``fields``: a JSON ``null`` gets the field's default, as absence."""
    return field_validator(*fields, mode="before")(_use_default)


class ErrorBody(WireModel):
    """A DashScope error body ``{"code", "message", "request_id"}``."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class ListPage(WireModel, Generic[T]):
    """One page of an OpenAI-style list: ``data`` (``"data": null`` reads as empty, as the
    recorded ``list-batches-empty-compatible-nosse`` answers), ``has_more`` and the ids of
    the first and last items (pass ``last_id`` as ``after=`` for the next page)."""

    object: str | None = None
    data: Annotated[list[T], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False

    _nulls = null_means_default("has_more")

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]  # iterate items, not fields
        return iter(self.data)

    def __getitem__(self, index: int) -> T:
        return self.data[index]
