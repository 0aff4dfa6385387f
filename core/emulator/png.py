"""Small, valid PNG images made with zlib + struct (no imaging library).

The colour derives from a name (a prompt hash), so the same prompt always gives the same image.
"""

from __future__ import annotations

import hashlib
import struct
import zlib

__all__ = ["PNG_SIGNATURE", "colour_for", "make_png", "png_for_name"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DEFAULT_SIZE = 64


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def colour_for(name: str) -> tuple[int, int, int]:
    """An RGB colour derived from ``name``."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return digest[0], digest[1], digest[2]


def make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """An 8-bit RGB PNG of ``width`` x ``height``: ``rgb`` fading to black along the rows."""
    if width < 1 or height < 1:
        raise ValueError("width/height: expected positive sizes")
    rows = bytearray()
    for y in range(height):
        shade = 1.0 - 0.5 * y / max(height - 1, 1)
        pixel = bytes(int(c * shade) for c in rgb)
        rows += b"\x00" + pixel * width  # filter type 0 (None) per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _chunk(b"IEND", b"")
    )


def png_for_name(name: str, size: int = DEFAULT_SIZE) -> bytes:
    """The deterministic image served for file ``name``."""
    return make_png(size, size, colour_for(name))
