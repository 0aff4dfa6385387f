"""``ChatDashScope``: Qwen chat models over the core client's ``generation`` namespace."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models import ModelProfile as LCModelProfile
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import AliasChoices, Field

from dashscope_core import get_profile
from dashscope_core.errors import ToolChoiceNotHonoredError
from langchain_dashscope_ext import _convert
from langchain_dashscope_ext._common import (
    DashScopeSettings,
    ServiceTokenCounting,
    aopened,
    opened,
)
from langchain_dashscope_ext._params import DashScopeParams, Stop

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    from dashscope_core import BatchJob, ModelProfile

__all__ = ["ChatDashScope", "ToolChoiceNotHonoredError"]


class ChatDashScope(ServiceTokenCounting, DashScopeParams, DashScopeSettings, BaseChatModel):
    """Qwen chat models on DashScope (Model Studio): sync and real async, streaming, tools.

    ``tool_choice="any"``/``"required"``/``True``: the core's one strategy, the same for invoke
    and stream, sync and async. One bound tool (thinking off) → that tool is named, forced by the
    server; several tools, or thinking on → the call sends ``auto`` plus a system instruction
    naming the tools and checks the answer: one without a tool call is never shown (a stream
    holds its chunks until a tool call starts), it is asked once more, then
    ``ToolChoiceNotHonoredError``.
    What each model takes (endpoint, thinking, limits) comes from the core's profile table
    (``profile`` holds it in langchain-core's keys). A non-streaming call to a model that only
    thinks in a stream is streamed and accumulated by the core. Thinking mode refuses forced
    tool choices and JSON output: ``"any"`` in thinking mode uses the checked strategy
    above; a JSON ``response_format`` (``with_structured_output``, ``create_agent``) turns
    thinking off where the model allows it (``enable_thinking=False``); a named tool choice
    with thinking on raises ``ValueError`` before any request.
    """

    PARAMS: ClassVar[tuple[str, ...]] = (
        "temperature", "top_p", "top_k", "max_tokens", "seed", "n", "repetition_penalty",
        "presence_penalty", "enable_search", "search_options", "enable_thinking",
        "thinking_budget", "logprobs", "top_logprobs",
    )  # fmt: skip

    stop: Stop | None = Field(default=None, validation_alias=AliasChoices("stop", "stop_sequences"))
    n: int | None = Field(default=None, ge=1)
    search_options: dict[str, Any] | None = None
    enable_thinking: bool | None = None
    """Thinking mode (``reasoning_content``); qwq / ``*thinking*`` models always think."""
    thinking_budget: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    streaming: bool = False
    """``invoke`` goes through the stream when True; ``.stream()`` streams unless set False."""
    stream_usage: bool = True
    """Put ``usage_metadata`` on the last streamed chunk (ChatOpenAI's name; per call too)."""

    @property
    def _llm_type(self) -> str:
        return "dashscope-chat"

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_dashscope_ext", "chat_models"]``."""
        return ["langchain_dashscope_ext", "chat_models"]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # not _get_invocation_params: that rebuilds the call's params via the deprecated
        # .dict() under a warnings filter, which langchain-core has just done for this call
        params = {**self._default_params, **kwargs}
        ls = LangSmithParams(ls_provider="dashscope", ls_model_type="chat",
                             ls_model_name=kwargs.get("model") or self.model)  # fmt: skip
        for key, name in (("ls_temperature", "temperature"), ("ls_max_tokens", "max_tokens")):
            if params.get(name) is not None:
                ls[key] = params[name]  # type: ignore[literal-required]  # keys from the loop
        stops = stop or params.get("stop") or self.stop
        if stops:
            stops = [stops] if isinstance(stops, str) else list(stops)
            ls["ls_stop"] = [s for s in stops if isinstance(s, str)]  # token ids are not text
        return ls

    def _resolve_model_profile(self) -> LCModelProfile | None:
        return _convert.to_lc_profile(get_profile(self.model))

    # ---------------------------------------------------------------- request (shared)

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        """``client.generation.call``/``.stream`` kwargs for one call."""
        if "max_completion_tokens" in kwargs:  # ChatOpenAI's name per call (model_kwargs: raw)
            kwargs["max_tokens"] = kwargs.pop("max_completion_tokens")
        params = {**self._default_params, **kwargs}
        params.pop("stream", None)
        params.pop("stream_usage", None)
        params.pop("ls_structured_output_format", None)
        if stop is not None:
            params["stop"] = stop
        model = params.pop("model", None) or self.model
        tools = params.pop("tools", None)
        choice = params.pop("tool_choice", None)
        wire = _convert.to_wire_messages(messages)
        _thinking_off_where_allowed(get_profile(model), params, choice if tools else None)
        if tools:
            choice = _convert.to_wire_tool_choice(choice, tools)
        return {"model": model, "messages": wire, "tools": tools, "tool_choice": choice,
                "result_format": "message", **params}  # fmt: skip

    # ------------------------------------------------------------------------- calls
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._sync_client(kwargs).generation.call
        request = self._request(messages, stop, kwargs)
        with self._rate_limit_events(run_manager):
            return _convert.from_wire_response(call(**request), request["model"])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call = self._async_client(kwargs).generation.call
        request = self._request(messages, stop, kwargs)
        with self._rate_limit_events(run_manager):
            return _convert.from_wire_response(await call(**request), request["model"])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        client = self._sync_client(kwargs)
        usage = kwargs.pop("stream_usage", self.stream_usage)
        request = self._request(messages, stop, kwargs)
        converter = _convert.ChunkConverter(request["model"], usage=usage)
        stream = client.generation.stream(**request)
        for response in opened(stream, self._rate_limit_events(run_manager)):
            chunk = converter.feed(response)
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
        client = self._async_client(kwargs)
        usage = kwargs.pop("stream_usage", self.stream_usage)
        request = self._request(messages, stop, kwargs)
        converter = _convert.ChunkConverter(request["model"], usage=usage)
        stream = client.generation.stream(**request)
        async for response in aopened(stream, self._rate_limit_events(run_manager)):
            chunk = converter.feed(response)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Tokens of ``messages`` (and ``tools``' schemas) as the model reads them, counted by
        the service's tokenizer (what ``trim_messages(token_counter=chat)`` calls)."""
        wire = _convert.to_wire_messages(convert_to_messages(messages))
        if tools:
            from langchain_core.utils.function_calling import convert_to_openai_tool

            schemas = json.dumps([convert_to_openai_tool(t) for t in tools], ensure_ascii=False)
            wire = [{"role": "system", "content": schemas}, *wire]
        if not wire:
            return 0
        return self.client.tokenizer.count(model=self.model, messages=wire)

    # --------------------------------------------- the Batch API (half price, hours later)
    # ``_batch`` (and the core's batch modules) load on first use: a plain model never pays

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        use_batch_api: bool | None = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """``batch()``; with ``use_batch_api=True`` every input goes into one DashScope batch
        job (half the price, results in minutes to hours) and the call waits for it;
        ``progress=`` (called with the ``BatchJob``), ``poll_interval=``, ``wait_timeout=``."""
        if not use_batch_api:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
        from langchain_dashscope_ext import _batch

        options = _batch.wait_options(kwargs)
        runs = _batch.start_runs(self, inputs, config)
        try:
            results = self._collect(self.submit_batch(inputs, **kwargs), options)
        except BaseException as exc:
            _batch.end_runs(runs, [exc] * len(runs))
            raise
        _batch.end_runs(runs, results)
        return _batch.finish(results, return_exceptions)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        use_batch_api: bool | None = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """``abatch()``; ``use_batch_api=True`` as in ``batch``."""
        if not use_batch_api:
            return await super().abatch(inputs, config, return_exceptions=return_exceptions,
                                        **kwargs)  # fmt: skip
        from langchain_dashscope_ext import _batch

        options = _batch.wait_options(kwargs)
        runs = await _batch.astart_runs(self, inputs, config)
        try:
            results = await self._acollect(await self.asubmit_batch(inputs, **kwargs), options)
        except BaseException as exc:
            await _batch.aend_runs(runs, [exc] * len(runs))
            raise
        await _batch.aend_runs(runs, results)
        return _batch.finish(results, return_exceptions)

    def submit_batch(self, inputs: Sequence[LanguageModelInput], **kwargs: Any) -> BatchJob:
        """Submit ``inputs`` as a batch job and return at once; ``job.to_json()`` keeps it for
        ``collect_batch`` (in this or another process). Client options (``timeout=``) apply to
        the submitting client, as in ``invoke``; they never reach the request bodies."""
        from langchain_dashscope_ext._batch import request_bodies

        client = self._sync_client(kwargs)
        return client.batches.submit(request_bodies(self, inputs, kwargs))

    async def asubmit_batch(self, inputs: Sequence[LanguageModelInput], **kwargs: Any) -> BatchJob:
        """``submit_batch`` for async code."""
        from langchain_dashscope_ext._batch import request_bodies

        client = self._async_client(kwargs)
        return await client.batches.submit(request_bodies(self, inputs, kwargs))

    def collect_batch(self, job: BatchJob | str, **options: Any) -> list[AIMessage | Exception]:
        """Wait for a submitted job (``progress=``, ``poll_interval=``, ``wait_timeout=``) and
        return one message, or the request's typed error, per input in order."""
        from langchain_dashscope_ext._batch import job_of, wait_options

        return self._collect(job_of(job), wait_options(options))

    async def acollect_batch(
        self, job: BatchJob | str, **options: Any
    ) -> list[AIMessage | Exception]:
        """``collect_batch`` for async code."""
        from langchain_dashscope_ext._batch import job_of, wait_options

        return await self._acollect(job_of(job), wait_options(options))

    def _collect(self, job: BatchJob, options: dict[str, Any]) -> list[AIMessage | Exception]:
        from langchain_dashscope_ext._batch import outcomes

        job = self.client.batches.wait(job, **options)
        return outcomes(list(self.client.batches.results(job)), self.model)

    async def _acollect(
        self, job: BatchJob, options: dict[str, Any]
    ) -> list[AIMessage | Exception]:
        from langchain_dashscope_ext._batch import outcomes

        batches = self.async_client.batches
        job = await batches.wait(job, **options)
        return outcomes([r async for r in batches.results(job)], self.model)

    # ------------------------------------------------------------------ tools, output

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (any LangChain tool form); see the class docstring for ``tool_choice``."""
        from langchain_core.utils.function_calling import convert_to_openai_tool  # import cost

        formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
        if tool_choice is not None and formatted:
            _convert.to_wire_tool_choice(tool_choice, formatted)  # a bad choice raises here
            kwargs["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_mode", "json_schema"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Parse answers into ``schema`` (pydantic, TypedDict, JSON schema); default json_schema."""
        if kwargs:
            raise ValueError(f"with_structured_output: unexpected arguments {sorted(kwargs)}")
        from langchain_dashscope_ext._structured import structured_output_runnable  # import cost

        return structured_output_runnable(self, schema, method, include_raw, strict)


def _thinking_off_where_allowed(profile: ModelProfile, params: dict[str, Any], choice: Any) -> None:
    """Turn thinking off where the model allows it for what thinking mode refuses (core's
    ``ModelProfile.thinks``): a JSON ``response_format`` always; a forced tool choice when
    thinking is only the model's default (an explicit ``enable_thinking=True`` keeps it: "any"
    then uses the core's checked strategy, a named tool is refused by the core)."""
    fmt = params.get("response_format")
    wants_json = isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")
    forced = choice is True or choice in _convert.FORCING_CHOICES or isinstance(choice, Mapping)
    forced = forced or (isinstance(choice, str) and choice not in ("auto", "none"))
    flag = params.get("enable_thinking")
    off = wants_json or (forced and flag is None)
    if off and profile.can_disable_thinking and profile.thinks(flag):
        params["enable_thinking"] = False
