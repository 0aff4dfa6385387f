"""The API key never leaks: every public entry point runs with a recognisable fake key and DEBUG
logging, and the key (or its secret part) appears in no log record, repr/str of a client, model,
tool, result or exception, LangChain ``dumpd``/``dumps``, LlamaIndex ``to_dict``/``to_json``/
``model_dump``, callback or instrumentation payload, nor in a request to another host.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from _reliability_leak import LCRecorder, LIEvents, LIRecorder, LISpans, LogRecorder, other_server
from langchain_core.load import Serializable, dumpd, dumps
from llama_index.core.callbacks import CallbackManager
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import ChatMessage
from pydantic import BaseModel

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, serve
from dashscope_core.emulator.predictions import settings as prediction_settings
from dashscope_core.resources._outputs import FileOutput

KEY = "sk-LEAKCHECK-5f1e9a7c3b2d4e60a1b2"
NEEDLES = (KEY, "5f1e9a7c3b2d4e60a1b2", "LEAKCHECK")
APP = "demo-rag-app"
IMAGE_ROUTE = "/services/aigc/text2image/image-synthesis"


@dataclass
class Env:
    """Where to call, and everything that was produced or recorded along the way."""

    base_url: str
    other: str
    other_seen: list[dict[str, str]]
    emulator: Emulator
    objects: list[Any] = field(default_factory=list)
    lc: LCRecorder = field(default_factory=LCRecorder)
    li: LIRecorder = field(default_factory=LIRecorder)

    def keep(self, *items: Any) -> None:
        """Objects whose repr/str/serialisation must not show the key."""
        self.objects.extend(items)

    def error(self, call: Callable[[], Any]) -> None:
        """Run ``call``, which must fail; keep the exception (and its cause chain)."""
        try:
            call()
        except Exception as exc:
            chain: BaseException | None = exc
            while chain is not None:
                self.keep(chain, chain.args, getattr(chain, "__dict__", {}))
                chain = chain.__cause__ or chain.__context__
        else:
            raise AssertionError("expected an error")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    """Emulator, second server, recorders: all installed for the module's tests."""
    logs = LogRecorder()
    events, spans = LIEvents(), LISpans()
    dispatcher = get_dispatcher()
    dispatcher.add_event_handler(events)
    dispatcher.add_span_handler(spans)
    emulator = Emulator(seed=9)
    prediction_settings(emulator).time_scale = 0.0
    with serve(emulator) as handle, other_server() as (origin, seen), logs.installed():
        state = Env(handle.base_url, origin, seen, emulator)
        yield state
    dispatcher.event_handlers.remove(events)
    dispatcher.span_handlers.remove(spans)
    texts = logs.texts + events.texts + spans.texts + state.lc.texts + state.li.texts
    assert logs.texts and events.texts and spans.texts and state.lc.texts and state.li.texts
    _assert_clean(texts, "records/payloads")


def _assert_clean(texts: list[str], where: str) -> None:
    for text in texts:
        for needle in NEEDLES:
            assert needle not in text, f"key leaked in {where}: ...{text[:300]}..."


def _views(obj: Any) -> list[str]:
    out = [repr(obj), str(obj)]
    if isinstance(obj, Serializable):
        out += [repr(dumpd(obj)), dumps(obj)]
    for name in ("to_dict", "to_json", "model_dump", "model_dump_json", "to_payload"):
        method = getattr(obj, name, None)
        if callable(method) and not isinstance(obj, type):
            try:
                out.append(repr(method()))
            except (TypeError, NotImplementedError, ValueError):
                continue
    return out


def _check_objects(env: Env) -> None:
    assert env.objects
    for obj in env.objects:
        _assert_clean(_views(obj), f"{type(obj).__name__}")


