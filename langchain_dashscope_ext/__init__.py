"""LangChain integrations for DashScope.

Public names load on first use (PEP 562): ``import langchain_dashscope_ext`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_dashscope_ext._common import RATE_LIMIT_EVENT
    from langchain_dashscope_ext.apps import (
        ChatDashScopeApp,
        DashScopeAppRetriever,
        DashScopeAppTool,
    )
    from langchain_dashscope_ext.chat_models import ChatDashScope, ToolChoiceNotHonoredError
    from langchain_dashscope_ext.embeddings import DashScopeEmbeddings
    from langchain_dashscope_ext.llms import DashScopeLLM
    from langchain_dashscope_ext.middleware import DashScopePromptCachingMiddleware
    from langchain_dashscope_ext.rerank import DashScopeRerank
    from langchain_dashscope_ext.tools import DashScopeImageSynthesisTool, DashScopePredictionTool

_LAZY: dict[str, str] = {
    "ChatDashScope": "langchain_dashscope_ext.chat_models",
    "ToolChoiceNotHonoredError": "langchain_dashscope_ext.chat_models",
    "DashScopeLLM": "langchain_dashscope_ext.llms",
    "DashScopeEmbeddings": "langchain_dashscope_ext.embeddings",
    "DashScopeRerank": "langchain_dashscope_ext.rerank",
    "DashScopePromptCachingMiddleware": "langchain_dashscope_ext.middleware",
    "ChatDashScopeApp": "langchain_dashscope_ext.apps",
    "DashScopeAppRetriever": "langchain_dashscope_ext.apps",
    "DashScopeAppTool": "langchain_dashscope_ext.apps",
    "DashScopePredictionTool": "langchain_dashscope_ext.tools",
    "DashScopeImageSynthesisTool": "langchain_dashscope_ext.tools",
    "RATE_LIMIT_EVENT": "langchain_dashscope_ext._common",
}

__all__ = [
    "RATE_LIMIT_EVENT",
    "ChatDashScope",
    "ChatDashScopeApp",
    "DashScopeAppRetriever",
    "DashScopeAppTool",
    "DashScopeEmbeddings",
    "DashScopeImageSynthesisTool",
    "DashScopeLLM",
    "DashScopePredictionTool",
    "DashScopePromptCachingMiddleware",
    "DashScopeRerank",
    "ToolChoiceNotHonoredError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_dashscope_ext' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
