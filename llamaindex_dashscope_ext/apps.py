"""Bailian applications in LlamaIndex: ``DashScopeAppLLM`` and ``DashScopeAppRetriever``.

Both translate only: requests go through the core client's ``apps`` namespace (``DashScope`` for
sync methods, one ``AsyncDashScope`` per event loop for async ones, so nothing sync runs on the
loop). ``raw["usage"]`` carries the token sums next to ``models`` so ``TokenCountingHandler``
counts app calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field, SecretStr, field_serializer
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.resources.apps import app_input
from dashscope_core.types.apps import AppChunk, AppResponse
from llamaindex_dashscope_ext._citations import doc_citation_blocks
from llamaindex_dashscope_ext._clients import Connection
from llamaindex_dashscope_ext._convert import to_completion_response
from llamaindex_dashscope_ext._streams import aeach, each

__all__ = ["DashScopeAppLLM", "DashScopeAppRetriever"]

_OPTIONS = (
    "session_id",
    "rag_options",
    "biz_params",
    "has_thoughts",
    "memory_id",
    "image_list",
    "flow_stream_mode",
    "enable_thinking",
)
_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
}


# -- conversions (module functions, no I/O) --------------------------------------------------


def to_app_input(messages: Sequence[ChatMessage], session_id: str | None) -> dict[str, Any]:
    """``prompt`` (a first turn, or a session's next one) or ``messages`` (a client-kept
    history with assistant turns): the core's ``app_input`` rule."""
    if not messages:
        raise ValueError("messages: expected at least one message")
    if session_id:  # the server has the history: only the last user message matters
        messages = [m for m in messages if m.role == MessageRole.USER][-1:]
    wire = []
    for message in messages:
        role = _ROLES.get(message.role)
        if role is None:
            raise TypeError(f"messages: a {message.role.value!r} message cannot go to an app")
        wire.append({"role": role, "content": message.content or ""})
    return app_input(wire, session_id)


def _raw(response: AppResponse) -> dict[str, Any]:
    raw = response.model_dump(exclude_none=True)
    usage = response.usage
    raw["usage"] = {
        **raw.get("usage", {}),
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    return raw


def _kwargs(response: AppResponse) -> dict[str, Any]:
    out = response.output
    return {
        "session_id": out.session_id,
        "request_id": response.request_id,
        "finish_reason": out.finish_reason,
        "doc_references": [d.model_dump(exclude_none=True) for d in out.doc_references],
        "thoughts": [t.model_dump(exclude_none=True) for t in out.thoughts],
        "prompt_tokens": response.usage.input_tokens,
        "completion_tokens": response.usage.output_tokens,
        "total_tokens": response.usage.total_tokens,
    }


def to_chat_response(response: AppResponse) -> ChatResponse:
    """A ``ChatResponse`` for a whole app answer."""
    message = _answer(response.text, response)
    return ChatResponse(message=message, raw=_raw(response), additional_kwargs=_kwargs(response))


def _answer(text: str, response: AppResponse) -> ChatMessage:
    """The answer's text, then a ``CitationBlock`` per ``<ref>[N]</ref>`` marker."""
    citations = doc_citation_blocks(text, response.output.doc_references)
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text), *citations])


class _StreamState:
    """Accumulates the text; the final response carries thoughts, citations and usage."""

    def __init__(self) -> None:
        self.text = ""

    def feed(self, chunk: AppChunk) -> ChatResponse:
        self.text += chunk.output.text
        message = ChatMessage(role=MessageRole.ASSISTANT, content=self.text)
        if not chunk.is_final:
            return ChatResponse(message=message, delta=chunk.output.text, raw=_raw(chunk))
        whole = chunk.model_copy(
            update={"output": chunk.output.model_copy(update={"text": self.text})}
        )
        return ChatResponse(
            message=_answer(self.text, whole),
            delta=chunk.output.text,
            raw=_raw(whole),
            additional_kwargs=_kwargs(whole),
        )


