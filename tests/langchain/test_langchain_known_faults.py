"""ChatTongyi's and the compatible-mode wrappers' known faults, each shown absent on the wire.

Issue 3 lists them: async as a thread wrapper, ``.stream()`` not streaming, no usage, dropped
temperature/max_tokens/stop/timeout, tool calls dropped from history, parallel tool calls
crashing while streaming, provider "openai", ``tool_choice="any"`` turned into "auto",
json_schema turned into prompt-injected JSON mode, thinking switched off as a side effect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypedDict

import pytest
from _langchain_helpers import add, get_weather, joined
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.state import Emulator
from dashscope_core.errors import APITimeoutError
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings, DashScopeLLM

KEY = "sk-known-faults"


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def chat(server: ServerHandle, **kw: Any) -> ChatDashScope:
    return ChatDashScope(api_key=KEY, base_url=server.base_url, **kw)


# ------------------------------------------------------------------------ real async


class _RecordingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor: what ``run_in_executor(None, ...)`` hands to a thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.submitted: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.submitted.append(getattr(fn, "__name__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


def _threads_used(work: Callable[[], Coroutine[Any, Any, Any]]) -> list[str]:
    async def main() -> list[str]:
        executor = _RecordingExecutor()
        asyncio.get_running_loop().set_default_executor(executor)
        await work()
        return executor.submitted

    # name resolution is the loop's own business (loop.getaddrinfo runs in the executor)
    return [name for name in asyncio.run(main()) if name != "getaddrinfo"]


def test_async_is_real_async_not_a_thread_wrapper(server: ServerHandle) -> None:
    model, text = chat(server), DashScopeLLM(api_key=KEY, base_url=server.base_url)
    emb = DashScopeEmbeddings(api_key=KEY, base_url=server.base_url)

    async def work() -> None:
        await model.ainvoke("Hello")
        assert len([c async for c in model.astream("Hello there")]) > 2
        await model.abatch(["a", "b"])
        await text.ainvoke("Hello")
        assert len([c async for c in text.astream("Hello there")]) > 2
        await emb.aembed_documents(["a", "b"])
        await emb.aembed_query("a")

    assert _threads_used(work) == []
    # the check can fail: a model without native async (ChatTongyi's case) runs in a thread
    fake = GenericFakeChatModel(messages=iter([AIMessage("hi")]))

    async def wrapped() -> None:
        await fake.ainvoke("Hello")

    assert _threads_used(wrapped) != []


# ------------------------------------------------------------ parameters on the wire


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_sampling_parameters_and_stop_reach_the_wire(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    model = chat(server, temperature=0.2, top_p=0.9, max_tokens=40)
    overrides = {"temperature": 0.7, "max_tokens": 3}
    if mode == "invoke":
        message = model.invoke("one two three four five six", stop=["six"], **overrides)
    else:
        message = joined(list(model.stream("one two three four five six", stop=["six"],
                                          **overrides)))  # fmt: skip
    params = emu.received("generation")[0].json["parameters"]
    assert params["temperature"] == 0.7 and params["top_p"] == 0.9
    assert params["max_tokens"] == 3 and params["stop"] == ["six"]
    assert message.response_metadata["finish_reason"] == "length"  # the server honoured it
    assert message.usage_metadata["output_tokens"] == 3


def test_timeout_is_honoured_and_typed(server: ServerHandle, emu: Emulator) -> None:
    emu.faults.queue("slow_first_byte", delay=1.0, route="generation", times=2)
    model = chat(server, timeout=0.2, max_retries=0)
    with pytest.raises(APITimeoutError):
        model.invoke("Hello")
    with pytest.raises(APITimeoutError):
        list(model.stream("Hello"))


# ------------------------------------------------------------------ streaming, usage


async def test_stream_without_streaming_flag_streams_with_usage_on_the_last_chunk(
    server: ServerHandle, emu: Emulator
) -> None:
    chunks = [c async for c in chat(server).astream("Tell me a story about the sea")]
    assert len(chunks) > 3
    assert emu.received("generation")[0].headers["x-dashscope-sse"] == "enable"
    assert [c.usage_metadata is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    full = joined(chunks)
    assert full.usage_metadata["total_tokens"] == (
        full.usage_metadata["input_tokens"] + full.usage_metadata["output_tokens"]
    )
    assert full.response_metadata["model_provider"] == "dashscope"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_parallel_tool_calls_stream_by_index(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    emu.script.generation(tool_calls=[
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_weather", "arguments": {"city": "Rome"}},
        {"name": "add", "arguments": {"a": 2, "b": 3}},
    ])  # fmt: skip
    bound = chat(server).bind_tools([get_weather, add], parallel_tool_calls=True)
    if mode == "sync":
        chunks = list(bound.stream("weather in Paris and Rome, and 2 + 3"))
    else:
        chunks = [c async for c in bound.astream("weather in Paris and Rome, and 2 + 3")]
    pieces = [tc for c in chunks for tc in c.tool_call_chunks]
    assert {p["index"] for p in pieces} == {0, 1, 2}
    assert [p["name"] for p in pieces if p["name"]] == ["get_weather", "get_weather", "add"]
    full = joined(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [
        ("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"}),
        ("add", {"a": 2, "b": 3}),
    ]  # fmt: skip
    assert len({c["id"] for c in full.tool_calls}) == 3 and full.invalid_tool_calls == []
    assert emu.received("generation")[0].json["parameters"]["parallel_tool_calls"] is True


# ---------------------------------------------------------------------------- history


def test_tool_calls_built_by_hand_are_kept_in_history(server: ServerHandle, emu: Emulator) -> None:
    history = [
        SystemMessage("Be brief."),
        HumanMessage("Weather in Paris and Rome?"),
        AIMessage(
            "",
            tool_calls=[
                {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"},
                {"name": "get_weather", "args": {"city": "Rome"}, "id": "call_2"},
            ],
        ),
        ToolMessage("Paris: sunny", tool_call_id="call_1"),
        ToolMessage("Error: service down", tool_call_id="call_2", status="error"),
    ]
    chat(server).bind_tools([get_weather]).invoke(history)
    wire = emu.received("generation")[0].json["input"]["messages"]
    assert [m["role"] for m in wire] == ["system", "user", "assistant", "tool", "tool"]
    calls = wire[2]["tool_calls"]
    assert [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("call_1", "get_weather", '{"city": "Paris"}'),
        ("call_2", "get_weather", '{"city": "Rome"}'),
    ]
    assert [(m["tool_call_id"], m["content"]) for m in wire[3:]] == [
        ("call_1", "Paris: sunny"), ("call_2", "Error: service down"),
    ]  # fmt: skip


# ------------------------------------------------------------------- tool_choice="any"


def test_any_is_forced_or_explicit_never_silently_auto(server: ServerHandle, emu: Emulator) -> None:
    chat(server).bind_tools([add], tool_choice="any").invoke("Hi")
    one = emu.received("generation")[0].json["parameters"]["tool_choice"]
    assert one == {"type": "function", "function": {"name": "add"}}
    emu.script.generation(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 2}}])
    message = chat(server).bind_tools([get_weather, add], tool_choice="any").invoke("Hi")
    assert message.tool_calls[0]["name"] == "add"
    # two tools: "auto" plus a system instruction that names them, checked on the answer
    sent = emu.received("generation")[1].json
    assert sent["parameters"]["tool_choice"] == "auto"
    assert "get_weather, add" in sent["input"]["messages"][0]["content"]


# ------------------------------------------------------------------- structured output


class PersonDict(TypedDict):
    """A person."""

    name: str
    age: int


@pytest.mark.parametrize("schema", [Person, PersonDict, Person.model_json_schema()])
def test_json_schema_is_sent_as_response_format_json_schema(
    server: ServerHandle, emu: Emulator, schema: Any
) -> None:
    emu.script.generation(text='{"name": "Ada", "age": 36}')
    result = chat(server).with_structured_output(schema).invoke("Who wrote the first program?")
    parsed = result.model_dump() if isinstance(result, BaseModel) else result
    assert parsed == {"name": "Ada", "age": 36}
    assert isinstance(result, BaseModel) == (schema is Person)
    body = emu.received("generation")[0].json
    fmt = body["parameters"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["properties"].keys() == {"name", "age"}
    assert "tools" not in body["parameters"] and "tool_choice" not in body["parameters"]
    # no instruction injected into the prompt
    question = {"role": "user", "content": "Who wrote the first program?"}
    assert body["input"]["messages"] == [question]


def test_function_calling_forces_the_schema_tool_by_name(
    server: ServerHandle, emu: Emulator
) -> None:
    runnable = chat(server).with_structured_output(Person, method="function_calling",
                                                   include_raw=True)  # fmt: skip
    out = runnable.invoke("Ada is 36")
    assert isinstance(out["parsed"], Person) and out["parsing_error"] is None
    params = emu.received("generation")[0].json["parameters"]
    assert params["tool_choice"] == {"type": "function", "function": {"name": "Person"}}


def test_json_mode_without_a_schema_sends_json_object(server: ServerHandle, emu: Emulator) -> None:
    emu.script.generation(text='{"a": 1}')
    assert chat(server).with_structured_output(method="json_mode").invoke("JSON with a") == {"a": 1}
    assert emu.received("generation")[0].json["parameters"]["response_format"] == {
        "type": "json_object"
    }


# --------------------------------------------------------------------------- thinking


def test_structured_output_turns_thinking_off_where_the_model_allows_it(
    server: ServerHandle, emu: Emulator
) -> None:
    thinking = chat(server, enable_thinking=True)
    thinking.bind_tools([get_weather, add]).invoke("What is 2 + 3?")
    assert emu.received("generation")[0].json["parameters"]["enable_thinking"] is True
    for method in ("json_schema", "function_calling"):
        emu.reset()
        person = thinking.with_structured_output(Person, method=method).invoke("Ada is 36")
        assert isinstance(person, Person)
        (sent,) = emu.received("generation")
        assert sent.json["parameters"]["enable_thinking"] is False
    with pytest.raises(ValueError, match=r"tool_choice.*thinking mode"):
        chat(server).bind_tools([add], tool_choice="add").invoke("Hi", enable_thinking=True)


def test_a_model_that_always_thinks_answers_structured_output_by_a_tool_call(
    server: ServerHandle, emu: Emulator
) -> None:
    person = chat(server, model="qwq-plus").with_structured_output(Person).invoke("Ada is 36")
    assert isinstance(person, Person)
    (sent,) = emu.received("generation")
    assert (
        sent.json["parameters"]["tool_choice"] == "auto"
        and "enable_thinking" not in sent.json["parameters"]
    )
    assert sent.headers["x-dashscope-sse"] == "enable"  # qwq answers only as a stream


# ------------------------------------------------------------------ logprobs, n choices


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_logprobs_when_asked_cover_every_token(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    model = chat(server, logprobs=True, top_logprobs=2)
    if mode == "invoke":
        message = model.invoke("Tell me about the sea")
    else:
        message = joined(list(model.stream("Tell me about the sea")))
    tokens = message.response_metadata["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == message.text  # none dropped while streaming
    params = emu.received("generation")[0].json["parameters"]
    assert (params["logprobs"], params["top_logprobs"]) == (True, 2)


def test_n_choices_become_n_generations(server: ServerHandle, emu: Emulator) -> None:
    result = chat(server, n=2, seed=1).generate([[HumanMessage("Hello")]])
    assert len(result.generations[0]) == 2
    assert all(g.message.usage_metadata for g in result.generations[0])
    assert emu.received("generation")[0].json["parameters"]["n"] == 2