def _core_sync(env: Env, c: DashScope) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    env.keep(c, c.generation.call(model="qwen-plus", messages=msgs))
    env.keep(list(c.generation.stream(model="qwen-plus", messages=msgs)))
    env.keep(c.apps.call(APP, "How do I pair the lamp?"), list(c.apps.stream(APP, "Reset?")))
    session = c.apps.session(APP)
    env.keep(session, session.call("hello"), c.embeddings.call(model="text-embedding-v3",
                                                               texts=["a"]))  # fmt: skip
    task = c.tasks.submit(IMAGE_ROUTE, model="wanx-v1", input={"prompt": "a cat"})
    done = c.tasks.wait(task, interval=0.01)
    env.keep(task, done, c.tasks.get(task.output.task_id), c.tasks.list())
    image = c.images.generate("wanx-v1", "a dog", n=1, interval=0.01)
    env.keep(image)
    env.keep(c.run("emulator/hello-world", input={"text": "x"}, interval=0.01))
    pred = c.predictions.create(model="emulator/hello-world", input={"text": "y"})
    env.keep(pred, c.predictions.get(pred.id), c.predictions.list(), c.wait(pred, interval=0.01))
    env.keep(list(c.stream("emulator/streaming-lm", input={"prompt": "tell"})))
    env.keep(c.models.get("emulator", "hello-world"), c.models.list(), c.collections.list())
    env.keep(c.hardware.list(), list(c.paginate(c.predictions.list)), c.request("GET", "/hardware"))
    env.keep(c.models.versions.list("emulator", "hello-world"))
    env.keep(c.deployments.predictions.create("emulator", "hello-deployment", input={"text": "d"}))
    env.error(lambda: c.generation.call(model="no-such-model", messages=msgs))
    env.error(lambda: c.predictions.get("nope-nope"))
    env.error(lambda: c.run("emulator/always-fails", input={}, interval=0.01))
    env.error(lambda: c.generation.call(model="qwen-plus", messages="not a list"))  # type: ignore[arg-type]


async def _core_async(env: Env, c: AsyncDashScope) -> None:
    msgs = [{"role": "user", "content": "hi"}]
    env.keep(c, await c.generation.call(model="qwen-plus", messages=msgs))
    env.keep([x async for x in c.generation.stream(model="qwen-plus", messages=msgs)])
    env.keep(await c.apps.call(APP, "Warranty?"), [x async for x in c.apps.stream(APP, "Hi")])
    env.keep(await c.embeddings.call(model="text-embedding-v3", texts=["a"]))
    env.keep(await c.run("emulator/hello-world", input={"text": "z"}, interval=0.01))
    env.keep(await c.images.generate("wanx-v1", "a bird", n=1, interval=0.01))
    try:
        await c.generation.call(model="no-such-model", messages=msgs)
    except Exception as exc:
        env.keep(exc, exc.__dict__)


def test_the_check_finds_a_planted_key() -> None:
    with pytest.raises(AssertionError):
        _assert_clean(_views({"headers": f"Bearer {KEY}"}), "a planted dict")


def test_core_client_entry_points(env: Env) -> None:
    with DashScope(api_key=KEY, base_url=env.base_url) as client:
        _core_sync(env, client)

    async def go() -> None:
        async with AsyncDashScope(api_key=KEY, base_url=env.base_url) as client:
            await _core_async(env, client)

    asyncio.run(go())
    _check_objects(env)


def test_other_hosts_never_get_the_key(env: Env) -> None:
    """File downloads, absolute URLs and webhook targets on another port: no Authorization."""
    env.other_seen.clear()
    with DashScope(api_key=KEY, base_url=env.base_url) as client:
        file = FileOutput(f"{env.other}/outputs/file.png", client)
        assert file.read().startswith(b"\x89PNG")
        client.request("GET", f"{env.other}/absolute")
        pred = client.predictions.create(model="emulator/hello-world", input={"text": "w"},
                                         webhook=f"{env.other}/hook")  # fmt: skip
        client.wait(pred, interval=0.01)
    for _ in range(200):  # webhook deliveries are sent in the background
        if sum("hook" in h.get("x-path", "") or "webhook-id" in h for h in env.other_seen):
            break
        time.sleep(0.01)

    async def go() -> None:
        async with AsyncDashScope(api_key=KEY, base_url=env.base_url) as client:
            assert (await FileOutput(f"{env.other}/a.png", client).aread()).startswith(b"\x89")

    asyncio.run(go())
    assert len(env.other_seen) >= 4
    assert any("webhook-id" in h for h in env.other_seen)
    for headers in env.other_seen:
        assert "authorization" not in headers
        _assert_clean([repr(headers)], "a request to another host")


class Weather(BaseModel):
    """Weather in a city."""

    city: str


