"""Fixtures of the LlamaIndex tests; the session emulator and `emu` are in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Settings
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

from ._calls import Calls
from ._independent import IndependentDashScope, serve_independent

FAKE_KEY = "sk-test-llamaindex-0123456789"


@pytest.fixture(scope="session")
def li_server(server: ServerHandle) -> ServerHandle:
    """The shared session emulator (``tests/conftest.py``) under this folder's name."""
    return server


@pytest.fixture
def llm(li_server: ServerHandle, emu: Emulator) -> DashScopeLLM:
    """A DashScopeLLM (qwen-plus) pointed at the emulator, no retries."""
    return DashScopeLLM(api_key=FAKE_KEY, base_url=li_server.base_url, max_retries=0)


@pytest.fixture
def embed_model(li_server: ServerHandle, emu: Emulator) -> DashScopeEmbedding:
    """A DashScopeEmbedding pointed at the emulator."""
    return DashScopeEmbedding(api_key=FAKE_KEY, base_url=li_server.base_url, max_retries=0)


@pytest.fixture
def li_settings(llm: DashScopeLLM, embed_model: DashScopeEmbedding) -> Iterator[None]:
    """``Settings.llm`` / ``Settings.embed_model`` set for one test, then restored."""
    old_llm, old_embed = Settings._llm, Settings._embed_model
    Settings.llm, Settings.embed_model = llm, embed_model
    yield
    Settings._llm, Settings._embed_model = old_llm, old_embed


class Events(BaseEventHandler):
    """Every instrumentation event the root dispatcher sees, in order."""

    seen: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "RecordedEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.seen.append(event)

    @property
    def names(self) -> list[str]:
        """The events' class names."""
        return [e.class_name() for e in self.seen]

    def of(self, *kinds: type[BaseEvent]) -> list[Any]:
        """The events of these classes."""
        return [e for e in self.seen if isinstance(e, kinds)]


@pytest.fixture
def events() -> Iterator[Events]:
    """An ``Events`` recorder on the root dispatcher (spans and events propagate up to it)."""
    dispatcher = get_dispatcher()
    handler = Events()
    dispatcher.add_event_handler(handler)
    try:
        yield handler
    finally:
        dispatcher.event_handlers.remove(handler)


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which twin a test exercises."""
    return str(request.param)


@pytest.fixture
def calls(mode: str, llm: DashScopeLLM) -> Calls:
    """The LLM's sync or async methods behind one awaitable surface."""
    return Calls(llm, mode)


@pytest.fixture(scope="session")
def independent_server() -> Iterator[IndependentDashScope]:
    """The independent stdlib DashScope server of ``_independent`` (not our emulator)."""
    with serve_independent() as state:
        yield state


@pytest.fixture
def ds(independent_server: IndependentDashScope) -> IndependentDashScope:
    """The independent server with no queued answers and an empty request log."""
    independent_server.queue.clear()
    independent_server.received.clear()
    return independent_server
