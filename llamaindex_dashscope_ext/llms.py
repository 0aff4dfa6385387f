"""``DashScopeLLM``: Qwen on DashScope as a LlamaIndex ``FunctionCallingLLM``.

The class only translates (``_convert``) and delegates to one ``DashScope`` client (sync methods)
and one ``AsyncDashScope`` per event loop (async methods): retries, timeouts, typed errors and
SSE live in ``dashscope_core``.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

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
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.prompts import PromptTemplate
from llama_index.core.types import PydanticProgramMode
from llama_index_instrumentation import get_dispatcher
from pydantic import BaseModel

from dashscope_core import ModelProfile, get_profile
from llamaindex_dashscope_ext._clients import Connection, client_options
from llamaindex_dashscope_ext._convert import (
    completion_from_wire,
    from_wire_response,
    json_schema_format,
    resolve_tool_choice,
    to_wire_messages,
    to_wire_tools,
    tool_selections,
)
from llamaindex_dashscope_ext._streams import (
    achat_gen,
    acompletion_gen,
    apartial_objects,
    chat_gen,
    completion_gen,
    partial_objects,
)

if TYPE_CHECKING:
    import httpx
    from llama_index.core.tools.types import BaseTool

    from dashscope_core import DashScope

__all__ = ["DEFAULT_MODEL", "DashScopeLLM", "client_options"]

dispatcher = get_dispatcher(__name__)
Model = TypeVar("Model", bound=BaseModel)
DEFAULT_MODEL = "qwen-plus"
_SAMPLING = ("temperature", "top_p", "top_k", "max_tokens", "seed", "stop", "enable_search",
             "search_options", "enable_thinking", "thinking_budget",
             "repetition_penalty")  # fmt: skip


class DashScopeLLM(FunctionCallingLLM, Connection):
    """Qwen chat models on DashScope (Model Studio): chat, completion, tools, streaming, async.

    Sampling fields left ``None`` are not sent (the server default applies). ``metadata`` comes
    from the core's profile table (``profile``); ``context_window`` and
    ``is_function_calling_model`` override it (or ``dashscope_core.register_profile``).
    ``http_client`` / ``async_http_client`` plug in custom httpx clients. A non-streaming call
    to a model that only thinks in a stream is streamed and accumulated by the core. Structured
    output uses DashScope's ``response_format`` JSON schema where the model supports it, with
    thinking turned off where the model allows it; a model that always thinks answers through a
    tool call (``pydantic_program_mode=PydanticProgramMode.FUNCTION`` forces that path).
    ``tokenizer`` counts tokens with the service's tokenizer.
    """

    model: str = Field(default=DEFAULT_MODEL, description="DashScope model name, e.g. qwen-plus.")
    temperature: float | None = Field(
        default=None, ge=0.0, lt=2.0, description="Sampling temperature."
    )
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: int | None = Field(default=None, ge=0, description="Top-k sampling (0 = off).")
    max_tokens: int | None = Field(
        default=None, gt=0, description="Output token limit; not sent when None."
    )
    seed: int | None = Field(default=None, ge=0, description="Sampling seed.")
    stop: str | list[str] | None = Field(default=None, description="Stop string(s).")
    enable_search: bool | None = Field(default=None, description="Let the model search the web.")
    search_options: dict[str, Any] | None = Field(
        default=None,
        description="enable_source / enable_citation / forced_search / search_strategy ...; "
        "given alone it turns enable_search on. Sources become CitationBlocks.",
    )
    enable_thinking: bool | None = Field(default=None, description="Hybrid models: think first.")
    thinking_budget: int | None = Field(default=None, gt=0, description="Max reasoning tokens.")
    repetition_penalty: float | None = Field(
        default=None, gt=0.0, description="Repetition penalty."
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra DashScope parameters sent with every call."
    )
    context_window: int | None = Field(default=None, gt=0, description="Override the table.")
    is_function_calling_model: bool | None = Field(default=None, description="Override the table.")

    def __init__(
        self,
        model: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        # ``model_name`` is llama-index-llms-dashscope's (and our DashScopeEmbedding's) name
        name = kwargs.pop("model_name", None)
        if model is not None and name is not None and model != name:
            raise ValueError(f"model: given twice, as {model!r} and model_name={name!r}")
        super().__init__(model=model or name or DEFAULT_MODEL, **kwargs)
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model: expected a non-empty model name")
        self._connect(http_client, async_http_client)

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialisation and callback payloads."""
        return "DashScopeLLM"

    @property
    def profile(self) -> ModelProfile:
        """The core's profile of ``model`` (conservative, ``known=False``, when not listed)."""
        return get_profile(self.model)

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output limit and capabilities (the profile plus overrides)."""
        profile = self.profile
        fc = self.is_function_calling_model
        sent = self.additional_kwargs.get("max_tokens", self.max_tokens)  # as _request sends it
        return LLMMetadata(
            context_window=self.context_window or profile.context_window,
            num_output=sent if isinstance(sent, int) and sent > 0 else profile.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=profile.tool_calling if fc is None else fc,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    @property
    def tokenizer(self) -> Callable[[str], list[int]]:
        """``text -> token ids`` from the service's tokenizer (exact for this model), e.g.
        ``TokenCountingHandler(tokenizer=llm.tokenizer)``; one request per call."""
        return partial(_token_ids, self._client, self.model)

    def _thinks(self, kwargs: dict[str, Any]) -> bool:
        flag = kwargs.get("enable_thinking", self.additional_kwargs.get("enable_thinking"))
        return self.profile.thinks(self.enable_thinking if flag is None else flag)

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        return self._wire_request(to_wire_messages(messages), kwargs)

    def _prompt_request(self, prompt: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        # what _request(_user(prompt), ...) sends, without building a ChatMessage to undo it
        return self._wire_request([{"role": "user", "content": prompt}], kwargs)

    def _wire_request(
        self, messages: list[dict[str, Any]], kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in _SAMPLING}
        params = {k: v for k, v in params.items() if v is not None}
        params.update(self.additional_kwargs)
        params.update(kwargs)
        if params.get("search_options") and params.get("enable_search") is None:
            params["enable_search"] = True  # search_options mean nothing without a search
        return {"model": self.model, "messages": messages, "result_format": "message", **params}

    # -- chat ------------------------------------------------------------------------------
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send ``messages``; the answer with usage, thinking and tool calls."""
        return from_wire_response(
            self._sync_client(kwargs).generation.call(**self._request(messages, kwargs))
        )

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the answer: each response has the message so far and ``delta``."""
        return chat_gen(
            self._sync_client(kwargs).generation.stream(**self._request(messages, kwargs))
        )

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async ``chat``."""
        client = self._async_client(kwargs)
        return from_wire_response(await client.generation.call(**self._request(messages, kwargs)))

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async ``stream_chat``."""
        client = self._async_client(kwargs)
        return achat_gen(client.generation.stream(**self._request(messages, kwargs)))

    # -- completion ------------------------------------------------------------------------
    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer ``prompt`` (sent as one user message)."""
        response = self._sync_client(kwargs).generation.call(**self._prompt_request(prompt, kwargs))
        return completion_from_wire(response)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Stream the answer to ``prompt``."""
        chunks = self._sync_client(kwargs).generation.stream(**self._prompt_request(prompt, kwargs))
        return completion_gen(chunks)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async ``complete``."""
        client = self._async_client(kwargs)
        response = await client.generation.call(**self._prompt_request(prompt, kwargs))
        return completion_from_wire(response)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async ``stream_complete``."""
        client = self._async_client(kwargs)
        chunks = client.generation.stream(**self._prompt_request(prompt, kwargs))
        return acompletion_gen(chunks)

    # -- tools -----------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``chat`` arguments for a tool-calling turn; ``chat_history`` is copied, not changed."""
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(_user(user_msg)[0] if isinstance(user_msg, str) else user_msg)
        specs = to_wire_tools(tools)
        if not specs:
            return {"messages": messages, **kwargs}
        names = [spec["function"]["name"] for spec in specs]
        choice = resolve_tool_choice(tool_choice, tool_required, names)
        return {"messages": messages, "tools": specs, "tool_choice": choice,
                "parallel_tool_calls": allow_parallel_tool_calls, **kwargs}  # fmt: skip

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls in ``response``; partial JSON is tolerated only mid-stream."""
        selections = tool_selections(response)
        if not selections and error_on_no_tool_call:
            finish = response.additional_kwargs.get("finish_reason")
            raise ValueError(
                f"Expected at least one tool call, got none (finish_reason={finish!r}, "
                f"text={(response.message.content or '')[:200]!r})"
            )
        return selections

    # -- structured output -----------------------------------------------------------------

    def _uses_json_schema(self) -> bool:
        profile = self.profile
        return (
            self.pydantic_program_mode == PydanticProgramMode.DEFAULT
            and profile.json_schema
            and profile.thinking != "always"
        )

    def _schema_request(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: dict[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        """Messages and ``chat`` arguments asking for ``output_cls`` by JSON schema."""
        messages = self._extend_messages(prompt.format_messages(llm=self, **prompt_args))
        kwargs = dict(llm_kwargs or {})
        kwargs.pop("tool_choice", None)
        kwargs["response_format"] = json_schema_format(output_cls)
        if self._thinks(kwargs):  # thinking mode refuses JSON output: off where allowed
            kwargs["enable_thinking"] = False
        return messages, kwargs

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Structured output: native JSON schema where supported, else a forced tool call."""
        if not self._uses_json_schema():
            result: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        _structured_start(output_cls, prompt, prompt_args)
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return _structured_end(output_cls, self.chat(messages, **kwargs))

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async ``structured_predict``."""
        if not self._uses_json_schema():
            result: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        _structured_start(output_cls, prompt, prompt_args)
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return _structured_end(output_cls, await self.achat(messages, **kwargs))

    def _structured_stream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Any, None, None]:
        if not self._uses_json_schema():
            return super()._structured_stream_call(output_cls, prompt, llm_kwargs, **prompt_args)
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return partial_objects(self.stream_chat(messages, **kwargs), output_cls)

    async def _structured_astream_call(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Any, None]:
        if not self._uses_json_schema():
            return await super()._structured_astream_call(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        messages, kwargs = self._schema_request(output_cls, prompt, llm_kwargs, prompt_args)
        return apartial_objects(await self.astream_chat(messages, **kwargs), output_cls)


def _token_ids(client: DashScope, model: str, text: str) -> list[int]:
    return client.tokenizer.tokenize(model=model, prompt=text).token_ids if text else []


def _user(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def _structured_start(
    output_cls: type[Model], prompt: PromptTemplate, args: dict[str, Any]
) -> None:
    # the events LLM.structured_predict fires, which the native path bypasses
    event = LLMStructuredPredictStartEvent(
        output_cls=output_cls, template=prompt, template_args=args
    )
    dispatcher.event(event)


def _structured_end(output_cls: type[Model], response: ChatResponse) -> Model:
    result = output_cls.model_validate_json(response.message.content or "")
    dispatcher.event(LLMStructuredPredictEndEvent(output=result))
    return result


def _store_signatures(cls: type) -> None:
    """Store each span-wrapped method's signature on it. LlamaIndex's span wrapper binds every
    call's arguments with ``inspect.signature``, which computes it each time (~15 µs of an
    ``acomplete``) unless one is stored: bench/README.md, the ``acomplete`` target."""
    for method in vars(cls).values():
        if hasattr(method, "__wrapped__"):
            inner = inspect.unwrap(method)
            inner.__signature__ = inspect.signature(inner)


_store_signatures(DashScopeLLM)
