"""Client settings shared by every LangChain class: key, endpoint, timeout, retries, clients.

The core clients are built on first use (one ``DashScope`` and one ``AsyncDashScope`` per model
instance; the async client keeps each event loop's connections apart itself), so constructing a
model stays cheap and calls build nothing. A client option passed per call
(``invoke(..., timeout=5)``) gets a client of its own with that option, kept for later calls
with the same options: client options are never generation parameters.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.callbacks.manager import ahandle_event, handle_event
from langchain_core.utils import secret_from_env
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from dashscope_core import CallClients, RateLimit, pop_client_options

if TYPE_CHECKING:
    from dashscope_core import AsyncDashScope, DashScope, RateLimitWait

__all__ = [
    "RATE_LIMIT_EVENT",
    "DashScopeSettings",
    "ServiceTokenCounting",
    "aopened",
    "opened",
    "rate_limit_events",
]

_LOCK = threading.Lock()
_T = TypeVar("_T")
RunManager = CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None
RATE_LIMIT_EVENT = "dashscope_rate_limit_wait"
"""Name of the custom callback event a call fires after waiting for its rate-limit budget;
its data is ``{"model", "seconds", "reason", "tokens"}`` (``dashscope_core.RateLimitWait``)."""
_NOTHING = nullcontext()


def rate_limit_events(run_manager: RunManager) -> AbstractContextManager[None]:
    """Within this block, report the core client's rate-limit waits as ``on_custom_event``
    (``RATE_LIMIT_EVENT``) on the run of ``run_manager``."""
    if run_manager is None:
        return _NOTHING
    from dashscope_core import observe_rate_limits  # loaded by rate-limited models only

    manager = run_manager
    fire = ahandle_event if isinstance(manager, AsyncCallbackManagerForLLMRun) else handle_event

    def report(wait: RateLimitWait) -> Any:
        return fire(manager.handlers, "on_custom_event", "ignore_custom_event", RATE_LIMIT_EVENT,
                    asdict(wait), run_id=manager.run_id, tags=manager.tags,
                    metadata=manager.metadata)  # fmt: skip

    return observe_rate_limits(report)


def opened(stream: Iterator[_T], events: AbstractContextManager[None]) -> Iterator[_T]:
    """``stream``, its opening (the request, and any rate-limit wait) inside ``events``
    (``DashScopeSettings._rate_limit_events``)."""
    iterator = iter(stream)
    with events:
        first = next(iterator, None)
    if first is not None:
        yield first
        yield from iterator


async def aopened(
    stream: AsyncIterator[_T], events: AbstractContextManager[None]
) -> AsyncIterator[_T]:
    """``opened`` for async streams."""
    iterator = aiter(stream)
    with events:
        first = await anext(iterator, None)
    if first is not None:
        yield first
        async for item in iterator:
            yield item


class DashScopeSettings(BaseModel):
    """Mixin: where and as whom to call DashScope; holds the core clients.

    Names people bring from ChatTongyi and ChatOpenAI are aliases of the same fields:
    ``dashscope_api_key`` / ``openai_api_key`` → ``api_key``, ``request_timeout`` → ``timeout``.
    """

    model_config = ConfigDict(populate_by_name=True)

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("DASHSCOPE_API_KEY", default=None),
        validation_alias=AliasChoices("api_key", "dashscope_api_key", "openai_api_key"),
    )
    """DashScope API key; default: env ``DASHSCOPE_API_KEY``. Never serialised or shown."""
    base_url: str | None = None
    """API base URL; default: env ``DASHSCOPE_BASE_URL``, else the region's endpoint."""
    region: str | None = None
    """``cn-beijing`` (default), ``ap-southeast-1`` (international), ``cn-hongkong``."""
    workspace: str | None = None
    """Model Studio workspace (``X-DashScope-WorkSpace``); default env ``DASHSCOPE_WORKSPACE``."""
    timeout: float | None = Field(
        default=None, gt=0, validation_alias=AliasChoices("timeout", "request_timeout")
    )
    """Request timeout in seconds (None: the core client's default)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries after the first attempt (429, 5xx, connection errors), done by the core client."""
    rate_limit: RateLimit | dict[str, RateLimit] | None = None
    """``RateLimit(rpm=, tpm=, redis_url=)`` or ``{model or "*": RateLimit}``: the client waits
    for the model's budget instead of failing (waits fire ``RATE_LIMIT_EVENT``)."""

    _client: DashScope | None = PrivateAttr(default=None)
    _aclient: AsyncDashScope | None = PrivateAttr(default=None)
    _per_call: CallClients = PrivateAttr(default_factory=CallClients)

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The key serialises as a reference to ``DASHSCOPE_API_KEY``, never its value."""
        return {"api_key": "DASHSCOPE_API_KEY"}

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _check_rate_limit(cls, value: Any) -> Any:
        RateLimit.per_model(value)  # the core's checks and messages, at construction
        return value

    @model_validator(mode="after")
    def _check_key(self) -> DashScopeSettings:
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ValueError(
                "api_key: no API key given and DASHSCOPE_API_KEY is not set "
                "(get one in the Model Studio console)"
            )
        if self.region is not None:
            from dashscope_core import REGIONS

            if self.region not in REGIONS:
                raise ValueError(
                    f"region: unknown region {self.region!r}; one of {sorted(REGIONS)}"
                )
        return self

    def _client_kwargs(self) -> dict[str, Any]:
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return {"api_key": key, "base_url": self.base_url, "region": self.region,
                "workspace": self.workspace, "timeout": self.timeout,
                "max_retries": self.max_retries, "rate_limit": self.rate_limit}  # fmt: skip

    def _rate_limit_events(self, run_manager: RunManager) -> AbstractContextManager[None]:
        """``rate_limit_events`` for a call; a model without ``rate_limit`` never waits for one."""
        return _NOTHING if self.rate_limit is None else rate_limit_events(run_manager)

    def _sync_client(self, kwargs: dict[str, Any]) -> DashScope:
        """The client of a call: the usual one, or one with the call's client options (popped
        from ``kwargs``: they are never sent)."""
        options = pop_client_options(kwargs)
        if options:
            return self._per_call.get(self._client_kwargs(), options)[0]
        return self.client

    def _async_client(self, kwargs: dict[str, Any]) -> AsyncDashScope:
        """The async client of a call (see ``_sync_client``)."""
        options = pop_client_options(kwargs)
        if options:
            return self._per_call.get(self._client_kwargs(), options)[1]
        return self.async_client

    @property
    def client(self) -> DashScope:
        """The synchronous core client (built on first use, then reused)."""
        if self._client is None:
            from dashscope_core import DashScope

            with _LOCK:
                if self._client is None:
                    self._client = DashScope(**self._client_kwargs())
        return self._client

    @property
    def async_client(self) -> AsyncDashScope:
        """The asynchronous core client (built on first use; serves every event loop)."""
        if self._aclient is None:
            from dashscope_core import AsyncDashScope

            with _LOCK:
                if self._aclient is None:
                    self._aclient = AsyncDashScope(**self._client_kwargs())
        return self._aclient

    async def aclose(self) -> None:
        """Close the running event loop's connections (other loops' close with their loops)."""
        if self._aclient is not None:
            await self._aclient.close()


class ServiceTokenCounting:
    """Mixin: token counts from DashScope's tokenizer (``POST /tokenizer``), exact for the model
    (Qwen3.5+ and hosted models have their own vocabularies) and with no transformers."""

    if TYPE_CHECKING:
        model: str

        @property
        def client(self) -> DashScope: ...

    def get_token_ids(self, text: str) -> list[int]:
        """The model's token ids of ``text`` (the service's tokenizer)."""
        if not text:
            return []
        return self.client.tokenizer.tokenize(model=self.model, prompt=text).token_ids

    def get_num_tokens(self, text: str) -> int:
        """The number of tokens the model reads for ``text``."""
        return self.client.tokenizer.count(model=self.model, prompt=text) if text else 0
