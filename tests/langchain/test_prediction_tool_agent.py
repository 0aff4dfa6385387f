"""The prediction tool in LangChain's standard tool suites and in a LangGraph ReAct agent."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests
from langgraph.prebuilt import create_react_agent  # langchain.agents is not installed

from dashscope_core import DashScope
from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.state import Emulator
from langchain_dashscope_ext import ChatDashScope
from langchain_dashscope_ext.tools import DashScopePredictionTool

KEY = "sk-test-prediction-agent"
pytestmark = pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
_STATE: dict[str, ServerHandle] = {}


@pytest.fixture(autouse=True)
def _live(server: ServerHandle) -> Iterator[None]:
    _STATE["server"] = server
    server.emulator.reset()
    yield
    server.emulator.reset()


def _tool(model: str = "emulator/image-maker", **fields: Any) -> DashScopePredictionTool:
    client = DashScope(api_key=KEY, base_url=_STATE["server"].base_url, max_retries=0)
    return DashScopePredictionTool.from_model(client, model, **fields)


class TestPredictionToolUnit(ToolsUnitTests):
    """The stock unit suite: a tool built from the image model's schema."""

    @property
    def tool_constructor(self) -> BaseTool:
        return _tool()

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a red fox", "scheduler": "DDIM", "width": 128, "height": 128}


class TestPredictionToolIntegration(ToolsIntegrationTests):
    """The stock integration suite: real runs on the emulator, sync and async."""

    @property
    def tool_constructor(self) -> BaseTool:
        return _tool()

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"prompt": "a red fox", "num_outputs": 2}


QUESTION = "Please greet 'Ada' with the hello-world model and tell me what it said."


def _agent(server: ServerHandle) -> tuple[Any, DashScopePredictionTool]:
    tool = _tool("emulator/hello-world", name="hello_world")
    model = ChatDashScope(api_key=KEY, base_url=server.base_url, max_retries=0)
    return create_react_agent(model, [tool]), tool


def _check(messages: list[Any], emu: Emulator) -> None:
    calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert calls[0].tool_calls[0]["name"] == "hello_world"
    results = [m for m in messages if isinstance(m, ToolMessage)]
    assert [r.content for r in results] == ["hello Ada"]
    assert results[0].artifact["output"] == "hello Ada"
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert "hello Ada" in final.text  # the emulator answers from the latest tool result
    assert [r.json["input"] for r in emu.received("predictions.create")] == [{"text": "Ada"}]
    tools_sent = emu.received("generation")[0].json["parameters"]["tools"]
    params = tools_sent[0]["function"]["parameters"]
    assert params["required"] == ["text"] and "x-order" not in str(params)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_langgraph_agent_calls_the_prediction_tool(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    agent, _ = _agent(server)
    emu.script.generation(tool_calls=[{"name": "hello_world", "arguments": {"text": "Ada"}}])
    inputs = {"messages": [HumanMessage(QUESTION)]}
    result = agent.invoke(inputs) if mode == "sync" else asyncio.run(agent.ainvoke(inputs))
    _check(result["messages"], emu)


def test_langgraph_agent_sees_a_failed_run_as_a_tool_error(
    server: ServerHandle, emu: Emulator
) -> None:
    tool = _tool("emulator/always-fails", name="flaky")
    model = ChatDashScope(api_key=KEY, base_url=server.base_url, max_retries=0)
    agent = create_react_agent(model, [tool])
    emu.script.generation(tool_calls=[{"name": "flaky", "arguments": {"message": "disk full"}}])
    result = agent.invoke({"messages": [HumanMessage("Run flaky.")]})
    errors = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert errors[0].status == "error" and "disk full" in errors[0].content
    assert isinstance(result["messages"][-1], AIMessage)


def test_prediction_agent_example_runs_offline_with_a_progress_bar() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHSCOPE_")}
    done = subprocess.run([sys.executable, "prediction_agent.py"], cwd=examples, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(embedded emulator)" in done.stdout
    # text mode turns the bar's "\r" redraws into line breaks
    bars = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("[")]
    assert any(bar.endswith("processing") for bar in bars), done.stdout
    assert "100% 5/5 succeeded" in done.stdout and "[tool result] 5" in done.stdout
