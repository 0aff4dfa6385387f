"""Client options given with one call of a framework model (``invoke(..., timeout=5)``).

They choose the client the call goes through and never reach the wire (issue 11): the
LangChain and LlamaIndex classes pop them with ``pop_client_options`` and keep one client pair
per distinct set in a ``CallClients``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    import httpx

    from dashscope_core._client import AsyncDashScope, DashScope

__all__ = ["CLIENT_OPTIONS", "CallClients", "pop_client_options"]

CLIENT_OPTIONS = ("timeout", "max_retries", "api_key", "base_url", "region", "workspace",
                  "default_headers")  # fmt: skip
"""Arguments of ``DashScope`` a call may give."""
_ALIASES = {"request_timeout": "timeout", "dashscope_api_key": "api_key"}
"""The names ChatOpenAI (``request_timeout``) and ChatTongyi (``dashscope_api_key``) use."""
_LOCK = threading.Lock()  # module-wide: a lock held by a model would not copy or pickle


def pop_client_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Remove the client options (``CLIENT_OPTIONS`` and their aliases) from a call's
    ``kwargs``; return those given (not None) under the client's names, a ``SecretStr`` key
    revealed for the client."""
    options: dict[str, Any] = {}
    if not kwargs:  # the usual call: nothing to look for
        return options
    for name in (*CLIENT_OPTIONS, *_ALIASES):
        if name in kwargs:
            value = kwargs.pop(name)
            if value is not None:
                options[_ALIASES.get(name, name)] = value
    if isinstance(options.get("api_key"), SecretStr):
        options["api_key"] = options["api_key"].get_secret_value()
    return options


class CallClients:
    """One ``(DashScope, AsyncDashScope)`` pair per distinct set of call options, built once
    from the model's own client arguments with those options on top, and kept for later calls
    with the same options (thread-safe)."""

    def __init__(self) -> None:
        self._pairs: dict[str, tuple[DashScope, AsyncDashScope]] = {}

    def get(
        self,
        base: Mapping[str, Any],
        options: Mapping[str, Any],
        http_clients: tuple[httpx.Client | None, httpx.AsyncClient | None] = (None, None),
    ) -> tuple[DashScope, AsyncDashScope]:
        """The pair for ``options`` (built from ``{**base, **options}`` and ``http_clients``
        the first time; a bad value raises ``ValueError``/``TypeError`` naming it)."""
        key = repr(sorted(options.items()))  # values may be unhashable (default_headers)
        with _LOCK:
            pair = self._pairs.get(key)
            if pair is None:
                from dashscope_core._client import AsyncDashScope, DashScope

                merged = {**base, **options}
                sync = DashScope(http_client=http_clients[0], **merged)  # checks the values
                pair = self._pairs[key] = (sync, AsyncDashScope(http_client=http_clients[1],
                                                                **merged))  # fmt: skip
        return pair