def _user(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


# -- the LLM ---------------------------------------------------------------------------------


class DashScopeAppLLM(CustomLLM, Connection):
    """A Bailian application as a LlamaIndex LLM (chat, completion, streaming, async).

    Conversations: give ``session_id`` (field or per-call kwarg) and only the last user message
    is sent (the server keeps the history); otherwise the chat history goes as ``messages``.
    ``additional_kwargs`` (and ``raw``) hold ``session_id``, ``doc_references``, ``thoughts``
    and the token counts.
    """

    app_id: str = Field(min_length=1, description="The Bailian application id.")
    session_id: str | None = Field(default=None, description="Continue this server session.")
    rag_options: dict[str, Any] | None = Field(default=None, description="Retrieval filters.")
    biz_params: dict[str, Any] | None = Field(default=None, description="Plugin/prompt params.")
    has_thoughts: bool | None = Field(default=None, description="Return the app's steps.")
    memory_id: str | None = Field(default=None, description="Long-term memory id.")
    # shown in repr as a SecretStr and masked by _mask_key in payloads (not excluded)
    api_key: SecretStr | None = Field(default=None, description="Default: DASHSCOPE_API_KEY.")
    context_window: int = Field(default=131_072, gt=0, description="For prompt helpers.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._connect()

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialisation and callback payloads."""
        return "DashScopeAppLLM"

    @field_serializer("api_key")
    def _mask_key(self, key: SecretStr | None) -> str | None:
        # to_dict / to_json / callback payloads show that a key is set, never the key
        return None if key is None else "**********"

    @property
    def metadata(self) -> LLMMetadata:
        """An app is a chat model without function calling (its tools run server-side)."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=-1,
            is_chat_model=True,
            model_name=self.app_id,
        )

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        options = {name: getattr(self, name, None) for name in _OPTIONS}
        options.update(kwargs)
        options = {k: v for k, v in options.items() if v is not None}
        return {**options, **to_app_input(messages, options.get("session_id"))}

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Ask the app."""
        return to_chat_response(
            self._sync_client(kwargs).apps.call(self.app_id, **self._request(messages, kwargs))
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Ask the app and stream the answer; the last response carries the citations."""
        chunks = self._sync_client(kwargs).apps.stream(
            self.app_id, **self._request(messages, kwargs)
        )
        return each(chunks, _StreamState().feed)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async ``chat``."""
        apps = self._async_client(kwargs).apps
        return to_chat_response(await apps.call(self.app_id, **self._request(messages, kwargs)))

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async ``stream_chat``."""
        apps = self._async_client(kwargs).apps
        chunks = apps.stream(self.app_id, **self._request(messages, kwargs))
        return aeach(chunks, _StreamState().feed)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Ask the app ``prompt``."""
        return to_completion_response(self.chat(_user(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the answer to ``prompt``."""
        return each(self.stream_chat(_user(prompt), **kwargs), to_completion_response)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async ``complete``."""
        return to_completion_response(await self.achat(_user(prompt), **kwargs))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async ``stream_complete``."""
        return aeach(await self.astream_chat(_user(prompt), **kwargs), to_completion_response)


# -- the retriever ---------------------------------------------------------------------------


def to_nodes(response: AppResponse, app_id: str) -> list[NodeWithScore]:
    """The cited passages as nodes; score 1/rank (the app ranks, it reports no scores)."""
    nodes = []
    for rank, ref in enumerate(response.output.doc_references, 1):
        meta = {
            **ref.model_dump(exclude_none=True, exclude={"text"}),
            "app_id": app_id,
            "answer": response.text,
        }
        hidden = ["answer", "images", "app_id", "index_id"]
        node = TextNode(
            text=ref.text or "",
            id_=f"{ref.doc_id}#{ref.index_id}",
            metadata=meta,
            excluded_llm_metadata_keys=hidden,
            excluded_embed_metadata_keys=hidden,
        )
        nodes.append(NodeWithScore(node=node, score=1.0 / rank))
    return nodes


class DashScopeAppRetriever(BaseRetriever):
    """A Bailian app's knowledge base as a LlamaIndex retriever (the passages the app cites)."""

    def __init__(
        self,
        app_id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        callback_manager: CallbackManager | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(app_id, str) or not app_id.strip():
            raise ValueError("app_id: expected a non-empty app id")
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise TypeError(f"options: unknown arguments {unknown}; known: {list(_OPTIONS)}")
        super().__init__(callback_manager=callback_manager)
        self.app_id, self.options = app_id, options
        settings: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "region": region,
            "workspace": workspace,
            "timeout": timeout,
            "max_retries": max_retries,
        }
        self._client = DashScope(**settings)
        self._aclient = AsyncDashScope(**settings)

    def __repr__(self) -> str:
        return f"DashScopeAppRetriever(app_id={self.app_id!r}, options={self.options!r})"

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        response = self._client.apps.call(self.app_id, query_bundle.query_str, **self.options)
        return to_nodes(response, self.app_id)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        apps = self._aclient.apps
        response = await apps.call(self.app_id, query_bundle.query_str, **self.options)
        return to_nodes(response, self.app_id)
