"""Callbacks, instrumentation events/spans and token counting fire for every LLM method."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, TokenCountingHandler
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

from dashscope_core.emulator import Emulator, ServerHandle
from llamaindex_dashscope_ext import DashScopeLLM

from ._calls import Calls
from .conftest import FAKE_KEY, Events

USER = [ChatMessage(role="user", content="Name three rivers")]


class River(BaseModel):
    """A river."""

    name: str


class Recorder(BaseCallbackHandler):
    """Collects (start|end, event type, payload keys) of callback events."""

    def __init__(self) -> None:
        super().__init__([], [])
        self.seen: list[tuple[str, CBEventType, dict[str, Any]]] = []

    def on_event_start(self, event_type: CBEventType, payload: Any = None, event_id: str = "",
                       parent_id: str = "", **kwargs: Any) -> str:  # fmt: skip
        self.seen.append(("start", event_type, dict(payload or {})))
        return event_id

    def on_event_end(self, event_type: CBEventType, payload: Any = None, event_id: str = "",
                     **kwargs: Any) -> None:  # fmt: skip
        self.seen.append(("end", event_type, dict(payload or {})))

    def start_trace(self, trace_id: str | None = None) -> None:
        """Unused."""

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        """Unused."""


@pytest.fixture
def spans() -> Iterator[SimpleSpanHandler]:
    dispatcher = get_dispatcher()  # the root dispatcher: spans propagate up to it
    handler = SimpleSpanHandler()
    dispatcher.add_span_handler(handler)
    yield handler
    dispatcher.span_handlers.remove(handler)


class SpanArguments(SimpleSpanHandler):
    """Also keeps the arguments each span was opened with (``bound_args``)."""

    arguments: list[dict[str, Any]] = Field(default_factory=list)

    def new_span(
        self,
        id_: str,
        bound_args: inspect.BoundArguments,
        instance: Any = None,
        parent_span_id: str | None = None,
        tags: Any = None,
        **kwargs: Any,
    ) -> Any:
        self.arguments.append(dict(bound_args.arguments))
        return super().new_span(id_, bound_args, instance, parent_span_id, tags, **kwargs)


def _llm(server: ServerHandle, *handlers: BaseCallbackHandler) -> DashScopeLLM:
    manager = CallbackManager(list(handlers))
    return DashScopeLLM(
        api_key=FAKE_KEY, base_url=server.base_url, callback_manager=manager, max_retries=0
    )


@pytest.mark.parametrize("method", ["chat", "complete", "stream_chat", "stream_complete"])
async def test_callbacks_and_events(
    li_server: ServerHandle,
    emu: Emulator,
    events: Events,
    spans: SimpleSpanHandler,
    mode: str,
    method: str,
) -> None:
    recorder = Recorder()
    calls = Calls(_llm(li_server, recorder), mode)
    arg: Any = "Name three rivers" if "complete" in method else USER
    await getattr(calls, method)(arg)
    llm_events = [(kind, payload) for kind, t, payload in recorder.seen if t == CBEventType.LLM]
    assert [kind for kind, _ in llm_events] == ["start", "end"]
    end = llm_events[1][1]
    assert "response" in end or "completion" in end
    kind = "Completion" if "complete" in method else "Chat"
    assert f"LLM{kind}StartEvent" in events.names
    assert f"LLM{kind}EndEvent" in events.names
    if method.startswith("stream"):
        assert events.names.count(f"LLM{kind}InProgressEvent") > 1
    twin = method if mode == "sync" else "a" + method
    assert any(s.id_.startswith(f"DashScopeLLM.{twin}-") for s in spans.completed_spans)


@pytest.mark.parametrize("method", ["chat", "complete", "stream_chat", "stream_complete"])
async def test_token_counting_uses_server_usage(
    li_server: ServerHandle, emu: Emulator, mode: str, method: str
) -> None:
    counter = TokenCountingHandler()
    calls = Calls(_llm(li_server, counter), mode)
    emu.script.generation(
        "Nile, Amazon and Yangtze.", usage={"input_tokens": 17, "output_tokens": 9}
    )
    arg: Any = "Name three rivers" if "complete" in method else USER
    await getattr(calls, method)(arg)
    assert counter.prompt_llm_token_count == 17
    assert counter.completion_llm_token_count == 9
    assert counter.total_llm_token_count == 26
    assert len(counter.llm_token_counts) == 1


async def test_error_reaches_callbacks(li_server: ServerHandle, emu: Emulator, mode: str) -> None:
    recorder = Recorder()
    emu.script.error(500, "InternalError", "boom")
    llm = _llm(li_server, recorder)
    with pytest.raises(Exception, match="boom"):
        await Calls(llm, mode).chat(USER)
    ends = [p for kind, t, p in recorder.seen if kind == "end" and t == CBEventType.LLM]
    assert "exception" in ends[0]


@pytest.mark.parametrize("program_mode", ["default", "function"])
async def test_structured_predict_events(
    li_server: ServerHandle, emu: Emulator, events: Events, mode: str, program_mode: str
) -> None:
    llm = _llm(li_server)
    llm.pydantic_program_mode = PydanticProgramMode(program_mode)
    prompt = PromptTemplate("Make a river called {name}.")
    river = await Calls(llm, mode).structured_predict(River, prompt, name="Li")
    assert isinstance(river, River)
    structured = [n for n in events.names if n.startswith("LLMStructuredPredict")]
    assert structured == ["LLMStructuredPredictStartEvent", "LLMStructuredPredictEndEvent"]
    assert "LLMChatEndEvent" in events.names


def test_stored_signatures_are_the_methods_own() -> None:
    # the signatures stored for the span wrapper (llms._store_signatures) name what the code
    # of the function under the span takes
    for name in ("chat", "stream_chat", "achat", "astream_chat", "complete", "stream_complete",
                 "acomplete", "astream_complete"):  # fmt: skip
        inner = inspect.unwrap(getattr(DashScopeLLM, name))
        code, flags = inner.__code__, inner.__code__.co_flags
        count = code.co_argcount + code.co_kwonlyargcount
        count += bool(flags & inspect.CO_VARARGS) + bool(flags & inspect.CO_VARKEYWORDS)
        assert "__signature__" in vars(inner), name
        assert list(inspect.signature(getattr(DashScopeLLM, name)).parameters) == list(
            code.co_varnames[:count]
        )


@pytest.mark.parametrize("method", ["chat", "complete", "stream_chat", "stream_complete"])
async def test_spans_get_the_call_arguments(
    li_server: ServerHandle, emu: Emulator, mode: str, method: str
) -> None:
    # LlamaIndex's span wrapper binds each call's arguments to the method's signature
    handler = SpanArguments()
    get_dispatcher().add_span_handler(handler)
    try:
        arg: Any = "Name three rivers" if "complete" in method else USER
        await getattr(Calls(_llm(li_server), mode), method)(arg, seed=7)
    finally:
        get_dispatcher().span_handlers.remove(handler)
    bound = [a for a in handler.arguments if a.get("kwargs") == {"seed": 7}]
    assert len(bound) == 1
    assert arg in bound[0].values() or (arg,) in bound[0].values()
