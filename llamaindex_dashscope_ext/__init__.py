"""LlamaIndex integrations for DashScope.

Public names load on first use (PEP 562): ``import llamaindex_dashscope_ext`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llamaindex_dashscope_ext._clients import DashScopeRateLimitWaitEvent
    from llamaindex_dashscope_ext.apps import DashScopeAppLLM, DashScopeAppRetriever
    from llamaindex_dashscope_ext.embeddings import DashScopeEmbedding
    from llamaindex_dashscope_ext.llms import DashScopeLLM
    from llamaindex_dashscope_ext.postprocessor import DashScopeRerank
    from llamaindex_dashscope_ext.tools import DashScopePredictionToolSpec, PredictionToolError

_LAZY: dict[str, str] = {
    "DashScopeLLM": "llamaindex_dashscope_ext.llms",
    "DashScopeEmbedding": "llamaindex_dashscope_ext.embeddings",
    "DashScopeRerank": "llamaindex_dashscope_ext.postprocessor",
    "DashScopeAppLLM": "llamaindex_dashscope_ext.apps",
    "DashScopeAppRetriever": "llamaindex_dashscope_ext.apps",
    "DashScopePredictionToolSpec": "llamaindex_dashscope_ext.tools",
    "PredictionToolError": "llamaindex_dashscope_ext.tools",
    "DashScopeRateLimitWaitEvent": "llamaindex_dashscope_ext._clients",
}

__all__ = [
    "DashScopeAppLLM",
    "DashScopeAppRetriever",
    "DashScopeEmbedding",
    "DashScopeLLM",
    "DashScopePredictionToolSpec",
    "DashScopeRateLimitWaitEvent",
    "DashScopeRerank",
    "PredictionToolError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llamaindex_dashscope_ext' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
