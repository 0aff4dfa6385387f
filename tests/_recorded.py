"""The recorded production exchanges under tests/fixtures (a copy of shared/fixtures).

Some files were saved with a UTF-8 byte-order mark; it is not wire data, so every reader here
drops it (common.md: strip a leading BOM when loading).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXTRA", "RECORDED", "recording_bytes", "recording_text"]

RECORDED = Path(__file__).resolve().parent / "fixtures" / "recorded"
EXTRA = RECORDED.parent / "recorded-extra"
"""Exchanges recorded elsewhere (cnblogs' SDK captures) that shared/ does not hold."""
_BOM = b"\xef\xbb\xbf"


def recording_bytes(name: str, folder: Path = RECORDED) -> bytes:
    """The bytes of recorded file ``name`` (e.g. ``x-nosse.response.body.txt``), BOM dropped."""
    return (folder / name).read_bytes().removeprefix(_BOM)


def recording_text(name: str, folder: Path = RECORDED) -> str:
    """The text of recorded file ``name``, BOM dropped, newlines read as ``\\n``."""
    return (folder / name).read_text(encoding="utf-8-sig")
