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
    from dashscope_core._call_clients import CLIENT_OPTIONS, CallClients, pop_client_options
    from dashscope_core._client import AsyncDashScope, DashScope
    from dashscope_core._protocol.app_stream import accumulate_app
    from dashscope_core._protocol.citations import CitationMarker, find_citation_markers
    from dashscope_core._protocol.config import REGIONS
    from dashscope_core._protocol.generation_stream import GenerationAccumulator, accumulate
    from dashscope_core._protocol.polling import DeadlineExceededError, JobCancelledError
    from dashscope_core._protocol.prediction_stream import ServerSentEvent
    from dashscope_core._protocol.progress import Progress, parse_progress
    from dashscope_core._protocol.ratelimit import RateLimit
    from dashscope_core._protocol.retry import RetryPolicy
    from dashscope_core._protocol.tokens import estimate_tokens
    from dashscope_core._ratelimiter import RateLimitWait, observe_rate_limits
    from dashscope_core.profiles import ModelProfile, get_profile, register_profile
    from dashscope_core.resources._app_session import AppSession, AsyncAppSession
    from dashscope_core.resources._batch_bodies import chat_completion_body, embedding_bodies
    from dashscope_core.resources._outputs import FileOutput
    from dashscope_core.resources._parts import MAX_DATA_URI_BYTES
    from dashscope_core.types.apps import AppChunk, AppResponse
    from dashscope_core.types.batches import Batch, BatchJob, BatchList, BatchResult
    from dashscope_core.types.compatible import ChatCompletion, CreateEmbeddingResponse
    from dashscope_core.types.embeddings import EmbeddingResponse
    from dashscope_core.types.files import FileList, FileObject
    from dashscope_core.types.generation import (
        Choice,
        FunctionCall,
        GenerationResponse,
        GenerationUsage,
        Message,
        SearchInfo,
        SearchResult,
        ToolCall,
    )
    from dashscope_core.types.predictions import (
        Collection,
        Hardware,
        Model,
        Page,
        Prediction,
        Training,
        Version,
    )
    from dashscope_core.types.rerank import RerankResponse, RerankResult
    from dashscope_core.types.tasks import Task, TaskList
    from dashscope_core.types.tokenizer import TokenizationResponse
    from dashscope_core.types.uploads import UploadPolicy
    from dashscope_core.webhooks import WebhookVerificationError, validate_webhook, verify_webhook

_LAZY = {
    "DashScope": "dashscope_core._client",
    "AsyncDashScope": "dashscope_core._client",
    # per-call client options (the framework classes)
    "CLIENT_OPTIONS": "dashscope_core._call_clients",
    "MAX_DATA_URI_BYTES": "dashscope_core.resources._parts",
    "CallClients": "dashscope_core._call_clients",
    "pop_client_options": "dashscope_core._call_clients",
    "RetryPolicy": "dashscope_core._protocol.retry",
    "REGIONS": "dashscope_core._protocol.config",
    # rate limits
    "RateLimit": "dashscope_core._protocol.ratelimit",
    "RateLimitWait": "dashscope_core._ratelimiter",
    "observe_rate_limits": "dashscope_core._ratelimiter",
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
    # model profiles
    "ModelProfile": "dashscope_core.profiles",
    "get_profile": "dashscope_core.profiles",
    "register_profile": "dashscope_core.profiles",
    # retrieval and reasoning
    "RerankResponse": "dashscope_core.types.rerank",
    "RerankResult": "dashscope_core.types.rerank",
    "estimate_tokens": "dashscope_core._protocol.tokens",
    "CitationMarker": "dashscope_core._protocol.citations",
    "find_citation_markers": "dashscope_core._protocol.citations",
    "SearchInfo": "dashscope_core.types.generation",
    "SearchResult": "dashscope_core.types.generation",
    "UploadPolicy": "dashscope_core.types.uploads",
    # prediction API and async tasks
    "validate_webhook": "dashscope_core.webhooks",
    "verify_webhook": "dashscope_core.webhooks",
    "WebhookVerificationError": "dashscope_core.webhooks",
    "parse_progress": "dashscope_core._protocol.progress",
    "Progress": "dashscope_core._protocol.progress",
    "ServerSentEvent": "dashscope_core._protocol.prediction_stream",
    "JobCancelledError": "dashscope_core._protocol.polling",
    "DeadlineExceededError": "dashscope_core._protocol.polling",
    "FileOutput": "dashscope_core.resources._outputs",
    "Prediction": "dashscope_core.types.predictions",
    "Page": "dashscope_core.types.predictions",
    "Model": "dashscope_core.types.predictions",
    "Version": "dashscope_core.types.predictions",
    "Collection": "dashscope_core.types.predictions",
    "Hardware": "dashscope_core.types.predictions",
    "Training": "dashscope_core.types.predictions",
    "Task": "dashscope_core.types.tasks",
    "TaskList": "dashscope_core.types.tasks",
    "TokenizationResponse": "dashscope_core.types.tokenizer",
    # Batch API (compatible mode)
    "chat_completion_body": "dashscope_core.resources._batch_bodies",
    "embedding_bodies": "dashscope_core.resources._batch_bodies",
    "Batch": "dashscope_core.types.batches",
    "BatchJob": "dashscope_core.types.batches",
    "BatchList": "dashscope_core.types.batches",
    "BatchResult": "dashscope_core.types.batches",
    "ChatCompletion": "dashscope_core.types.compatible",
    "CreateEmbeddingResponse": "dashscope_core.types.compatible",
    "FileList": "dashscope_core.types.files",
    "FileObject": "dashscope_core.types.files",
}

__all__ = [
    "CLIENT_OPTIONS",
    "MAX_DATA_URI_BYTES",
    "REGIONS",
    "AppChunk",
    "AppResponse",
    "AppSession",
    "AsyncAppSession",
    "AsyncDashScope",
    "Batch",
    "BatchJob",
    "BatchList",
    "BatchResult",
    "CallClients",
    "ChatCompletion",
    "Choice",
    "CitationMarker",
    "Collection",
    "CreateEmbeddingResponse",
    "DashScope",
    "DeadlineExceededError",
    "EmbeddingResponse",
    "FileList",
    "FileObject",
    "FileOutput",
    "FunctionCall",
    "GenerationAccumulator",
    "GenerationResponse",
    "GenerationUsage",
    "Hardware",
    "JobCancelledError",
    "Message",
    "Model",
    "ModelProfile",
    "Page",
    "Prediction",
    "Progress",
    "RateLimit",
    "RateLimitWait",
    "RerankResponse",
    "RerankResult",
    "RetryPolicy",
    "SearchInfo",
    "SearchResult",
    "ServerSentEvent",
    "Task",
    "TaskList",
    "TokenizationResponse",
    "ToolCall",
    "Training",
    "UploadPolicy",
    "Version",
    "WebhookVerificationError",
    "__version__",
    "accumulate",
    "accumulate_app",
    "chat_completion_body",
    "embedding_bodies",
    "errors",
    "estimate_tokens",
    "find_citation_markers",
    "get_profile",
    "observe_rate_limits",
    "parse_progress",
    "pop_client_options",
    "register_profile",
    "validate_webhook",
    "verify_webhook",
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
