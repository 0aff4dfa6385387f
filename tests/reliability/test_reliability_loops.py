"""Framework models used from several event loops: one core client per loop, closed with it.

``asyncio.run`` twice, a loop closed by hand, pytest-asyncio's per-test loops: no "Unclosed
client session" warnings and no connection left open on the server.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _reliability_keys import KEY
from llama_index.core.llms import ChatMessage

from dashscope_core import AsyncDashScope
from dashscope_core._loop_clients import LoopClients
from dashscope_core.emulator import Emulator, ServerHandle, serve
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings
from llamaindex_dashscope_ext import DashScopeAppLLM, DashScopeLLM

USER = [ChatMessage(role="user", content="hi")]


@pytest.fixture(scope="module")
def loop_server() -> Iterator[ServerHandle]:
    """A server of its own, so open connections are only this module's."""
    with serve(Emulator(seed=2)) as handle:
        yield handle


def _open(handle: ServerHandle) -> int:
    assert handle.server is not None
    for _ in range(100):
        if handle.server.open_connections == 0:
            return 0
        asyncio.run(asyncio.sleep(0.02))
    return handle.server.open_connections


async def _use_all(models: dict[str, Any]) -> None:
    await models["lc_chat"].ainvoke("hi")
    await models["lc_emb"].aembed_query("q")
    await models["li_llm"].achat(USER)
    await models["li_app"].acomplete("How do I pair the lamp?")


def _models(url: str) -> dict[str, Any]:
    common = {"api_key": KEY, "base_url": url}
    return {
        "lc_chat": ChatDashScope(**common),
        "lc_emb": DashScopeEmbeddings(**common),
        "li_llm": DashScopeLLM(**common),
        "li_app": DashScopeAppLLM(app_id="demo-rag-app", **common),
    }


def test_models_across_several_asyncio_runs(loop_server: ServerHandle) -> None:
    models = _models(loop_server.base_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            asyncio.run(_use_all(models))
            assert _open(loop_server) == 0  # closed with its loop, not left in a pool
        del models
        gc.collect()
    assert not [w for w in caught if "nclosed" in str(w.message)], caught


def test_a_loop_closed_by_hand_is_discarded_on_next_use(loop_server: ServerHandle) -> None:
    url = loop_server.base_url
    box = {"clients": LoopClients(lambda: AsyncDashScope(api_key=KEY, base_url=url))}

    async def call() -> AsyncDashScope:
        client = box["clients"].get()
        await client.embeddings.call(model="text-embedding-v3", texts=["a"])
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = asyncio.new_event_loop()
        first = loop.run_until_complete(call())
        loop.close()  # no shutdown_asyncgens: the client could not be closed on its loop
        second = asyncio.run(call())
        assert second is not first and len(box["clients"]) == 1
        del box["clients"], first, second
        gc.collect()
    # the session and connector are released; sockets of a loop closed by hand can only be
    # left to the garbage collector (their transport cannot run callbacks any more)
    assert not [w for w in caught if "Unclosed" in str(w.message)], caught


def test_same_loop_same_client_and_aclose_current(loop_server: ServerHandle) -> None:
    clients = LoopClients(lambda: AsyncDashScope(api_key=KEY, base_url=loop_server.base_url))

    async def go() -> None:
        assert clients.get() is clients.get()
        message = {"role": "user", "content": "x"}
        await clients.get().generation.call(model="qwen-plus", messages=[message])
        await clients.aclose_current()
        assert len(clients) == 0

    asyncio.run(go())
    assert _open(loop_server) == 0


SHARED: dict[str, Any] = {}


@pytest.mark.parametrize("round_", [1, 2, 3])
async def test_pytest_asyncio_loops_share_a_model(loop_server: ServerHandle, round_: int) -> None:
    """Each test gets a new loop; a model kept between tests keeps working."""
    models = SHARED.setdefault("models", _models(loop_server.base_url))
    await _use_all(models)
