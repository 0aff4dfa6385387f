"""dashscope_core: one typed sync/async client for Alibaba Cloud DashScope.

Public names are loaded on first use (PEP 562), so ``import dashscope_core`` stays cheap and
tools that only need ``dashscope_core.emulator`` or the errors do not pay for httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dashscope_core._version import __version__

if TYPE_CHECKING:
    from dashscope_core import errors
    from dashscope_core._client import AsyncDashScope, DashScope
    from dashscope_core._protocol.app_stream import accumulate_app
    from dashscope_core._protocol.generation_stream import GenerationAccumulator, accumulate
    from dashscope_core._protocol.retry import RetryPolicy
    from dashscope_core.resources._app_session import AppSession, AsyncAppSession
    from dashscope_core.types.apps import AppChunk, AppResponse
    from dashscope_core.types.embeddings import EmbeddingResponse
    from dashscope_core.types.generation import (
        Choice,
        FunctionCall,
        GenerationResponse,
        GenerationUsage,
        Message,
        ToolCall,
    )

_LAZY = {
    "DashScope": "dashscope_core._client",
    "AsyncDashScope": "dashscope_core._client",
    "RetryPolicy": "dashscope_core._protocol.retry",
    "accumulate_app": "dashscope_core._protocol.app_stream",
    "AppResponse": "dashscope_core.types.apps",
    "AppChunk": "dashscope_core.types.apps",
    "AppSession": "dashscope_core.resources._app_session",
    "AsyncAppSession": "dashscope_core.resources._app_session",
    # generation and embeddings
    "accumulate": "dashscope_core._protocol.generation_stream",
    "GenerationAccumulator": "dashscope_core._protocol.generation_stream",
    "GenerationResponse": "dashscope_core.types.generation",
    "GenerationUsage": "dashscope_core.types.generation",
    "Choice": "dashscope_core.types.generation",
    "Message": "dashscope_core.types.generation",
    "ToolCall": "dashscope_core.types.generation",
    "FunctionCall": "dashscope_core.types.generation",
    "EmbeddingResponse": "dashscope_core.types.embeddings",
}

__all__ = [
    "AppChunk",
    "AppResponse",
    "AppSession",
    "AsyncAppSession",
    "AsyncDashScope",
    "Choice",
    "DashScope",
    "EmbeddingResponse",
    "FunctionCall",
    "GenerationAccumulator",
    "GenerationResponse",
    "GenerationUsage",
    "Message",
    "RetryPolicy",
    "ToolCall",
    "__version__",
    "accumulate",
    "accumulate_app",
    "errors",
]


def __getattr__(name: str) -> Any:
    if name == "errors":
        return importlib.import_module("dashscope_core.errors")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dashscope_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
