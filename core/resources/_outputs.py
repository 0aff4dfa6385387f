"""File URLs in prediction outputs, wrapped as ``FileOutput``: fetched only when read.

A ``FileOutput`` is a ``str`` (the URL), so printing, JSON-dumping and comparing it behave as
before, except that iterating it yields the file's bytes (as replicate-python's ``FileOutput``).
Downloads go through the client (``_send`` / ``_download`` with ``download=True``): redirects
are followed, the key and the project's headers go only to the configured API host (never to a
storage host, at any hop), the body is the file even when it looks like an error body, and a
body cut short raises. Streaming downloads (``iter_bytes`` / ``aiter_bytes``) are single
attempts, never replayed. ``data:`` URIs are decoded locally.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

from dashscope_core._protocol.request import RequestSpec

__all__ = ["FileOutput", "wrap_outputs"]

_URL_PREFIXES = ("http://", "https://", "data:")


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _decode_data_uri(uri: str) -> bytes:
    head, _, payload = uri.partition(",")
    if head.endswith(";base64"):
        return base64.b64decode(payload)
    return unquote_to_bytes(payload)


class FileOutput(str):
    """A file URL from a prediction output; ``read()`` / ``aread()`` download it on demand."""

    _client: Any

    def __new__(cls, url: str, client: Any) -> FileOutput:
        """Wrap ``url``; ``client`` (a ``DashScope`` or ``AsyncDashScope``) does the download."""
        obj = super().__new__(cls, url)
        obj._client = client
        return obj

    @property
    def url(self) -> str:
        """The URL as a plain string."""
        return str.__str__(self)

    def _spec(self) -> RequestSpec:
        return RequestSpec("GET", self.url, headers={"Accept": "*/*"}, download=True)

    def read(self) -> bytes:
        """Download the whole file (sync client)."""
        if self.url.startswith("data:"):
            return _decode_data_uri(self.url)
        return bytes(self._client._send(self._spec()).content)

    async def aread(self) -> bytes:
        """Download the whole file (async client)."""
        if self.url.startswith("data:"):
            return _decode_data_uri(self.url)
        return bytes((await self._client._send(self._spec())).content)

    def iter_bytes(self) -> Iterator[bytes]:
        """Stream the file in chunks (sync client): large files never sit in memory whole."""
        if self.url.startswith("data:"):
            return iter([_decode_data_uri(self.url)])
        download: Iterator[bytes] = self._client._download(self._spec())
        return download

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Stream the file in chunks (async client)."""
        if self.url.startswith("data:"):
            return _one(_decode_data_uri(self.url))
        download: AsyncIterator[bytes] = self._client._download(self._spec())
        return download

    def __iter__(self) -> Iterator[bytes]:  # type: ignore[override]  # bytes, as replicate's
        """Iterating a ``FileOutput`` streams its bytes (as replicate-python's does)."""
        return self.iter_bytes()

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for chunk in output`` streams its bytes (async client)."""
        return self.aiter_bytes()

    def __repr__(self) -> str:
        return f"FileOutput({self.url!r})"


def wrap_outputs(output: Any, client: Any) -> Any:
    """Wrap URL strings in ``output`` (top level, lists, dict values) as ``FileOutput``s."""
    if isinstance(output, str):
        return FileOutput(output, client) if output.startswith(_URL_PREFIXES) else output
    if isinstance(output, list):
        return [wrap_outputs(item, client) for item in output]
    if isinstance(output, dict):
        return {key: wrap_outputs(value, client) for key, value in output.items()}
    return output