def _langchain(env: Env) -> None:
    from langchain_dashscope_ext import (
        ChatDashScope,
        ChatDashScopeApp,
        DashScopeAppRetriever,
        DashScopeAppTool,
        DashScopeEmbeddings,
        DashScopeLLM,
    )

    cfg: Any = {"callbacks": [env.lc]}
    common = {"api_key": KEY, "base_url": env.base_url}
    chat = ChatDashScope(**common)
    env.keep(chat, chat.invoke("hi", config=cfg), list(chat.stream("hi", config=cfg)))
    env.emulator.script.generation(tool_calls=[{"name": "Weather", "arguments": {"city": "X"}}])
    env.keep(chat.bind_tools([Weather]).invoke("weather?", config=cfg))
    env.emulator.script.generation(tool_calls=[{"name": "Weather", "arguments": "{not json"}])
    env.keep(chat.bind_tools([Weather]).invoke("weather?", config=cfg))
    env.keep(DashScopeLLM(**common).invoke("hi", config=cfg), DashScopeLLM(**common))
    app = ChatDashScopeApp(app_id=APP, **common)
    env.keep(app, app.invoke("Pair?", config=cfg), list(app.stream("Reset?", config=cfg)))
    retriever = DashScopeAppRetriever(app_id=APP, **common)
    env.keep(retriever, retriever.invoke("How do I pair the lamp?", config=cfg))
    tool = DashScopeAppTool(app_id=APP, **common)
    env.keep(tool, tool.invoke("battery?", config=cfg))
    emb = DashScopeEmbeddings(**common)
    env.keep(emb, emb.embed_documents(["a"]), emb.embed_query("b"))
    _langchain_tools(env, cfg)
    env.error(lambda: ChatDashScope(model="no-such-model", **common).invoke("hi", config=cfg))

    async def go() -> None:
        env.keep(await chat.ainvoke("hi", config=cfg))
        env.keep([c async for c in chat.astream("hi", config=cfg)])
        env.keep(await app.ainvoke("Pair?", config=cfg), await emb.aembed_query("q"))
        for model in (chat, app, emb):
            await model.aclose()

    asyncio.run(go())


def _langchain_tools(env: Env, cfg: Any) -> None:
    from langchain_dashscope_ext import DashScopeImageSynthesisTool, DashScopePredictionTool

    client = DashScope(api_key=KEY, base_url=env.base_url)
    ptool = DashScopePredictionTool.from_model(client, "emulator/hello-world")
    env.keep(ptool, ptool.invoke({"text": "x"}, config=cfg))
    itool = DashScopeImageSynthesisTool(client=client, interval=0.01)
    env.keep(itool, itool.invoke({"prompt": "a cat"}, config=cfg))


def test_langchain_entry_points(env: Env) -> None:
    _langchain(env)
    _check_objects(env)


def _llamaindex(env: Env) -> None:
    from llamaindex_dashscope_ext import (
        DashScopeAppLLM,
        DashScopeAppRetriever,
        DashScopeEmbedding,
        DashScopeLLM,
        DashScopePredictionToolSpec,
    )  # fmt: skip

    cm = CallbackManager([env.li])
    common = {"api_key": KEY, "base_url": env.base_url}
    user = [ChatMessage(role="user", content="hi")]
    llm = DashScopeLLM(callback_manager=cm, **common)
    env.keep(llm, llm.chat(user), list(llm.stream_chat(user)), llm.complete("hi"))
    env.keep(list(llm.stream_complete("hi")))
    app = DashScopeAppLLM(app_id=APP, callback_manager=cm, **common)
    env.keep(app, app.chat([ChatMessage(role="user", content="Pair?")]), app.complete("Reset?"))
    retriever = DashScopeAppRetriever(APP, api_key=KEY, base_url=env.base_url)
    env.keep(retriever, retriever.retrieve("How do I pair the lamp?"))
    emb = DashScopeEmbedding(callback_manager=cm, **common)
    env.keep(emb, emb.get_text_embedding("a"), emb.get_query_embedding("b"))
    spec = DashScopePredictionToolSpec(DashScope(api_key=KEY, base_url=env.base_url))
    tool = spec.to_tool("emulator/hello-world")
    env.keep(spec, tool, tool.metadata, tool.call(text="x"))
    env.error(lambda: DashScopeLLM(model="no-such-model", **common).chat(user))

    async def go() -> None:
        env.keep(await llm.achat(user), await app.achat(user), await emb.aget_query_embedding("q"))
        env.keep([r async for r in await llm.astream_chat(user)])
        await llm.aclose()

    asyncio.run(go())


def test_llamaindex_entry_points(env: Env) -> None:
    _llamaindex(env)
    _check_objects(env)
