"""Acceptance: LlamaIndex's own pipelines, set up as a new user would, on an independent server.

The server (``_independent``) is not our emulator: it answers in the shape of the recorded
production traffic, replays recorded bodies verbatim and splits streams anywhere. The user code
only sets ``DASHSCOPE_API_KEY`` / ``DASHSCOPE_BASE_URL`` and ``Settings``, with default arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import (
    AgentOutput,
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ToolCall,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

from ._independent import EMBEDDING, IndependentDashScope, load, recorded

KEY = "sk-independent-acceptance-0123"
DOCS = [
    "The Yangtze is the longest river in Asia, flowing 6,300 km to Shanghai.",
    "Hangzhou is famous for West Lake and Longjing tea.",
    "DashScope serves the Qwen family of large language models.",
]
WEATHER = {
    "浙江省杭州市": "浙江省杭州市 大部多云，摄氏 18 度",
    "上海市": "上海市 多云转小雨，摄氏 19 度",
}
RECORDED_TOOLS = json.loads(load("single-generation-message-with-tools-sse.request.body.json"))


@pytest.fixture(autouse=True)
def user_setup(ds: IndependentDashScope, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Env and ``Settings`` set as a user would, restored afterwards."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", ds.base_url)
    saved = Settings._llm, Settings._embed_model, Settings._callback_manager
    Settings.llm = DashScopeLLM()
    Settings.embed_model = DashScopeEmbedding()
    yield
    Settings._llm, Settings._embed_model, Settings._callback_manager = saved


def _index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents([Document(text=t) for t in DOCS])


def get_current_weather(location: str) -> str:
    """获取现在的天气"""
    return WEATHER[location]


def _recorded_weather_calls() -> list[dict[str, str]]:
    calls = RECORDED_TOOLS["input"]["messages"][1]["tool_calls"]
    return [{"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in calls]  # fmt: skip


def _recorded_answer() -> str:
    frames = load("single-generation-message-with-tools-sse.response.body.txt").decode()
    bodies = [json.loads(line[5:]) for line in frames.splitlines() if line.startswith("data:")]
    return "".join(b["output"]["choices"][0]["message"]["content"] for b in bodies)


def test_query_engine_with_default_arguments(ds: IndependentDashScope) -> None:
    index = _index()
    ds.answer("The Yangtze is the longest river in Asia.")
    response = index.as_query_engine(similarity_top_k=1).query(
        "Which river is the longest in Asia?"
    )
    assert str(response) == "The Yangtze is the longest river in Asia."
    assert "Yangtze" in response.source_nodes[0].node.get_content()
    kinds = [r.json["parameters"]["text_type"] for r in ds.requests(EMBEDDING)]
    assert kinds == ["document", "query"]
    (sent,) = ds.requests()
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json["model"] == "qwen-plus"
    assert "max_tokens" not in sent.json["parameters"]  # the server default applies
    assert "Yangtze" in sent.json["input"]["messages"][-1]["content"]


async def test_streaming_query_engine_async(ds: IndependentDashScope) -> None:
    index = _index()
    ds.answer("Hangzhou is famous for West Lake and Longjing tea.", pieces=5)
    engine = index.as_query_engine(streaming=True, similarity_top_k=1)
    response = await engine.aquery("What is Hangzhou famous for?")
    tokens = [t async for t in response.async_response_gen()]  # type: ignore[union-attr]
    assert len([t for t in tokens if t]) == 5  # the final frame may carry an empty delta
    assert "".join(tokens) == "Hangzhou is famous for West Lake and Longjing tea."
    assert "Hangzhou" in response.source_nodes[0].node.get_content()
    assert ds.requests()[0].headers["x-dashscope-sse"] == "enable"


def test_chat_engine_default_mode_keeps_history(ds: IndependentDashScope) -> None:
    engine = _index().as_chat_engine()
    ds.answer("Hangzhou is famous for West Lake.")
    assert str(engine.chat("What is Hangzhou famous for?")) == "Hangzhou is famous for West Lake."
    ds.answer("What tea is Hangzhou famous for?")  # the condensed question
    ds.answer("Longjing tea.", pieces=2)
    streamed = engine.stream_chat("And its tea?")
    assert "".join(streamed.response_gen) == "Longjing tea."
    condense, answer = ds.requests()[1:]
    assert "West Lake" in json.dumps(condense.json["input"]["messages"], ensure_ascii=False)
    assert ds.requests(EMBEDDING)[-1].json["input"]["texts"] == ["What tea is Hangzhou famous for?"]
    assert any("Longjing" in str(m["content"]) for m in answer.json["input"]["messages"])


async def test_function_agent_on_recorded_parallel_tool_calls(ds: IndependentDashScope) -> None:
    tool = FunctionTool.from_defaults(get_current_weather)
    agent = FunctionAgent(tools=[tool])
    ds.answer(tool_calls=_recorded_weather_calls())
    ds.replay(recorded("single-generation-message-with-tools-sse"))
    handler = agent.run(user_msg="杭州上海现在的天气如何？")
    calls, deltas = [], []
    async for event in handler.stream_events():
        if isinstance(event, ToolCall):
            calls.append((event.tool_id, event.tool_kwargs))
        elif isinstance(event, AgentStream):
            deltas.append(event.delta)
    output: AgentOutput = await handler
    assert calls == [(c["id"], json.loads(c["arguments"])) for c in _recorded_weather_calls()]
    assert str(output.response.content) == _recorded_answer() != ""
    assert "".join(deltas) == _recorded_answer()
    first, second = ds.requests()
    assert first.json["parameters"]["parallel_tool_calls"] is True
    function = first.json["parameters"]["tools"][0]["function"]
    assert function["parameters"]["required"] == ["location"]  # inside the parameters schema
    # what LlamaIndex sends back is the recorded production request, message for message
    assert second.json["input"]["messages"] == RECORDED_TOOLS["input"]["messages"]


async def test_agent_workflow_keeps_streamed_argument_fragments(ds: IndependentDashScope) -> None:
    seen: list[str] = []

    def weather(city: str, unit: str = "celsius") -> str:
        """Current weather in a city."""
        seen.append(city)
        return f"{city}: 21 degrees {unit}"

    workflow = AgentWorkflow.from_tools_or_functions([weather])
    # fragments cut at the space inside "New York" (llama-index-llms-dashscope strips them)
    fragments = ['{"city": "New', " ", 'York", "unit": ', '"fahrenheit"}']
    arguments = "".join(fragments)
    call = {"id": "call_ny", "name": "weather", "arguments": arguments, "fragments": fragments}
    ds.answer(tool_calls=[call])
    ds.answer("It is 21 degrees in New York.")
    result: AgentOutput = await workflow.run(user_msg="Weather in New York?")
    assert seen == ["New York"]
    assert str(result.response.content) == "It is 21 degrees in New York."
    sent = ds.requests()[1].json["input"]["messages"]
    assert sent[-2]["tool_calls"][0]["function"]["arguments"] == arguments
    assert sent[-1] == {"role": "tool", "content": "New York: 21 degrees fahrenheit",
                        "tool_call_id": "call_ny"}  # fmt: skip


def test_sync_stream_chat_with_tools_keeps_tool_calls(ds: IndependentDashScope) -> None:
    tool = FunctionTool.from_defaults(get_current_weather)
    ds.answer(tool_calls=_recorded_weather_calls(), pieces=4)
    llm = Settings.llm
    assert isinstance(llm, DashScopeLLM)
    responses = list(llm.stream_chat_with_tools([tool], user_msg="杭州上海现在的天气如何？"))
    assert len(responses) > 2  # streamed: one response per fragment
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [(s.tool_id, s.tool_kwargs) for s in selections] == [
        ("call_cec4c19d27624537b583af", {"location": "浙江省杭州市"}),
        ("call_dxjdop3d27624537b583af", {"location": "上海市"}),
    ]


def test_predict_and_call(ds: IndependentDashScope) -> None:
    ds.answer(tool_calls=_recorded_weather_calls()[:1])
    tool = FunctionTool.from_defaults(get_current_weather)
    output = Settings.llm.predict_and_call([tool], "杭州现在的天气如何？")
    assert str(output) == WEATHER["浙江省杭州市"]


class City(BaseModel):
    """A city."""

    name: str
    population: int


PROMPT = PromptTemplate("Describe {city}.")


async def test_structured_predict_native_schema(ds: IndependentDashScope) -> None:
    ds.answer('{"name": "Paris", "population": 2100000}')
    city = await Settings.llm.astructured_predict(City, PROMPT, city="Paris")
    assert city == City(name="Paris", population=2100000)
    fmt = ds.requests()[0].json["parameters"]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"]["required"] == ["name", "population"]
    ds.answer('{"name": "Paris", "population": 2100000}', pieces=6)
    partials = list(Settings.llm.stream_structured_predict(City, PROMPT, city="Paris"))
    assert partials[-1] == city


async def test_structured_predict_by_forced_tool_call(ds: IndependentDashScope) -> None:
    llm = DashScopeLLM("qwen2.5-7b-instruct")  # no native JSON schema: a forced tool call
    rome = {"id": "c1", "name": "City", "arguments": '{"name": "Rome", "population": 2800000}'}
    ds.answer(tool_calls=[rome], finish="stop")  # PROTOCOL.md: a forced call may end in "stop"
    assert llm.structured_predict(City, PROMPT, city="Rome") == City(
        name="Rome", population=2800000
    )
    parameters = ds.requests()[0].json["parameters"]
    assert parameters["tool_choice"] == {"type": "function", "function": {"name": "City"}}
    assert "response_format" not in parameters
    ds.answer(tool_calls=[rome], finish="stop", pieces=5)
    partials = [p async for p in await llm.astream_structured_predict(City, PROMPT, city="Rome")]
    assert partials[-1] == City(name="Rome", population=2800000)


def test_token_counting_handler_counts_server_usage(ds: IndependentDashScope) -> None:
    counter = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([counter])
    llm = DashScopeLLM()
    ds.answer("one two three four", pieces=4)
    "".join(r.delta or "" for r in llm.stream_complete("count"))
    ds.answer("five six")
    llm.complete("count")
    assert counter.prompt_llm_token_count == 40  # 20 + 20: counted once per call
    assert counter.completion_llm_token_count == 6
