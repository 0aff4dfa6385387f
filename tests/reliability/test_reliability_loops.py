"""One ``AsyncDashScope`` (and the framework models holding one) from many event loops.

``asyncio.run`` per request with a module-level client, several threads each running loops,
pytest-asyncio's per-test loops, a loop closed by hand: every call succeeds, no warning is
emitted (these tests turn warnings into errors), and no connection is left open on the server.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _reliability_keys import KEY
from llama_index.core.llms import ChatMessage

from dashscope_core import AsyncDashScope
from dashscope_core.emulator import Emulator, ServerHandle, serve
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings
from llamaindex_dashscope_ext import DashScopeAppLLM, DashScopeLLM

USER = [ChatMessage(role="user", content="hi")]
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def loop_server() -> Iterator[ServerHandle]:
    """A server of its own, so open connections are only this module's."""
    with serve(Emulator(seed=2)) as handle:
        yield handle


def _open(handle: ServerHandle) -> int:
    """The server's open connections once they settle (closing is asynchronous)."""
    assert handle.server is not None
    for _ in range(100):
        if handle.server.open_connections == 0:
            return 0
        threading.Event().wait(0.02)
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


async def _ask(client: AsyncDashScope) -> str:
    answer = await client.generation.call(model="qwen-plus", messages=MESSAGES)
    chunks = [c async for c in client.generation.stream(model="qwen-plus", messages=MESSAGES)]
    assert chunks
    return answer.text or ""


@pytest.mark.filterwarnings("error")
def test_asyncio_run_per_request_with_a_module_level_client(loop_server: ServerHandle) -> None:
    client = AsyncDashScope(api_key=KEY, base_url=loop_server.base_url)
    for _ in range(12):
        assert asyncio.run(_ask(client))
        assert _open(loop_server) == 0  # closed with its loop, not left in a pool
    del client
    gc.collect()


@pytest.mark.filterwarnings("error")
def test_threads_each_with_loops_share_one_client(loop_server: ServerHandle) -> None:
    client = AsyncDashScope(api_key=KEY, base_url=loop_server.base_url)
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(4):
                asyncio.run(_gather(client))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _open(loop_server) == 0
    gc.collect()


async def _gather(client: AsyncDashScope) -> None:
    answers = await asyncio.gather(*(_ask(client) for _ in range(5)))
    assert all(answers)


@pytest.mark.filterwarnings("error")
def test_models_across_several_asyncio_runs(loop_server: ServerHandle) -> None:
    models = _models(loop_server.base_url)
    for _ in range(3):
        asyncio.run(_use_all(models))
        assert _open(loop_server) == 0
    del models
    gc.collect()


def test_a_loop_closed_by_hand_is_discarded_on_next_use(loop_server: ServerHandle) -> None:
    client = AsyncDashScope(api_key=KEY, base_url=loop_server.base_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = asyncio.new_event_loop()
        assert loop.run_until_complete(_ask(client))
        loop.close()  # no shutdown_asyncgens: the client could not be closed on its loop
        assert asyncio.run(_ask(client))
        assert len(client._transport._loops) == 0  # the closed loop's clients were dropped
        del client, loop
        gc.collect()
    # the session and connector are released; sockets of a loop closed by hand can only be
    # left to the garbage collector (their transport cannot run callbacks any more)
    assert not [w for w in caught if "Unclosed" in str(w.message)], caught


def test_close_on_the_running_loop_and_reuse(loop_server: ServerHandle) -> None:
    async def go() -> None:
        client = AsyncDashScope(api_key=KEY, base_url=loop_server.base_url)
        assert await _ask(client)
        await client.close()
        assert _open(loop_server) == 0
        assert await _ask(client)  # a closed client opens new connections
        await client.close()

    asyncio.run(go())
    assert _open(loop_server) == 0


SHARED: dict[str, Any] = {}


@pytest.mark.parametrize("round_", [1, 2, 3])
async def test_pytest_asyncio_loops_share_a_model(loop_server: ServerHandle, round_: int) -> None:
    """Each test gets a new loop; a model kept between tests keeps working."""
    models = SHARED.setdefault("models", _models(loop_server.base_url))
    await _use_all(models)
