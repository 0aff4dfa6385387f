"""Bailian applications in LangChain: ``ChatDashScopeApp``, ``DashScopeAppRetriever``,
``DashScopeAppTool`` — all over the core client's ``apps`` namespace (sync and real async)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    AsyncCallbackManagerForRetrieverRun,
    AsyncCallbackManagerForToolRun,
    CallbackManagerForLLMRun,
    CallbackManagerForRetrieverRun,
    CallbackManagerForToolRun,
)
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.language_models.chat_models import agenerate_from_stream, generate_from_stream
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import BaseTool, ToolException
from pydantic import BaseModel, Field, PrivateAttr

from dashscope_core.errors import DashScopeError
from dashscope_core.types.apps import AppResponse
from langchain_dashscope_ext import _apps_convert as conv
from langchain_dashscope_ext._common import DashScopeSettings

__all__ = ["ChatDashScopeApp", "DashScopeAppRetriever", "DashScopeAppTool"]


class _AppOptions(BaseModel):
    """Fields every app class shares: which app, and the options sent on each call."""

    app_id: str = Field(min_length=1)
    """The Bailian application id (Model Studio console → application → app ID)."""
    rag_options: dict[str, Any] | None = None
    """``pipeline_ids``, ``file_ids``, ``tags``, ``metadata_filter``, ``structured_filter``,
    ``session_file_ids``."""
    biz_params: dict[str, Any] | None = None
    """``user_defined_params`` (per plugin id) and ``user_prompt_params``."""
    has_thoughts: bool | None = None
    """Ask for the app's steps (retrievals, plugin calls) as ``thoughts``."""
    memory_id: str | None = None
    """Long-term memory to consult."""

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return conv.call_options(self.__dict__, kwargs)


class ChatDashScopeApp(DashScopeSettings, _AppOptions, BaseChatModel):
    """A Bailian application (agent, RAG or workflow app) as a LangChain chat model.

    Two ways to keep a conversation: give ``session_id`` (field, ``.bind(session_id=...)`` or
    invoke kwarg) and only the last human message is sent, the server keeps the history; or
    give none and the whole message list is sent as ``messages``. Each answer's session id is in
    ``response_metadata["session_id"]``, with ``doc_references`` and ``thoughts``.
    """

    session_id: str | None = None
    """Continue this server-side session (only the last human message is sent)."""
    streaming: bool = False
    """``invoke`` goes through the stream when True."""

    @property
    def _llm_type(self) -> str:
        return "dashscope-app"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"app_id": self.app_id, **self._options({})}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        return LangSmithParams(ls_provider="dashscope", ls_model_type="chat",
                               ls_model_name=self.app_id)  # fmt: skip

    def _request(self, messages: list[BaseMessage], stop: Any, kwargs: dict[str, Any]) -> Any:
        if stop:
            raise ValueError("stop: Bailian apps do not support stop sequences")
        options = self._options({"session_id": self.session_id, **kwargs})
        return {**options, **conv.to_app_input(messages, options.get("session_id"))}

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))
        client = self._sync_client(kwargs)
        response = client.apps.call(self.app_id, **self._request(messages, stop, kwargs))
        return conv.response_to_result(response, self.app_id)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.streaming:
            return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))
        client = self._async_client(kwargs)
        request = self._request(messages, stop, kwargs)
        response = await client.apps.call(self.app_id, **request)
        return conv.response_to_result(response, self.app_id)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        state = conv.ChunkState(self.app_id)
        client = self._sync_client(kwargs)
        for piece in client.apps.stream(self.app_id, **self._request(messages, stop, kwargs)):
            chunk = state.feed(piece)
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        state = conv.ChunkState(self.app_id)
        client = self._async_client(kwargs)
        request = self._request(messages, stop, kwargs)
        async for piece in client.apps.stream(self.app_id, **request):
            chunk = state.feed(piece)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


class DashScopeAppRetriever(DashScopeSettings, _AppOptions, BaseRetriever):
    """Asks a Bailian RAG app and returns the passages it cites as ``Document``s.

    ``page_content`` is the passage; ``metadata`` holds ``doc_id``, ``doc_name``, ``title``,
    ``index_id``, ``images`` and the app's ``answer``.
    """

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        response = self.client.apps.call(self.app_id, query, **self._options(kwargs))
        return conv.response_to_documents(response, self.app_id)

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        response = await self.async_client.apps.call(self.app_id, query, **self._options(kwargs))
        return conv.response_to_documents(response, self.app_id)


class _Question(BaseModel):
    query: str = Field(description="The question to ask the application.")


class DashScopeAppTool(DashScopeSettings, _AppOptions, BaseTool):
    """A Bailian app as an agent tool: input a question, output the answer and its sources.

    ``keep_session=True`` keeps one server-side session per tool instance, so follow-up
    questions of the agent see the earlier ones.
    """

    name: str = "bailian_app"
    description: str = (
        "Ask a Bailian knowledge-base application a question in natural language; "
        "returns an answer with numbered sources."
    )
    args_schema: type[BaseModel] = _Question
    keep_session: bool = False
    """Continue one server-side session across this tool's calls."""
    _session_id: str | None = PrivateAttr(default=None)

    @property
    def session_id(self) -> str | None:
        """The session this tool continues (``keep_session=True``), once it has one."""
        return self._session_id

    def _call_kwargs(self) -> dict[str, Any]:
        return self._options({"session_id": self._session_id if self.keep_session else None})

    def _answer(self, response: AppResponse) -> str:
        if self.keep_session and response.session_id:
            self._session_id = response.session_id
        return conv.format_answer(response)

    def _error(self, exc: DashScopeError) -> ToolException:
        return ToolException(f"the Bailian app {self.app_id!r} failed: {exc}. Check the app id, "
                             "the API key and the question, then try again.")  # fmt: skip

    def _run(self, query: str, run_manager: CallbackManagerForToolRun | None = None) -> str:
        try:
            return self._answer(self.client.apps.call(self.app_id, query, **self._call_kwargs()))
        except DashScopeError as exc:
            raise self._error(exc) from exc

    async def _arun(
        self, query: str, run_manager: AsyncCallbackManagerForToolRun | None = None
    ) -> str:
        try:
            call = self.async_client.apps.call
            return self._answer(await call(self.app_id, query, **self._call_kwargs()))
        except DashScopeError as exc:
            raise self._error(exc) from exc
