"""DashScopeLLM.metadata comes from the core's profile table; agents accept the flagships."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent
from llama_index.core.tools import FunctionTool

from llamaindex_dashscope_ext import DashScopeLLM


@pytest.mark.parametrize(
    ("model", "window", "output", "fc"),
    [("qwen3.5-plus", 1_000_000, 65_536, True), ("qwen3.5-flash", 1_000_000, 65_536, True),
     ("qwen3.6-plus", 1_000_000, 65_536, True), ("qwen-plus", 1_000_000, 32_768, True),
     ("qwen-max", 32_768, 8_192, True), ("deepseek-v3.2", 131_072, 65_536, True),
     ("kimi-k2-thinking", 262_144, 16_384, True), ("glm-4.6", 202_752, 16_384, True),
     ("qwen-long", 10_000_000, 8_192, False), ("my-finetune", 8_192, 2_048, False)],
)  # fmt: skip
def test_metadata(model: str, window: int, output: int, fc: bool) -> None:
    metadata = DashScopeLLM(model=model, api_key="sk-test").metadata
    assert (metadata.context_window, metadata.num_output) == (window, output)
    assert metadata.is_function_calling_model is fc and metadata.is_chat_model
    assert metadata.model_name == model


def test_overrides_win() -> None:
    llm = DashScopeLLM(
        model="my-finetune", api_key="sk-test", context_window=32_000,
        is_function_calling_model=True, max_tokens=512,
    )  # fmt: skip
    metadata = llm.metadata
    assert (metadata.context_window, metadata.num_output) == (32_000, 512)
    assert metadata.is_function_calling_model


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_function_agent_accepts_the_flagships() -> None:
    llm = DashScopeLLM(model="qwen3.5-plus", api_key="sk-test")
    tool = FunctionTool.from_defaults(_add)
    assert isinstance(FunctionAgent(tools=[tool], llm=llm), FunctionAgent)
    workflow = AgentWorkflow.from_tools_or_functions([_add], llm=llm)
    assert all(isinstance(agent, FunctionAgent) for agent in workflow.agents.values())
