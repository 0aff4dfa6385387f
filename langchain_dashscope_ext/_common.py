"""Client settings shared by every LangChain class: key, endpoint, timeout, retries, clients.

The core clients are built on first use (one ``DashScope`` per model instance for sync calls,
one ``AsyncDashScope`` per model and event loop for async ones: connections belong to a loop),
so constructing a model stays cheap and calls build nothing.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from langchain_core.utils import secret_from_env
from pydantic import BaseModel, Field, PrivateAttr, SecretStr, model_validator

if TYPE_CHECKING:
    from dashscope_core import AsyncDashScope, DashScope
    from dashscope_core._loop_clients import LoopClients

__all__ = ["DashScopeSettings"]

_LOCK = threading.Lock()


class DashScopeSettings(BaseModel):
    """Mixin: where and as whom to call DashScope; holds the core clients."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("DASHSCOPE_API_KEY", default=None)
    )
    """DashScope API key; default: env ``DASHSCOPE_API_KEY``. Never serialised or shown."""
    base_url: str | None = None
    """API base URL; default: env ``DASHSCOPE_BASE_URL``, else the region's endpoint."""
    region: str | None = None
    """``cn-beijing`` (default), ``ap-southeast-1`` (international), ``cn-hongkong``."""
    workspace: str | None = None
    """Model Studio workspace (``X-DashScope-WorkSpace``); default env ``DASHSCOPE_WORKSPACE``."""
    timeout: float | None = Field(default=None, gt=0)
    """Request timeout in seconds (None: the core client's default)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries after the first attempt (429, 5xx, connection errors), done by the core client."""

    _client: DashScope | None = PrivateAttr(default=None)
    _async_clients: LoopClients | None = PrivateAttr(default=None)

    @property
    def lc_secrets(self) -> dict[str, str]:
        """The key serialises as a reference to ``DASHSCOPE_API_KEY``, never its value."""
        return {"api_key": "DASHSCOPE_API_KEY"}

    @model_validator(mode="after")
    def _check_key(self) -> DashScopeSettings:
        if self.api_key is None or not self.api_key.get_secret_value():
            raise ValueError(
                "api_key: no API key given and DASHSCOPE_API_KEY is not set "
                "(get one in the Model Studio console)"
            )
        if self.region is not None:
            from dashscope_core._protocol.config import REGIONS

            if self.region not in REGIONS:
                raise ValueError(
                    f"region: unknown region {self.region!r}; one of {sorted(REGIONS)}"
                )
        return self

    def _client_kwargs(self) -> dict[str, Any]:
        key = self.api_key.get_secret_value() if self.api_key is not None else None
        return {"api_key": key, "base_url": self.base_url, "region": self.region,
                "workspace": self.workspace, "timeout": self.timeout,
                "max_retries": self.max_retries}  # fmt: skip

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
        """The running event loop's asynchronous core client (one per loop, reused)."""
        if self._async_clients is None:
            from dashscope_core import AsyncDashScope
            from dashscope_core._loop_clients import LoopClients

            with _LOCK:
                if self._async_clients is None:
                    kwargs = self._client_kwargs()
                    self._async_clients = LoopClients(lambda: AsyncDashScope(**kwargs))
        return self._async_clients.get()

    async def aclose(self) -> None:
        """Close the running event loop's async client (clients of finished loops close
        themselves)."""
        if self._async_clients is not None:
            await self._async_clients.aclose_current()


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
