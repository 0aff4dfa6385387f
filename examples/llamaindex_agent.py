"""A LlamaIndex FunctionAgent with two tools on DashScopeLLM, streaming its steps.

    python examples/llamaindex_agent.py "Multiply 6 by 7, and add 2 and 3."

Without DASHSCOPE_API_KEY it runs against the embedded emulator (printed endpoint), whose model
calls the tools named in the question, in parallel, then answers from their results.
"""

from __future__ import annotations

import asyncio
import sys

from _backend import Backend, backend
from llama_index.core.agent.workflow import AgentStream, FunctionAgent, ToolCall, ToolCallResult

from llamaindex_dashscope_ext import DashScopeLLM


def multiply(a: float, b: float) -> float:
    """Multiply two numbers a and b."""
    return a * b


def add(a: float, b: float) -> float:
    """Add two numbers a and b."""
    return a + b


async def _run_agent(llm: DashScopeLLM, agent: FunctionAgent, question: str) -> None:
    """Run the agent once, printing tool calls, their results and the streamed answer."""
    handler = agent.run(user_msg=question)
    async for event in handler.stream_events():
        if isinstance(event, ToolCallResult):
            print(f"  <- {event.tool_name}: {event.tool_output.content}")
        elif isinstance(event, ToolCall):
            print(f"  -> {event.tool_name}({event.tool_kwargs})")
        elif isinstance(event, AgentStream) and event.delta:
            print(event.delta, end="", flush=True)
    await handler
    print()
    await llm.aclose()


QUESTION = "Multiply 6 by 7, and add 2 and 3."


def run(where: Backend, question: str = QUESTION) -> None:
    """Build the agent and answer ``question``."""
    llm = DashScopeLLM(model="qwen-plus", api_key=where.api_key, base_url=where.base_url)
    agent = FunctionAgent(
        tools=[multiply, add],
        llm=llm,
        system_prompt="You are a calculator. Use the tools for every arithmetic step.",
    )
    print(f"> {question}")
    asyncio.run(_run_agent(llm, agent, question))


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target, " ".join(sys.argv[1:]) or QUESTION)
