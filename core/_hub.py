"""What ``DashScope`` and ``AsyncDashScope`` share: configuration, request preparation, the
retry decisions around their send loops, and the lazily imported namespaces.

Nothing here sends; ``_client`` holds the two thin I/O shells.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr
from tenacity import RetryCallState

from dashscope_core._protocol.config import ClientConfig, header_safe, resolve_config
from dashscope_core._protocol.ratelimit import RateLimit
from dashscope_core._protocol.request import RawResponse, RequestSpec
from dashscope_core._protocol.retry import RetryPolicy
from dashscope_core._ratelimiter import Limiter, Observer, budget_scope
from dashscope_core._transport import make_timeout
from dashscope_core._version import __version__
from dashscope_core.errors import DashScopeError

__all__ = ["BaseClient", "Namespace", "decode_body", "request_spec"]

logger = logging.getLogger("dashscope_core")
_N = TypeVar("_N")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # json.dumps(...) reused


class Namespace(Generic[_N]):
    """A client attribute that imports its resource module on first access, then is cached.

    A non-data descriptor, like ``functools.cached_property``: the instance attribute it stores
    shadows it afterwards, so later accesses are plain attribute reads.
    """

    def __init__(self, module: str, cls: str, doc: str) -> None:
        self._module = f"dashscope_core.resources.{module}"
        self._cls = cls
        self._name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Namespace[_N]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> _N: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Namespace[_N] | _N:
        if obj is None:
            return self
        value: _N = getattr(importlib.import_module(self._module), self._cls)(obj)
        obj.__dict__[self._name] = value
        return value


def request_spec(
    method: str,
    route: str,
    params: Mapping[str, Any] | None,
    json: Any,
    headers: Mapping[str, str] | None,
) -> RequestSpec:
    """The spec of a low-level ``client.request`` call (POSTs are not replayed on 5xx)."""
    verb = method.upper()
    return RequestSpec(verb, route, json=json, params=params, headers=headers or {},
                       replay_safe=verb != "POST")  # fmt: skip


def decode_body(raw: RawResponse) -> Any:
    """The decoded JSON of a low-level call, None for an empty body."""
    return raw.json() if raw.content.strip() else None


class BaseClient:
    """Configuration and request preparation shared by both clients."""

    def __init__(
        self,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        region: str | None = None,
        workspace: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        user_agent: str | None = None,
        *,
        stream_idle_timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        rate_limit: RateLimit | Mapping[str, RateLimit] | None = None,
        on_rate_limit_wait: Observer | None = None,
    ) -> None:
        self._config: ClientConfig = resolve_config(
            api_key=api_key, base_url=base_url, region=region, workspace=workspace, env=os.environ
        )
        scope = budget_scope(
            self._config.api_key.get_secret_value(), self.base_url, self._config.workspace
        )
        self._limiter = Limiter(RateLimit.per_model(rate_limit), scope, on_rate_limit_wait)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int):
            raise TypeError(f"max_retries: expected an int, got {type(max_retries).__name__}")
        self._policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self._timeout = make_timeout(timeout)
        if stream_idle_timeout is not None and stream_idle_timeout <= 0:
            raise ValueError("stream_idle_timeout: expected a positive number of seconds")
        self._stream_idle_timeout = stream_idle_timeout
        headers = {
            "Content-Type": "application/json",
            "User-Agent": user_agent or f"dashscope-ext/{__version__}",
        }
        if self._config.workspace:
            headers["X-DashScope-WorkSpace"] = self._config.workspace
        headers.update(default_headers or {})
        for name, value in headers.items():  # values are not shown: a header may hold a secret
            if not isinstance(value, str) or not header_safe(value):
                raise ValueError(
                    f"default_headers/user_agent: the value of {name!r} is not printable ASCII"
                )
        self._headers = headers

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``https://dashscope.aliyuncs.com/api/v1``."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._policy.max_retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def _is_api_host(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) == self._config.origin

    def _prepare(self, spec: RequestSpec) -> dict[str, Any]:
        url = spec.path
        if url.startswith(("http://", "https://")):  # a page's next, a file output: check host
            to_api = self._is_api_host(url)
        else:  # below the base URL: the API host by construction (no urlsplit per call)
            url, to_api = self._config.base_url + url, True
        headers = dict(self._headers)
        if to_api:
            headers["Authorization"] = f"Bearer {self._config.api_key.get_secret_value()}"
        if spec.stream:
            headers["X-DashScope-SSE"] = "enable"
            headers["Accept"] = "text/event-stream"
        headers.update(spec.headers)
        timeout = self._timeout
        if spec.timeout is not None:
            timeout = httpx.Timeout(spec.timeout, connect=self._timeout.connect)
        content = None
        if spec.json is not None:
            content = _ENCODER.encode(spec.json).encode()
        else:
            headers.pop("Content-Type", None)
        request: dict[str, Any] = {
            "method": spec.method,
            "url": url,
            "headers": headers,
            "content": content,
            "params": dict(spec.params) if spec.params else None,
            "timeout": timeout,
        }
        if spec.files is not None:  # multipart: httpx encodes it (senders: multipart_body)
            request.update(files=spec.files, data=spec.data)
        return request

    def _first_retry_delay(self, spec: RequestSpec, exc: DashScopeError) -> float:
        """The wait before the second attempt; re-raises ``exc`` when it is not retried."""
        delay = self._policy.first_retry_delay(
            exc, replay_safe=spec.replay_safe, limited=self._limiter.applies(spec)
        )
        if delay is None:
            raise exc
        logger.debug("retrying after attempt 1: %r", exc)
        return delay

    def _retry_kwargs(self, spec: RequestSpec, sleep: Any) -> dict[str, Any]:
        """tenacity arguments for the attempts after the first (which runs outside tenacity)."""
        return self._policy.tenacity_kwargs(
            sleep=sleep, replay_safe=spec.replay_safe, before_sleep=self._log_retry,
            attempts_done=1, limited=self._limiter.applies(spec),
        )  # fmt: skip

    def _log_retry(self, state: RetryCallState) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            exc = state.outcome.exception() if state.outcome else None
            logger.debug("retrying after attempt %d: %r", state.attempt_number, exc)
