"""Checks of message content parts: context-cache markers and media (pure, before any request).

Rules of this module (PROTOCOL.md "Context cache, search, tokenizer, media"; Model Studio
"Context cache", "Visual understanding", "Audio understanding"):
- ``cache_control`` is a sibling key of the part it marks, ``{"type": "ephemeral"}``; at most
  ``MAX_CACHE_MARKERS`` (4) per request.
- A video is a URL / ``data:`` URI string, or a list of at least ``MIN_FRAMES`` frame URLs;
  ``fps`` is in [0.1, 10]. Audio and images are a URL or ``data:`` URI string.
- A ``data:`` URI is at most ``MAX_DATA_URI_BYTES`` (10 MB).
- Local files (a ``pathlib.Path``, ``bytes``, or a ``file://`` URI) are allowed here; the client
  uploads them (``_uploads``) and sends ``oss://`` URLs.
- Errors name the part: ``messages[1].content[0].video``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = [
    "MAX_CACHE_MARKERS",
    "MAX_DATA_URI_BYTES",
    "MEDIA_KEYS",
    "MIN_FRAMES",
    "PartsSummary",
    "check_parts",
    "is_local",
]

MAX_CACHE_MARKERS = 4
MAX_DATA_URI_BYTES = 10 * 1024 * 1024
"""DashScope's limit on an inline ``data:`` URI (PROTOCOL.md "media"); larger local media
are uploaded (temporary ``oss://`` storage) instead."""
MIN_FRAMES = 4
MEDIA_KEYS = ("image", "video", "audio")
_FPS = (0.1, 10.0)


@dataclass
class PartsSummary:
    """What the parts of one request hold."""

    media: bool = False
    markers: int = 0
    local: bool = False
    oss: bool = False


def is_local(value: Any) -> bool:
    """Whether a media value names a local file the client must upload first."""
    if isinstance(value, (bytes, bytearray, memoryview, PurePath)):
        return True
    return isinstance(value, str) and value.startswith("file://")


def check_parts(where: str, parts: Sequence[Mapping[str, Any]], summary: PartsSummary) -> None:
    """Check the parts of one message (``where`` = ``messages[i]``), adding to ``summary``."""
    for j, part in enumerate(parts):
        here = f"{where}.content[{j}]"
        marker = part.get("cache_control")
        if marker is not None:
            _check_marker(here, marker, summary)
        for key in MEDIA_KEYS:
            if key in part:
                summary.media = True
                _check_media(f"{here}.{key}", key, part[key], summary)
        if "fps" in part:
            _check_fps(f"{here}.fps", part["fps"])


def _check_marker(here: str, marker: Any, summary: PartsSummary) -> None:
    if not isinstance(marker, Mapping) or marker.get("type") != "ephemeral":
        raise ValueError(f"{here}.cache_control: expected {{'type': 'ephemeral'}}, got {marker!r}")
    summary.markers += 1
    if summary.markers > MAX_CACHE_MARKERS:
        raise ValueError(
            f"{here}.cache_control: at most {MAX_CACHE_MARKERS} cache_control markers per "
            f"request (this is marker {summary.markers})"
        )


def _check_media(here: str, key: str, value: Any, summary: PartsSummary) -> None:
    if key == "video" and isinstance(value, (list, tuple)):
        if len(value) < MIN_FRAMES:
            raise ValueError(f"{here}: a video given as frames needs at least {MIN_FRAMES} "
                             f"images, got {len(value)}")  # fmt: skip
        for n, frame in enumerate(value):
            _check_one(f"{here}[{n}]", frame, summary)
        return
    _check_one(here, value, summary)


def _check_one(here: str, value: Any, summary: PartsSummary) -> None:
    if is_local(value):
        summary.local = True
        return
    if not isinstance(value, str) or not value:
        raise TypeError(f"{here}: expected a URL, a data: URI, a file path or bytes, "
                        f"got {type(value).__name__}")  # fmt: skip
    if value.startswith("data:") and len(value) > MAX_DATA_URI_BYTES:
        raise ValueError(f"{here}: a data: URI is at most 10 MB ({len(value):,} bytes); pass "
                         "the file as a path or bytes and it is uploaded instead")  # fmt: skip
    if value.startswith("oss://"):
        summary.oss = True


def _check_fps(here: str, fps: Any) -> None:
    low, high = _FPS
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not low <= fps <= high:
        raise ValueError(f"{here}: expected a number of frames per second in [{low}, {high}], "
                         f"got {fps!r}")  # fmt: skip
