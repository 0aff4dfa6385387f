"""The demo: every part of dashscope-ext, one after another, against one backend.

Run with ``python3 dev.py demo``. Without DASHSCOPE_API_KEY it uses the embedded emulator.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _backend import backend

PARTS = [
    ("Core client: streaming chat and a tool call", "core_chat"),
    ("LangChain: prompt | ChatDashScope | parser, streamed", "langchain_chat"),
    ("LangGraph: a tool loop over ChatDashScope, streamed", "langgraph_agent"),
    ("Bailian app: a RAG answer with citations, then a follow-up in the session", "app_rag"),
    ("LlamaIndex: a query engine over DashScopeEmbedding + DashScopeLLM", "llamaindex_rag"),
    ("LlamaIndex: a FunctionAgent with tools", "llamaindex_agent"),
    ("Prediction tool: an agent runs a slow model with a progress bar", "prediction_agent"),
    ("Batch API: a dataset labelled in one batch job, with a progress bar", "batch_job"),
]


def main() -> None:
    """Run each part; a failing part stops the demo with its error."""
    with backend() as target:
        print(target.describe())
        for title, module in PARTS:
            print(f"\n=== {title} ===")
            importlib.import_module(module).run(target)


if __name__ == "__main__":
    main()
