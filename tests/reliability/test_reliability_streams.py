"""Streams cut mid-way always end in a typed error: never a partial answer passed off as whole.

Three faults strike after the first frames were delivered (so nothing may be replayed): the
connection drops, the final frame never comes, or an ``event:error`` with ``:HTTP_STATUS/429``
arrives under HTTP 200. Every streaming surface of core, LangChain and LlamaIndex is driven to
its end and must raise a ``DashScopeError``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from _reliability_keys import KEY
from langchain_core.messages import HumanMessage
from llama_index.core.llms import ChatMessage

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._protocol.app_stream import accumulate_app
from dashscope_core._protocol.generation_stream import accumulate
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import DashScopeError, IncompleteStreamError, RateLimitError
from langchain_dashscope_ext import ChatDashScope, ChatDashScopeApp
from llamaindex_dashscope_ext import DashScopeAppLLM, DashScopeLLM

APP = "demo-rag-app"
QUESTION = "How do I pair the Aurora lamp and how long does the battery last?"
MESSAGES = [{"role": "user", "content": QUESTION}]
FAULTS = ["cut_stream", "missing_final", "error_event"]


def _arun(factory: Callable[[], Any]) -> Any:
    return asyncio.run(factory())


def core_gen_sync(url: str, incremental: bool) -> Any:
    with DashScope(api_key=KEY, base_url=url) as c:
        stream = c.generation.stream(
            model="qwen-plus", messages=MESSAGES, result_format="message",
            incremental_output=incremental,
        )  # fmt: skip
        return accumulate(stream)


def core_gen_async(url: str, incremental: bool) -> Any:
    async def go() -> Any:
        async with AsyncDashScope(api_key=KEY, base_url=url) as c:
            stream = c.generation.stream(model="qwen-plus", messages=MESSAGES,
                                         incremental_output=incremental)  # fmt: skip
            return accumulate([chunk async for chunk in stream])

    return _arun(go)


def core_apps_sync(url: str, incremental: bool) -> Any:
    with DashScope(api_key=KEY, base_url=url) as c:
        return accumulate_app(c.apps.stream(APP, QUESTION, incremental_output=incremental))


def core_apps_async(url: str, incremental: bool) -> Any:
    async def go() -> Any:
        async with AsyncDashScope(api_key=KEY, base_url=url) as c:
            stream = c.apps.stream(APP, QUESTION, incremental_output=incremental)
            return accumulate_app([chunk async for chunk in stream])

    return _arun(go)


def lc_stream(url: str, _: bool) -> Any:
    model = ChatDashScope(api_key=KEY, base_url=url)
    return [chunk.content for chunk in model.stream(QUESTION)]


def lc_astream(url: str, _: bool) -> Any:
    async def go() -> Any:
        model = ChatDashScope(api_key=KEY, base_url=url)
        out = [chunk.content async for chunk in model.astream(QUESTION)]
        await model.aclose()
        return out

    return _arun(go)


def lc_invoke_streaming(url: str, _: bool) -> Any:
    return ChatDashScope(api_key=KEY, base_url=url, streaming=True).invoke(QUESTION).content


def lc_app_stream(url: str, _: bool) -> Any:
    model = ChatDashScopeApp(api_key=KEY, base_url=url, app_id=APP)
    return [chunk.content for chunk in model.stream([HumanMessage(QUESTION)])]


def lc_app_astream(url: str, _: bool) -> Any:
    async def go() -> Any:
        model = ChatDashScopeApp(api_key=KEY, base_url=url, app_id=APP)
        out = [chunk.content async for chunk in model.astream([HumanMessage(QUESTION)])]
        await model.aclose()
        return out

    return _arun(go)


def li_stream_chat(url: str, _: bool) -> Any:
    llm = DashScopeLLM(api_key=KEY, base_url=url)
    return [r.delta for r in llm.stream_chat([ChatMessage(role="user", content=QUESTION)])]


def li_astream_chat(url: str, _: bool) -> Any:
    async def go() -> Any:
        llm = DashScopeLLM(api_key=KEY, base_url=url)
        try:
            gen = await llm.astream_chat([ChatMessage(role="user", content=QUESTION)])
            return [r.delta async for r in gen]
        finally:
            await llm.aclose()

    return _arun(go)


def li_stream_complete(url: str, _: bool) -> Any:
    return [r.delta for r in DashScopeLLM(api_key=KEY, base_url=url).stream_complete(QUESTION)]


def li_app_stream_chat(url: str, _: bool) -> Any:
    llm = DashScopeAppLLM(api_key=KEY, base_url=url, app_id=APP)
    return [r.delta for r in llm.stream_chat([ChatMessage(role="user", content=QUESTION)])]


def li_app_astream_complete(url: str, _: bool) -> Any:
    async def go() -> Any:
        llm = DashScopeAppLLM(api_key=KEY, base_url=url, app_id=APP)
        return [r.delta async for r in await llm.astream_complete(QUESTION)]

    return _arun(go)


SURFACES: dict[str, tuple[Callable[[str, bool], Any], str]] = {
    "core.generation.stream": (core_gen_sync, "generation"),
    "core.async.generation.stream": (core_gen_async, "generation"),
    "core.apps.stream": (core_apps_sync, "apps"),
    "core.async.apps.stream": (core_apps_async, "apps"),
    "langchain.ChatDashScope.stream": (lc_stream, "generation"),
    "langchain.ChatDashScope.astream": (lc_astream, "generation"),
    "langchain.ChatDashScope.invoke(streaming=True)": (lc_invoke_streaming, "generation"),
    "langchain.ChatDashScopeApp.stream": (lc_app_stream, "apps"),
    "langchain.ChatDashScopeApp.astream": (lc_app_astream, "apps"),
    "llamaindex.DashScopeLLM.stream_chat": (li_stream_chat, "generation"),
    "llamaindex.DashScopeLLM.astream_chat": (li_astream_chat, "generation"),
    "llamaindex.DashScopeLLM.stream_complete": (li_stream_complete, "generation"),
    "llamaindex.DashScopeAppLLM.stream_chat": (li_app_stream_chat, "apps"),
    "llamaindex.DashScopeAppLLM.astream_complete": (li_app_astream_complete, "apps"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("surface", list(SURFACES))
def test_cut_stream_raises_typed_error(
    rel_server: ServerHandle, rel_emu: Emulator, surface: str, fault: str
) -> None:
    consume, route = SURFACES[surface]
    consume(rel_server.base_url, True)  # the same call works fault-free
    rel_emu.faults.queue(fault, after=2, route=route)
    with pytest.raises(DashScopeError) as info:
        consume(rel_server.base_url, True)
    if fault == "error_event":
        assert isinstance(info.value, RateLimitError)
        assert info.value.request_id
    if fault == "missing_final":
        assert isinstance(info.value, IncompleteStreamError)
    # nothing was replayed once frames had been delivered
    assert rel_emu.faults.total == 1
    assert rel_emu.counters[route] == 2


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("surface", [s for s in SURFACES if s.startswith("core")])
def test_cumulative_core_streams_raise_too(
    rel_server: ServerHandle, rel_emu: Emulator, surface: str, fault: str
) -> None:
    consume, route = SURFACES[surface]
    rel_emu.faults.queue(fault, after=2, route=route)
    with pytest.raises(DashScopeError):
        consume(rel_server.base_url, False)
