"""The clients being measured, one small class each, all doing the same generation call.

A contender implements any of ``call()`` (one sync non-streaming call), ``stream()`` (one sync
stream read to the end, returning how many chunks it saw) and ``acall()`` (one async call);
the runner measures what is there and prints "-" for the rest. To add a row (ChatTongyi,
langchain-community's ChatDashScope, llama-index-llms-dashscope, ...), write a class here and
append it to ``CONTENDERS``; such packages are installed only in a separate bench venv, never as
our dependencies, so import them inside ``__init__`` and let ``ImportError`` skip the row.
"""

from __future__ import annotations

import json
import os
from typing import Any

MODEL = "qwen-turbo"
MESSAGES = [{"role": "user", "content": "Say hello."}]
PATH = "/services/aigc/text-generation/generation"
API_KEY = "sk-bench"


class Contender:
    """Base: ``name`` plus whichever of call / stream / acall the client supports."""

    name = "?"
    async_divisor = 1
    """Run fewer async calls (total // this) for a contender known to be slow at 64 in flight."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def close(self) -> None:
        """Release sync resources."""

    async def aclose(self) -> None:
        """Release async resources (called on the loop that ran ``acall``)."""


def _body(stream: bool) -> bytes:
    parameters: dict[str, Any] = {"result_format": "message"}
    if stream:
        parameters["incremental_output"] = True
    body = {"model": MODEL, "input": {"messages": MESSAGES}, "parameters": parameters}
    return json.dumps(body, separators=(",", ":")).encode()


def _headers(stream: bool) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    if stream:
        headers["X-DashScope-SSE"] = "enable"
    return headers


class RawHttpx(Contender):
    """Hand-written httpx: build the body, post, ``json.loads``; SSE via ``iter_lines``."""

    name = "raw httpx"
    async_divisor = 6  # httpx's own pool manages a few hundred calls/s at 64 in flight

    def __init__(self, base_url: str) -> None:
        import httpx

        super().__init__(base_url)
        self.url = base_url + PATH
        self.client = httpx.Client()
        self.aclient: Any = None

    def call(self) -> None:
        response = self.client.post(self.url, content=_body(False), headers=_headers(False))
        json.loads(response.content)

    def stream(self) -> int:
        chunks = 0
        with self.client.stream(
            "POST", self.url, content=_body(True), headers=_headers(True)
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    json.loads(line[5:])
                    chunks += 1
        return chunks

    async def acall(self) -> None:
        import httpx

        if self.aclient is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=128)
            self.aclient = httpx.AsyncClient(limits=limits)
        response = await self.aclient.post(self.url, content=_body(False), headers=_headers(False))
        json.loads(response.content)

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        if self.aclient is not None:
            await self.aclient.aclose()
            self.aclient = None


class RawAiohttp(Contender):
    """Hand-written aiohttp: one ``ClientSession``, post, ``json.loads``."""

    name = "raw aiohttp"

    def __init__(self, base_url: str) -> None:
        import aiohttp  # noqa: F401  (skip the row when missing)

        super().__init__(base_url)
        self.url = base_url + PATH
        self.session: Any = None

    async def acall(self) -> None:
        import aiohttp

        if self.session is None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
        async with self.session.post(self.url, data=_body(False), headers=_headers(False)) as r:
            json.loads(await r.read())

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class RawHttpxAiohttp(Contender):
    """Hand-written httpx over httpx-aiohttp (``HttpxAiohttpClient``): what any client built on
    httpx's async API pays before doing anything of its own (async only)."""

    name = "httpx-aiohttp"

    def __init__(self, base_url: str) -> None:
        import httpx_aiohttp  # noqa: F401  (skip the row when missing)

        super().__init__(base_url)
        self.url = base_url + PATH
        self.aclient: Any = None

    async def acall(self) -> None:
        import httpx
        from httpx_aiohttp import HttpxAiohttpClient

        if self.aclient is None:
            limits = httpx.Limits(max_connections=256, max_keepalive_connections=128)
            self.aclient = HttpxAiohttpClient(limits=limits)
        response = await self.aclient.post(self.url, content=_body(False), headers=_headers(False))
        json.loads(response.content)

    async def aclose(self) -> None:
        if self.aclient is not None:
            await self.aclient.aclose()
            self.aclient = None


def point_sdk_at(base_url: str) -> None:
    """Make the official ``dashscope`` SDK (read at import and per call) use the bench server."""
    os.environ["DASHSCOPE_HTTP_BASE_URL"] = base_url
    os.environ["DASHSCOPE_API_KEY"] = API_KEY
    import dashscope

    dashscope.base_http_api_url = base_url
    dashscope.api_key = API_KEY


class OfficialSDK(Contender):
    """The official ``dashscope`` SDK: ``Generation.call`` / ``.call(stream=True)`` (requests)
    and ``AioGeneration.call`` (aiohttp). Installed only in the bench venv."""

    name = "dashscope SDK"

    def __init__(self, base_url: str) -> None:
        point_sdk_at(base_url)
        import dashscope

        super().__init__(base_url)
        self.sdk = dashscope

    def call(self) -> None:
        self.sdk.Generation.call(model=MODEL, messages=MESSAGES, result_format="message")

    def stream(self) -> int:
        chunks = self.sdk.Generation.call(
            model=MODEL, messages=MESSAGES, result_format="message", stream=True,
            incremental_output=True,
        )  # fmt: skip
        return sum(1 for _ in chunks)

    async def acall(self) -> None:
        await self.sdk.AioGeneration.call(model=MODEL, messages=MESSAGES, result_format="message")


class Core(Contender):
    """``dashscope_core``: ``DashScope.generation.call/stream`` (httpx.Client) and
    ``AsyncDashScope.generation.call`` (httpx.AsyncClient over httpx-aiohttp)."""

    name = "dashscope_core"

    def __init__(self, base_url: str) -> None:
        from dashscope_core import DashScope

        super().__init__(base_url)
        self.client = DashScope(api_key=API_KEY, base_url=base_url)
        self.aclient: Any = None

    def call(self) -> None:
        self.client.generation.call(model=MODEL, messages=MESSAGES, result_format="message")

    def stream(self) -> int:
        chunks = self.client.generation.stream(
            model=MODEL, messages=MESSAGES, result_format="message", incremental_output=True
        )
        return sum(1 for _ in chunks)

    async def acall(self) -> None:
        from dashscope_core import AsyncDashScope

        if self.aclient is None:
            self.aclient = AsyncDashScope(api_key=API_KEY, base_url=self.base_url)
        await self.aclient.generation.call(model=MODEL, messages=MESSAGES, result_format="message")

    def close(self) -> None:
        self.client.close()

    async def aclose(self) -> None:
        if self.aclient is not None:
            await self.aclient.close()
            self.aclient = None


CONTENDERS: list[type[Contender]] = [RawHttpx, RawAiohttp, RawHttpxAiohttp, OfficialSDK, Core]
"""Rows of the table, in order. Baselines first; framework rows may be appended."""
