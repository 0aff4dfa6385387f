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
    from dashscope_core._protocol.retry import RetryPolicy
    from dashscope_core.resources._app_session import AppSession, AsyncAppSession
    from dashscope_core.types.apps import AppChunk, AppResponse

_LAZY = {
    "DashScope": "dashscope_core._client",
    "AsyncDashScope": "dashscope_core._client",
    "RetryPolicy": "dashscope_core._protocol.retry",
    "accumulate_app": "dashscope_core._protocol.app_stream",
    "AppResponse": "dashscope_core.types.apps",
    "AppChunk": "dashscope_core.types.apps",
    "AppSession": "dashscope_core.resources._app_session",
    "AsyncAppSession": "dashscope_core.resources._app_session",
}

__all__ = [
    "AppChunk",
    "AppResponse",
    "AppSession",
    "AsyncAppSession",
    "AsyncDashScope",
    "DashScope",
    "RetryPolicy",
    "__version__",
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
