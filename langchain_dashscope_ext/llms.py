"""``DashScopeLLM``: prompt-style models (``prompt`` + deprecated ``history``, text format)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, ClassVar, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.llms import BaseLLM
from langchain_core.outputs import Generation, GenerationChunk, LLMResult

from langchain_dashscope_ext import _convert_output as _convert
from langchain_dashscope_ext._common import (
    DashScopeSettings,
    ServiceTokenCounting,
    aopened,
    opened,
)
from langchain_dashscope_ext._params import DashScopeParams, Stop

__all__ = ["DashScopeLLM"]

_T = TypeVar("_T")


class DashScopeLLM(ServiceTokenCounting, DashScopeParams, DashScopeSettings, BaseLLM):
    """Prompt-in, text-out DashScope models (qwen with result_format text).

    ``history`` (the deprecated DashScope turns ``[{"user": ..., "bot": ...}]`` or
    ``(user, bot)`` pairs) can be set on the instance or passed per call.
    """

    PARAMS: ClassVar[tuple[str, ...]] = (
        "temperature", "top_p", "top_k", "max_tokens", "seed", "repetition_penalty",
        "presence_penalty", "enable_search",
    )  # fmt: skip

    stop: Stop | None = None
    history: list[Any] | None = None
    """Earlier turns sent with every prompt (deprecated DashScope ``history``)."""
    streaming: bool = False
    """``invoke``/``generate`` go through the stream (and fire ``on_llm_new_token``) when True."""

    @property
    def _llm_type(self) -> str:
        return "dashscope-llm"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_dashscope_ext", "llms"]``."""
        return ["langchain_dashscope_ext", "llms"]

    def _request(
        self, prompt: str, stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        params = {**self._default_params, **kwargs}
        if stop is not None:
            params["stop"] = stop
        history = _convert.to_wire_history(params.pop("history", self.history))
        return {"model": params.pop("model", None) or self.model, "prompt": prompt,
                "history": history, "result_format": "text", **params}  # fmt: skip

    def _generate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        if self.streaming:
            answers = [_join(self._stream(p, stop, run_manager, **kwargs)) for p in prompts]
        else:
            client = self._sync_client(kwargs)
            requests = [self._request(p, stop, kwargs) for p in prompts]  # all checked first
            with self._rate_limit_events(run_manager):
                responses = [client.generation.call(**r) for r in requests]
            answers = [_generation(a, r["model"]) for a, r in zip(responses, requests, strict=True)]
        return self._result(answers)

    async def _agenerate(
        self,
        prompts: list[str],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> LLMResult:
        answers: list[Generation] = []
        if self.streaming:  # one after the other: the tokens share one run manager
            for p in prompts:
                answers.append(
                    _join([c async for c in self._astream(p, stop, run_manager, **kwargs)])
                )
        else:  # concurrently: DashScope takes one prompt per request
            client = self._async_client(kwargs)
            requests = [self._request(p, stop, kwargs) for p in prompts]
            with self._rate_limit_events(run_manager):
                responses = await _all([client.generation.call(**r) for r in requests])
            answers = [_generation(a, r["model"]) for a, r in zip(responses, requests, strict=True)]
        return self._result(answers)

    def _result(self, answers: list[Generation]) -> LLMResult:
        return LLMResult(generations=[[a] for a in answers], llm_output={"model_name": self.model})

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        client = self._sync_client(kwargs)
        request = self._request(prompt, stop, kwargs)
        stream = client.generation.stream(**request)
        for response in opened(stream, self._rate_limit_events(run_manager)):
            chunk = _chunk(response, request["model"])
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        client = self._async_client(kwargs)
        request = self._request(prompt, stop, kwargs)
        stream = client.generation.stream(**request)
        async for response in aopened(stream, self._rate_limit_events(run_manager)):
            chunk = _chunk(response, request["model"])
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


async def _all(calls: list[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run ``calls`` concurrently; the first failure cancels the others, then raises."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


def _generation(response: Any, model: str) -> Generation:
    info = _convert.text_generation_info(response, model)
    return Generation(text=_convert.response_text(response), generation_info=info)


def _chunk(response: Any, model: str) -> GenerationChunk:
    info = _convert.text_generation_info(response, model)
    final = info["finish_reason"] is not None
    return GenerationChunk(
        text=_convert.response_text(response), generation_info=info if final else None
    )


def _join(chunks: Sequence[GenerationChunk] | Iterator[GenerationChunk]) -> Generation:
    total: GenerationChunk | None = None
    for chunk in chunks:
        total = chunk if total is None else total + chunk
    return total if total is not None else Generation(text="")
