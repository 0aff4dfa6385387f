"""An agent calls a long-running prediction tool, with a progress bar in the terminal.

    python examples/prediction_agent.py

The tool is built from the model's OpenAPI schema (``DashScopePredictionTool.from_model``);
while the prediction runs, its ``prediction_progress`` callback events (parsed from the
model's tqdm log lines) redraw a text bar. Without DASHSCOPE_API_KEY it runs against the
embedded emulator and its ``emulator/slow-counter`` model.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from _backend import Backend, backend
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from dashscope_core import DashScope
from langchain_dashscope_ext import ChatDashScope, DashScopePredictionTool

MODEL = os.environ.get("PREDICTION_MODEL", "emulator/slow-counter")
BAR_WIDTH = 30


def progress_bar(data: dict[str, Any]) -> str:
    """One line such as ``[#########.....]  60% 3/5 processing``."""
    fraction = float(data.get("percentage") or 0.0)
    filled = round(BAR_WIDTH * fraction)
    steps = f" {data['current']}/{data['total']}" if "total" in data else ""
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"[{bar}] {fraction:4.0%}{steps} {data.get('status', '')}"


class ProgressPrinter(BaseCallbackHandler):
    """Redraws the bar in place on each ``prediction_progress`` event."""

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        if name == "prediction_progress":
            end = "\n" if data.get("status") in ("succeeded", "failed", "canceled") else ""
            print(f"\r  {progress_bar(data)}", end=end, flush=True)


def run(target: Backend) -> None:
    """Ask a ReAct agent to run the slow model as a tool and report its answer."""
    from langgraph.prebuilt import create_react_agent

    client = DashScope(api_key=target.api_key, base_url=target.base_url)
    tool = DashScopePredictionTool.from_model(client, MODEL, name="slow_counter", wait=False,
                                              interval=0.1, timeout=300)  # fmt: skip
    print(f"tool {tool.name}: {tool.description}")
    print(f"  arguments: {', '.join(tool.args)}")
    model = ChatDashScope(api_key=target.api_key, base_url=target.base_url)
    with warnings.catch_warnings():  # create_react_agent's move notice (no `langchain` here)
        warnings.simplefilter("ignore")
        agent = create_react_agent(model, [tool])
    question = HumanMessage("Please count slowly with the slow counter and tell me the result.")
    result = agent.invoke({"messages": [question]}, {"callbacks": [ProgressPrinter()]})
    for message in result["messages"]:
        if isinstance(message, AIMessage) and message.tool_calls:
            for call in message.tool_calls:
                print(f"[tool call] {call['name']}({call['args']})")
        elif isinstance(message, ToolMessage):
            print(f"[tool result] {message.text}")
    print(f"agent> {result['messages'][-1].text}")
    client.close()


if __name__ == "__main__":
    with backend() as where:
        print(where.describe())
        run(where)
