"""One test body for sync and async: ``Calls`` runs the LLM's sync or async twin."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llamaindex_dashscope_ext import DashScopeLLM


class Calls:
    """The eight LLM methods behind one awaitable surface; ``mode`` picks the twin."""

    def __init__(self, llm: DashScopeLLM, mode: str) -> None:
        self.llm = llm
        self.mode = mode

    async def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        if self.mode == "sync":
            return self.llm.chat(messages, **kwargs)
        return await self.llm.achat(messages, **kwargs)

    async def complete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        if self.mode == "sync":
            return self.llm.complete(prompt, **kwargs)
        return await self.llm.acomplete(prompt, **kwargs)

    async def stream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> list[ChatResponse]:
        if self.mode == "sync":
            return list(self.llm.stream_chat(messages, **kwargs))
        return [r async for r in await self.llm.astream_chat(messages, **kwargs)]

    async def stream_complete(self, prompt: str, **kwargs: Any) -> list[CompletionResponse]:
        if self.mode == "sync":
            return list(self.llm.stream_complete(prompt, **kwargs))
        return [r async for r in await self.llm.astream_complete(prompt, **kwargs)]

    async def chat_with_tools(self, tools: Sequence[Any], **kwargs: Any) -> ChatResponse:
        if self.mode == "sync":
            return self.llm.chat_with_tools(tools, **kwargs)
        return await self.llm.achat_with_tools(tools, **kwargs)

    async def stream_chat_with_tools(
        self, tools: Sequence[Any], **kwargs: Any
    ) -> list[ChatResponse]:
        if self.mode == "sync":
            return list(self.llm.stream_chat_with_tools(tools, **kwargs))
        return [r async for r in await self.llm.astream_chat_with_tools(tools, **kwargs)]

    async def predict_and_call(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        if self.mode == "sync":
            return self.llm.predict_and_call(tools, **kwargs)
        return await self.llm.apredict_and_call(tools, **kwargs)

    async def structured_predict(self, output_cls: Any, prompt: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            return self.llm.structured_predict(output_cls, prompt, **kwargs)
        return await self.llm.astructured_predict(output_cls, prompt, **kwargs)

    async def stream_structured_predict(
        self, output_cls: Any, prompt: Any, **kwargs: Any
    ) -> list[Any]:
        if self.mode == "sync":
            return list(self.llm.stream_structured_predict(output_cls, prompt, **kwargs))
        gen = await self.llm.astream_structured_predict(output_cls, prompt, **kwargs)
        return [x async for x in gen]
