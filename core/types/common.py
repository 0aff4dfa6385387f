"""The base of the wire models: wire field names, unknown fields kept, minimal bodies parse."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["ErrorBody", "WireModel"]


class WireModel(BaseModel):
    """Base of every wire model: ``extra="allow"`` keeps fields this library does not know."""

    model_config = ConfigDict(extra="allow")


class ErrorBody(WireModel):
    """A DashScope error body ``{"code", "message", "request_id"}``."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
