"""Clients across processes: a forked child never touches its parent's connections, and
clients and the framework models holding them pickle into working objects in worker processes.

The fork test's server answers every request with a number of its own and echoes who asked:
were a pooled socket shared, parent and child would read each other's answers (it happened:
5 rounds of 5 calls gave the parent the child's answers).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import ServerHandle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from _hostile import Conn, Hostile, Request, hostile

KEY = "sk-processes-0123456789"
ROUNDS, CALLS = 5, 5


def _echo() -> Any:
    counter = iter(range(1, 1_000_000))
    lock = threading.Lock()

    def answer(conn: Conn, request: Request) -> bool:
        asked = request.json()["input"]["messages"][0]["content"]
        with lock:
            number = next(counter)
        text = f"{asked}#{number}"
        body = {"output": {"choices": [{"finish_reason": "stop",
                                        "message": {"role": "assistant", "content": text}}]},
                "request_id": f"r-{number}"}  # fmt: skip
        return conn.reply(200, body)

    return answer


def _ask(client: DashScope, who: str) -> str:
    messages = [{"role": "user", "content": who}]
    answer = client.generation.call(model="qwen-plus", messages=messages)
    return str(answer.output.choices[0].message.content)


async def _aask(client: AsyncDashScope, who: str) -> str:
    messages = [{"role": "user", "content": who}]
    answer = await client.generation.call(model="qwen-plus", messages=messages)
    return str(answer.output.choices[0].message.content)


def _in_child(work: Any) -> tuple[int, int]:
    """Fork; the child runs ``work()`` and writes its JSON result to a pipe: (pid, read end)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read)
            os.write(write, json.dumps(work()).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _child_result(child: tuple[int, int]) -> Any:
    pid, read = child
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(b"".join(chunks))


@pytest.fixture
def echo() -> Iterator[Hostile]:
    with hostile(_echo()) as server:
        yield server


def _check(answers: list[str], who: str) -> None:
    assert len(answers) == CALLS
    assert all(answer.split("#")[0] == who for answer in answers), answers


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_touches_its_parents_connections(echo: Hostile) -> None:
    client = DashScope(api_key=KEY, base_url=echo.base_url, max_retries=0)
    for round_ in range(ROUNDS):
        assert _ask(client, "warm").startswith("warm#")  # a kept-alive connection now
        child = _in_child(lambda r=round_: [_ask(client, f"child-{r}") for _ in range(CALLS)])
        mine = [_ask(client, f"parent-{round_}") for _ in range(CALLS)]
        _check(mine, f"parent-{round_}")
        _check(_child_result(child), f"child-{round_}")
    numbers = [int(answer.split("#")[1]) for answer in mine]
    assert len(set(numbers)) == CALLS
    client.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_async_connections(echo: Hostile) -> None:
    client = AsyncDashScope(api_key=KEY, base_url=echo.base_url, max_retries=0)
    loop = asyncio.new_event_loop()
    try:
        for round_ in range(ROUNDS):
            assert loop.run_until_complete(_aask(client, "warm")).startswith("warm#")

            async def child_calls(r: int = round_) -> list[str]:
                return [await _aask(client, f"child-{r}") for _ in range(CALLS)]

            child = _in_child(lambda: asyncio.run(child_calls()))

            async def parent_calls(r: int = round_) -> list[str]:
                return [await _aask(client, f"parent-{r}") for _ in range(CALLS)]

            _check(loop.run_until_complete(parent_calls()), f"parent-{round_}")
            _check(_child_result(child), f"child-{round_}")
        loop.run_until_complete(client.close())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# --- pickling into worker processes -------------------------------------------------------------


def _models(url: str) -> list[Any]:
    from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings
    from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

    common = {"api_key": KEY, "base_url": url}
    used = ChatDashScope(model="qwen-plus", **common)
    used.invoke("hi")  # a model whose clients exist (and hold connections) pickles too
    asyncio.run(used.ainvoke("hi"))
    return [
        DashScope(**common),
        AsyncDashScope(**common),
        used,
        DashScopeEmbeddings(**common),
        DashScopeLLM(model="qwen-plus", **common),
        DashScopeEmbedding(**common),
    ]


def _use(data: bytes) -> str:
    """In a worker: unpickle, check the key stayed secret, make a sync and an async call."""
    obj = pickle.loads(data)
    key = getattr(obj, "api_key", None) or obj._config.api_key
    assert isinstance(key, SecretStr) and KEY not in repr(obj) and KEY not in str(obj)
    name = type(obj).__name__
    if isinstance(obj, DashScope):
        obj.generation.call(model="qwen-plus", messages=[{"role": "user", "content": "x"}])
    elif isinstance(obj, AsyncDashScope):
        messages = [{"role": "user", "content": "x"}]
        asyncio.run(obj.generation.call(model="qwen-plus", messages=messages))
    elif name == "ChatDashScope":
        obj.invoke("x")
        asyncio.run(obj.ainvoke("x"))
    elif name == "DashScopeLLM":
        obj.complete("x")
        asyncio.run(obj.acomplete("x"))
    elif name == "DashScopeEmbeddings":
        obj.embed_query("x")
        asyncio.run(obj.aembed_query("x"))
    else:
        obj.get_query_embedding("x")
        asyncio.run(obj.aget_query_embedding("x"))
    return name


def test_clients_and_models_pickle_into_working_objects_in_a_pool(server: ServerHandle) -> None:
    objects = _models(server.base_url)
    payloads = [pickle.dumps(obj) for obj in objects]
    for obj in objects:  # in clear nowhere but the pickle itself
        assert KEY not in repr(obj) and KEY not in str(vars(obj))
    with multiprocessing.get_context("fork").Pool(2) as pool:
        names = pool.map(_use, payloads)
    assert names == [type(obj).__name__ for obj in objects]


def test_a_client_over_an_injected_http_client_refuses_to_pickle() -> None:
    import httpx

    with httpx.Client() as http:
        client = DashScope(api_key=KEY, http_client=http)
        with pytest.raises(TypeError, match="http_client"):
            pickle.dumps(client)
