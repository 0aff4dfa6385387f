"""The hub on the wire: headers, the key only to the API host, no key in repr/errors/logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from dashscope_core import AsyncDashScope, DashScope, __version__
from dashscope_core._protocol.request import RequestSpec
from dashscope_core.errors import AuthenticationError, DashScopeError

HUB_API_KEY = "sk-hub-secret-0123456789"  # conftest's HubClient defaults
HUB_BASE_URL = "https://dashscope.test/api/v1"

GEN = "/services/aigc/text-generation/generation"
OK = {"output": {"text": "hi"}, "request_id": "req-1"}


def recorder(
    reply: httpx.Response | None = None,
) -> tuple[Any, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply if reply is not None else httpx.Response(200, json=OK)

    return handler, seen


def test_default_headers_on_the_wire(hub_make: Any) -> None:
    handler, seen = recorder()
    hub = hub_make(handler)
    hub.run(hub.client._send(RequestSpec("POST", GEN, json={"model": "m", "x": "中"})))
    (request,) = seen
    assert str(request.url) == HUB_BASE_URL + GEN
    assert request.headers["authorization"] == f"Bearer {HUB_API_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == f"dashscope-ext/{__version__}"
    assert "x-dashscope-sse" not in request.headers
    assert "x-dashscope-workspace" not in request.headers
    assert request.content == '{"model":"m","x":"中"}'.encode()


def test_workspace_user_agent_default_and_spec_headers(hub_make: Any) -> None:
    handler, seen = recorder()
    hub = hub_make(
        handler, workspace="ws-42", user_agent="my-app/1.0", default_headers={"X-Trace": "t1"}
    )
    spec = RequestSpec(
        "GET", "/tasks", params={"page_no": 2}, headers={"X-DashScope-Async": "enable"}
    )
    hub.run(hub.client._send(spec))
    (request,) = seen
    assert request.headers["x-dashscope-workspace"] == "ws-42"
    assert request.headers["user-agent"] == "my-app/1.0"
    assert request.headers["x-trace"] == "t1"
    assert request.headers["x-dashscope-async"] == "enable"
    assert request.url.params["page_no"] == "2"
    assert "content-type" not in request.headers, "no body, no content type"


def test_workspace_from_env(hub_make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_WORKSPACE", "ws-env")
    handler, seen = recorder()
    hub = hub_make(handler)
    hub.run(hub.client._send(RequestSpec("GET", "/tasks")))
    assert seen[0].headers["x-dashscope-workspace"] == "ws-env"


def test_key_only_sent_to_the_api_host(hub_make: Any) -> None:
    handler, seen = recorder()
    hub = hub_make(handler)
    for url in (
        "https://files.example.com/out.png",
        "http://dashscope.test/api/v1/tasks",  # other scheme
        "https://dashscope.test:8443/api/v1/tasks",  # other port
        "https://dashscope.test.evil.com/api/v1/tasks",
    ):
        hub.run(hub.client._send(RequestSpec("GET", url)))
    hub.run(hub.client._send(RequestSpec("GET", "https://dashscope.test/api/v1/predictions?p=2")))
    assert [("authorization" in r.headers) for r in seen] == [False] * 4 + [True]


def test_key_never_in_repr_str_errors_or_logs(
    hub_make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"code": "InvalidApiKey", "message": "Invalid API-key provided.", "request_id": "r"}
    handler, _ = recorder(httpx.Response(401, json=body))
    hub = hub_make(handler)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthenticationError) as info:
        hub.run(hub.client._send(RequestSpec("POST", GEN, json={})))
    texts = [repr(hub.client), str(hub.client), repr(vars(hub.client)), str(info.value),
             repr(info.value), repr(info.value.body), caplog.text]  # fmt: skip
    for text in texts:
        assert HUB_API_KEY not in text


def test_injected_client_is_not_closed_by_us(hub_mode: str) -> None:
    if hub_mode == "sync":
        http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=OK)))
        with DashScope(api_key="k", base_url=HUB_BASE_URL, http_client=http) as client:
            assert client.request("GET", "/tasks") == OK
        assert not http.is_closed
        http.close()
    else:
        import asyncio

        async def main() -> None:
            transport = httpx.MockTransport(lambda r: httpx.Response(200, json=OK))
            http = httpx.AsyncClient(transport=transport)
            async with AsyncDashScope(api_key="k", base_url=HUB_BASE_URL, http_client=http) as c:
                assert await c.request("GET", "/tasks") == OK
            assert not http.is_closed
            await http.aclose()

        asyncio.run(main())


def test_request_returns_none_for_empty_body(hub_make: Any) -> None:
    handler, _ = recorder(httpx.Response(204))
    hub = hub_make(handler)
    assert hub.run(hub.client.request("delete", "/tasks/x")) is None


def test_non_json_success_body_raises_validation_error(hub_make: Any) -> None:
    handler, _ = recorder(httpx.Response(200, text="<html>proxy</html>"))
    hub = hub_make(handler)
    with pytest.raises(DashScopeError, match="expected a JSON body"):
        hub.run(hub.client.request("GET", "/tasks"))


def test_per_request_timeout_reaches_transport(hub_make: Any) -> None:
    handler, seen = recorder()
    hub = hub_make(handler, timeout=30)
    hub.run(hub.client._send(RequestSpec("GET", "/tasks", timeout=2.5)))
    hub.run(hub.client._send(RequestSpec("GET", "/tasks")))
    first, second = (r.extensions["timeout"] for r in seen)
    assert (first["read"], first["connect"]) == (2.5, 10.0)
    assert (second["read"], second["connect"]) == (30, 10.0)


# DESIGN.md "Public API": every name a user of either client may call
DESIGN_SURFACE = [
    "generation.call", "generation.stream", "apps.call", "apps.stream", "apps.session",
    "embeddings.call", "embeddings.batch", "tasks.submit", "tasks.get", "tasks.cancel",
    "tasks.list", "tasks.wait", "images.generate", "run", "predictions.create",
    "predictions.get", "predictions.cancel", "predictions.list", "wait", "stream", "models.get",
    "models.list", "models.create", "models.versions.list", "models.versions.get",
    "collections.get", "collections.list", "hardware.list", "trainings.create", "trainings.get",
    "trainings.cancel", "trainings.list", "deployments.predictions.create", "paginate", "request",
    "close",
]  # fmt: skip
DESIGN_ERRORS = [
    "DashScopeError", "APIStatusError", "AuthenticationError", "PermissionDeniedError",
    "NotFoundError", "BadRequestError", "RateLimitError", "InternalServerError",
    "APIConnectionError", "APITimeoutError", "PredictionFailedError",
]  # fmt: skip


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
def test_design_surface_exists(cls: type[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    from dashscope_core import errors

    params = list(inspect.signature(cls).parameters)
    assert params[:9] == ["api_key", "base_url", "region", "workspace", "timeout", "max_retries",
                          "http_client", "default_headers", "user_agent"]  # fmt: skip
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    client = cls()
    for dotted in DESIGN_SURFACE:
        target: Any = client
        for part in dotted.split("."):
            target = getattr(target, part)
        assert callable(target), dotted
        assert (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)
                or cls is DashScope or dotted in {"stream", "paginate", "apps.session",
                "generation.stream", "apps.stream"}), dotted  # fmt: skip
    assert issubclass(errors.APITimeoutError, errors.APIConnectionError)
    assert all(issubclass(getattr(errors, name), errors.DashScopeError) for name in DESIGN_ERRORS)
    assert client.generation is client.generation  # namespaces are built once per client
    assert type(client.generation).__doc__  # and documented


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
@pytest.mark.parametrize(
    "key", ["sk-hub-secret\n", " sk-hub-secret", "sk-hub\r\nX-Evil: 1", "sk-ключ"]
)
def test_a_key_that_cannot_be_a_header_fails_before_any_request(cls: Any, key: str) -> None:
    with pytest.raises(ValueError, match="api_key") as caught:
        cls(api_key=key, base_url=HUB_BASE_URL)
    assert "sk-hub" not in str(caught.value) and "ключ" not in str(caught.value)


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
def test_header_values_that_cannot_be_sent_fail_at_construction(cls: Any) -> None:
    with pytest.raises(ValueError, match="'X-Token'") as caught:
        cls(api_key=HUB_API_KEY, base_url=HUB_BASE_URL, default_headers={"X-Token": "tok\nen"})
    assert "tok" not in str(caught.value).replace("'X-Token'", "")
    with pytest.raises(ValueError, match="user_agent"):
        cls(api_key=HUB_API_KEY, base_url=HUB_BASE_URL, user_agent="app\n")
    with pytest.raises(ValueError, match="workspace"):
        cls(api_key=HUB_API_KEY, base_url=HUB_BASE_URL, workspace="ws\n1")
