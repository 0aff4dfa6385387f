"""LlamaIndex's own pipelines over DashScopeLLM + DashScopeEmbedding, as a new user runs them."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import (
    AgentOutput,
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ToolCallResult,
)
from llama_index.core.tools import FunctionTool

from dashscope_core.emulator import Emulator
from llamaindex_dashscope_ext import DashScopeEmbedding, DashScopeLLM

DOCS = [
    Document(text="The Yangtze is the longest river in Asia, flowing 6,300 km to Shanghai."),
    Document(text="Hangzhou is famous for West Lake and Longjing tea."),
    Document(text="DashScope serves the Qwen family of large language models."),
]


def multiply(a: float, b: float) -> float:
    """Multiply two numbers a and b."""
    return a * b


def add(a: float, b: float) -> float:
    """Add two numbers a and b."""
    return a + b


TOOLS = [FunctionTool.from_defaults(multiply), FunctionTool.from_defaults(add)]
CALLS = [
    {"name": "multiply", "arguments": {"a": 6, "b": 7}, "id": "call_mul"},
    {"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_add"},
]


@pytest.fixture
def index(embed_model: DashScopeEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=embed_model)


def test_query_engine_streams(
    index: VectorStoreIndex, llm: DashScopeLLM, emu: Emulator, li_settings: None
) -> None:
    documents = [r.json["parameters"]["text_type"] for r in emu.received("embeddings")]
    assert documents == ["document"]
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=1)
    emu.script.generation("The Yangtze is the longest river in Asia.")
    response = engine.query("Which is the longest river in Asia?")
    tokens = list(response.response_gen)  # type: ignore[union-attr]
    assert len(tokens) > 1
    assert "".join(tokens) == "The Yangtze is the longest river in Asia."
    assert "Yangtze" in response.source_nodes[0].node.get_content()
    query = emu.received("embeddings")[-1].json
    assert query["parameters"]["text_type"] == "query"
    prompt = emu.received("generation")[-1].json["input"]["messages"]
    assert "Yangtze" in str(prompt)  # the retrieved context reached the model


async def test_async_query_engine_streams(
    index: VectorStoreIndex, llm: DashScopeLLM, emu: Emulator
) -> None:
    engine = index.as_query_engine(llm=llm, streaming=True, similarity_top_k=2)
    response = await engine.aquery("What is Hangzhou famous for?")
    tokens = [t async for t in response.async_response_gen()]  # type: ignore[union-attr]
    # unscripted, the emulator answers a RAG prompt by quoting the best context sentence
    assert "".join(tokens) == "Hangzhou is famous for West Lake and Longjing tea."
    assert emu.received("generation")[-1].headers["x-dashscope-sse"] == "enable"


@pytest.mark.parametrize("chat_mode", ["context", "condense_plus_context"])
def test_unscripted_chat_engine_answers_from_context(
    index: VectorStoreIndex, llm: DashScopeLLM, emu: Emulator, chat_mode: str
) -> None:
    engine = index.as_chat_engine(chat_mode=chat_mode, llm=llm)  # type: ignore[arg-type]
    answer = engine.chat("Which river is the longest in Asia?")
    assert str(answer) == DOCS[0].text


async def test_chat_engine(index: VectorStoreIndex, llm: DashScopeLLM, emu: Emulator) -> None:
    engine = index.as_chat_engine(chat_mode="condense_plus_context", llm=llm)
    emu.script.generation("Hangzhou is famous for West Lake.")
    first = engine.stream_chat("What is Hangzhou famous for?")
    assert "".join(first.response_gen) == "Hangzhou is famous for West Lake."
    second = await engine.astream_chat("And its tea?")
    text = "".join([t async for t in second.async_response_gen()])
    assert text
    last = emu.received("generation")[-1].json["input"]["messages"]
    assert any("West Lake" in str(m["content"]) for m in last)  # history was sent back


async def test_function_agent_parallel_streaming(llm: DashScopeLLM, emu: Emulator) -> None:
    agent = FunctionAgent(tools=TOOLS, llm=llm, system_prompt="Use the tools for arithmetic.")
    emu.script.generation(tool_calls=CALLS)
    emu.script.generation("6 times 7 is 42 and 2 plus 3 is 5.")
    handler = agent.run(user_msg="What is 6 times 7, and 2 plus 3?")
    results, deltas = [], []
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            results.append((event.tool_name, event.tool_id, event.tool_output.content))
        elif isinstance(event, AgentStream):
            deltas.append(event.delta)
    output = await handler
    assert sorted(results) == [("add", "call_add", "5"), ("multiply", "call_mul", "42")]
    assert str(output.response.content) == "6 times 7 is 42 and 2 plus 3 is 5."
    assert "".join(deltas).endswith("6 times 7 is 42 and 2 plus 3 is 5.")
    first, second = emu.received("generation")
    assert first.json["parameters"]["parallel_tool_calls"] is True
    sent = second.json["input"]["messages"]
    assert sent[0] == {"role": "system", "content": "Use the tools for arithmetic."}
    tool_msgs = {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}
    assert tool_msgs == {"call_mul": "42", "call_add": "5"}


async def test_agent_workflow(llm: DashScopeLLM, emu: Emulator) -> None:
    workflow = AgentWorkflow.from_tools_or_functions([multiply, add], llm=llm)
    emu.script.generation(tool_calls=CALLS[:1])
    emu.script.generation("The answer is 42.")
    handler = workflow.run(user_msg="Multiply 6 by 7")
    outputs = [e async for e in handler.stream_events() if isinstance(e, AgentOutput)]
    result = await handler
    assert outputs[0].tool_calls[0].tool_kwargs == {"a": 6, "b": 7}
    assert str(result.response.content) == "The answer is 42."
    assert len(emu.received("generation")) == 2


async def test_agent_without_script_uses_emulator_tool_selection(
    llm: DashScopeLLM, emu: Emulator
) -> None:
    agent = FunctionAgent(tools=TOOLS, llm=llm)
    output = await agent.run(user_msg="Please multiply 3 and 4")
    assert output.tool_calls
    assert output.tool_calls[0].tool_name == "multiply"
