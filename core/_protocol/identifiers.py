"""Model identifiers ``owner/name`` and ``owner/name:version`` (PROTOCOL.md "Prediction API")."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelRef", "parse_identifier", "parse_owner_name"]

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_IDENTIFIER = re.compile(rf"^(?P<owner>{_NAME})/(?P<name>{_NAME})(?::(?P<version>[A-Za-z0-9]+))?$")
_FORMAT = "expected 'owner/name' or 'owner/name:version'"


@dataclass(frozen=True)
class ModelRef:
    """A parsed identifier; ``version`` is None for ``owner/name`` (the model's latest)."""

    owner: str
    name: str
    version: str | None = None

    def __str__(self) -> str:
        base = f"{self.owner}/{self.name}"
        return f"{base}:{self.version}" if self.version else base


def parse_identifier(identifier: str, *, argument: str = "identifier") -> ModelRef:
    """Parse ``owner/name[:version]``; anything else raises ValueError naming ``argument``."""
    if not isinstance(identifier, str):
        raise TypeError(
            f"{argument}: expected a string 'owner/name[:version]', got {type(identifier).__name__}"
        )
    match = _IDENTIFIER.match(identifier.strip())
    if match is None:
        raise ValueError(f"{argument}: invalid model identifier {identifier!r}: {_FORMAT}")
    return ModelRef(match["owner"], match["name"], match["version"])


def parse_owner_name(value: str, *, argument: str) -> tuple[str, str]:
    """Parse ``owner/name`` (no version), e.g. a training ``destination``."""
    ref = parse_identifier(value, argument=argument)
    if ref.version is not None:
        raise ValueError(f"{argument}: expected 'owner/name' without a version, got {value!r}")
    return ref.owner, ref.name


def check_segment(value: str, *, argument: str) -> str:
    """Validate one path segment (owner, name, id, slug) before it goes into a URL."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise ValueError(f"{argument}: expected a non-empty name without '/', got {value!r}")
    # control characters, '?' and '#' would break or re-route the URL (httpx raises untyped)
    if not value.isprintable() or any(c in value for c in "?# "):
        raise ValueError(f"{argument}: unexpected character in {value!r}")
    return value
