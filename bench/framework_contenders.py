"""The framework rows: our LangChain / LlamaIndex classes and the anchors they must beat.

Each class does what a user of the framework does: one ``invoke``/``complete`` (``call``), one
``stream``/``stream_complete`` read to the end, counting the chunks the caller receives
(``stream``), one ``ainvoke``/``acomplete`` (``acall``). The anchors (ChatTongyi from
langchain-community, ``DashScope`` from llama-index-llms-dashscope, both over the official
``dashscope`` SDK) exist only in the bench venv; their imports sit inside ``__init__`` so a
missing package skips the row (``ImportError``). The SDK is pointed at the bench server through
``DASHSCOPE_HTTP_BASE_URL`` and ``dashscope.base_http_api_url``, with a fake key.
"""

from __future__ import annotations

import sys
from importlib.metadata import packages_distributions, version
from typing import Any

from bench.contenders import API_KEY, Contender, point_sdk_at

MODEL = "qwen-turbo"
PROMPT = "Say hello."


def versions_of(obj: Any) -> dict[str, str]:
    """Versions of the distributions ``obj``'s class is built from (its MRO's packages): what
    a row actually ran, e.g. ``{"langchain-community": ..., "langchain-core": ...}``."""
    providers = packages_distributions()
    found = {}
    for cls in type(obj).__mro__:
        module = cls.__module__
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "builtins":
            continue
        dists = list(dict.fromkeys(providers.get(top, [])))
        if len(dists) > 1:  # a namespace package (llama_index): the one named like the module
            dotted = module.replace(".", "_") + "_"
            dists = [d for d in dists if dotted.startswith(d.lower().replace("-", "_") + "_")]
        for dist in dists:
            found[dist.lower()] = version(dist)
    return dict(sorted(found.items()))


class _LangChainRow(Contender):
    """``invoke`` / ``stream`` / ``ainvoke`` on a LangChain chat model held in ``self.model``."""

    framework = "langchain-core"
    model: Any

    def versions(self) -> dict[str, str]:
        """The distributions this row's model class comes from, with their versions."""
        return versions_of(self.model)

    def call(self) -> None:
        self.model.invoke(PROMPT)

    def stream(self) -> int:
        return sum(1 for _ in self.model.stream(PROMPT))

    async def acall(self) -> None:
        await self.model.ainvoke(PROMPT)


class _LlamaIndexRow(Contender):
    """``complete`` / ``stream_complete`` / ``acomplete`` on a LlamaIndex LLM in ``self.llm``."""

    framework = "llama-index-core"
    llm: Any

    def versions(self) -> dict[str, str]:
        """The distributions this row's LLM class comes from, with their versions."""
        return versions_of(self.llm)

    def call(self) -> None:
        self.llm.complete(PROMPT)

    def stream(self) -> int:
        return sum(1 for _ in self.llm.stream_complete(PROMPT))

    async def acall(self) -> None:
        await self.llm.acomplete(PROMPT)


class OurChatDashScope(_LangChainRow):
    """``langchain_dashscope_ext.ChatDashScope`` (core client; httpx-aiohttp for async)."""

    name = "ChatDashScope"

    def __init__(self, base_url: str) -> None:
        from langchain_dashscope_ext import ChatDashScope

        super().__init__(base_url)
        self.model = ChatDashScope(model=MODEL, api_key=API_KEY, base_url=base_url)

    def close(self) -> None:
        self.model.client.close()

    async def aclose(self) -> None:
        await self.model.aclose()


class ChatTongyiRow(_LangChainRow):
    """langchain-community ``ChatTongyi`` over the ``dashscope`` SDK (async = thread wrapper)."""

    name = "ChatTongyi"
    async_divisor = 3  # a thread per call: a few hundred calls/s

    def __init__(self, base_url: str) -> None:
        point_sdk_at(base_url)
        from langchain_community.chat_models.tongyi import ChatTongyi

        super().__init__(base_url)
        self.model = ChatTongyi(model=MODEL, api_key=API_KEY)  # type: ignore[call-arg]
        # its .stream() yields one chunk unless streaming=True: give it its best streaming path
        self.streaming_model = ChatTongyi(model=MODEL, api_key=API_KEY, streaming=True)  # type: ignore[call-arg]

    def stream(self) -> int:
        return sum(1 for _ in self.streaming_model.stream(PROMPT))


class OurDashScopeLLM(_LlamaIndexRow):
    """``llamaindex_dashscope_ext.DashScopeLLM`` (core client; httpx-aiohttp for async)."""

    name = "DashScopeLLM (li)"

    def __init__(self, base_url: str) -> None:
        from llamaindex_dashscope_ext import DashScopeLLM

        super().__init__(base_url)
        self.llm = DashScopeLLM(model=MODEL, api_key=API_KEY, base_url=base_url)

    def close(self) -> None:
        self.llm.close()

    async def aclose(self) -> None:
        await self.llm.aclose()


class LlamaIndexDashScopeRow(_LlamaIndexRow):
    """llama-index-llms-dashscope ``DashScope`` over the ``dashscope`` SDK (AioGeneration)."""

    name = "li-llms-dashscope"

    def __init__(self, base_url: str) -> None:
        point_sdk_at(base_url)
        from llama_index.llms.dashscope import DashScope

        super().__init__(base_url)
        self.llm = DashScope(model_name=MODEL, api_key=API_KEY)


PAIRS: list[tuple[str, type[Contender], type[Contender]]] = [
    ("langchain", OurChatDashScope, ChatTongyiRow),
    ("llamaindex", OurDashScopeLLM, LlamaIndexDashScopeRow),
]
"""(framework, ours, anchor) in table order."""
