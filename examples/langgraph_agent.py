"""A LangGraph tool loop with ChatDashScope and two tools, streaming messages token by token.

    python examples/langgraph_agent.py "What is the weather in 'Hangzhou'?"

Without DASHSCOPE_API_KEY it runs against the embedded emulator (printed endpoint).
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

from _backend import Backend, backend
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_dashscope_ext import ChatDashScope

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"{city}: sunny, 21 C"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


QUESTION = "What is the weather in 'Hangzhou'? Also add 2 and 3."


def build_agent(api_key: str, base_url: str | None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A ReAct agent (LangGraph's prebuilt graph) over ChatDashScope."""
    from langgraph.prebuilt import create_react_agent

    model = ChatDashScope(model="qwen-plus", api_key=api_key, base_url=base_url)
    # create_react_agent now lives in `langchain.agents` (create_agent); this project does not
    # depend on `langchain`, so the LangGraph prebuilt is used and its notice silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return create_react_agent(model, [get_weather, add])


def run(where: Backend, question: str = QUESTION) -> None:
    """Run the tool loop and print tokens, tool calls and tool results as they arrive."""
    print(f"question> {question}")
    agent = build_agent(where.api_key, where.base_url)
    inputs = {"messages": [HumanMessage(question)]}
    for message, _meta in agent.stream(inputs, stream_mode="messages"):
        if isinstance(message, AIMessageChunk):
            print(message.text, end="", flush=True)
            for call in message.tool_call_chunks:
                if call.get("name"):
                    print(f"\n[tool call] {call['name']}", end="", flush=True)
        elif isinstance(message, ToolMessage):
            print(f"\n[tool result] {message.name}: {message.text}")
    print()


if __name__ == "__main__":
    with backend() as target:
        print(target.describe())
        run(target, " ".join(sys.argv[1:]) or QUESTION)
