"""Core clients for the LlamaIndex classes: the connection fields and the two clients.

A client option passed per call (``llm.chat(messages, timeout=5)``) picks a client built with
that option (kept for later calls with the same options); it is never a generation parameter.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)
from llama_index.core.instrumentation.events import BaseEvent
from llama_index_instrumentation import get_dispatcher
from pydantic import AliasChoices

from dashscope_core import CLIENT_OPTIONS, CallClients, RateLimit, pop_client_options

if TYPE_CHECKING:
    import httpx

    from dashscope_core import AsyncDashScope, DashScope, RateLimitWait

__all__ = [
    "Connection",
    "DashScopeRateLimitWaitEvent",
    "client_options",
]


dispatcher = get_dispatcher(__name__)


class DashScopeRateLimitWaitEvent(BaseEvent):
    """A call waited for its model's rate-limit budget (in the span of the call)."""

    model: str
    seconds: float
    reason: str
    """What the budget was short of: ``"requests"`` or ``"tokens"``."""
    tokens: float
    """The request's estimated token cost."""

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialisation."""
        return "DashScopeRateLimitWaitEvent"


def report_rate_limit_wait(wait: RateLimitWait) -> None:
    """The core clients' ``on_rate_limit_wait``: an instrumentation event in the current span."""
    dispatcher.event(DashScopeRateLimitWaitEvent(**asdict(wait)))


def client_options(owner: Any) -> dict[str, Any]:
    """Core client arguments from the fields of an LLM or embedding model."""
    key = owner.api_key.get_secret_value() if owner.api_key is not None else None
    options = {name: getattr(owner, name) for name in (*CLIENT_OPTIONS, "rate_limit")}
    return {**options, "api_key": key, "on_rate_limit_wait": report_rate_limit_wait}


class Connection(BaseModel):
    """Mixin: where and as whom to call DashScope (fields), and the core clients built from them."""

    model_config = ConfigDict(populate_by_name=True)

    timeout: float | None = Field(
        default=None,
        gt=0.0,
        validation_alias=AliasChoices("timeout", "request_timeout"),
        description="Request timeout (seconds).",
    )
    max_retries: int = Field(default=2, ge=0, description="Retries after the first attempt.")
    base_url: str | None = Field(default=None, description="API base URL (default: region's).")
    region: str | None = Field(default=None, description="cn-beijing, ap-southeast-1, ...")
    workspace: str | None = Field(default=None, description="X-DashScope-WorkSpace id.")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        validation_alias=AliasChoices("api_key", "dashscope_api_key"),
        description="Default: env DASHSCOPE_API_KEY.",
    )
    default_headers: dict[str, str] | None = Field(default=None, description="Extra headers.")
    rate_limit: RateLimit | dict[str, RateLimit] | None = Field(
        default=None,
        description="RateLimit(rpm=, tpm=, redis_url=) or {model or '*': RateLimit}: wait for "
        "the model's budget instead of failing (DashScopeRateLimitWaitEvent per wait).",
    )

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _check_rate_limit(cls, value: Any) -> Any:
        RateLimit.per_model(value)  # the core's checks and messages, at construction
        return value

    _client: DashScope = PrivateAttr()
    _aclient: AsyncDashScope = PrivateAttr()
    _http_clients: tuple[httpx.Client | None, httpx.AsyncClient | None] = PrivateAttr(
        default=(None, None)
    )
    _per_call: CallClients = PrivateAttr(default_factory=CallClients)

    def _connect(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        """Build the sync and async core clients from the fields."""
        from dashscope_core import AsyncDashScope, DashScope  # the client loads on first use

        options = client_options(self)
        self._client = DashScope(http_client=http_client, **options)
        self._aclient = AsyncDashScope(http_client=async_http_client, **options)
        self._http_clients = (http_client, async_http_client)

    def _call_clients(self, kwargs: dict[str, Any]) -> tuple[DashScope, AsyncDashScope] | None:
        """Pop per-call client options from ``kwargs`` (they are never sent); the clients that
        apply them, or None when there are none (the model's own clients then)."""
        options = pop_client_options(kwargs)
        if not options:
            return None
        return self._per_call.get(client_options(self), options, self._http_clients)

    def _sync_client(self, kwargs: dict[str, Any]) -> DashScope:
        """The client of a call: the usual one, or one with the call's client options."""
        clients = self._call_clients(kwargs)
        return self._client if clients is None else clients[0]

    def _async_client(self, kwargs: dict[str, Any] | None = None) -> AsyncDashScope:
        """The async client of a call (see ``_sync_client``)."""
        clients = self._call_clients(kwargs or {})
        return self._aclient if clients is None else clients[1]

    def close(self) -> None:
        """Close the sync client's connections (custom ``http_client``s are left open)."""
        self._client.close()

    async def aclose(self) -> None:
        """Close the running event loop's connections (other loops' close with their loops)."""
        await self._aclient.close()
