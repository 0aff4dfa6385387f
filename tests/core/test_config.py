"""Client configuration: argument > environment > default, regions, validation before I/O."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core._protocol.config import REGIONS, resolve_config


def config(env: dict[str, str] | None = None, **args: object) -> object:
    kwargs = {"api_key": None, "base_url": None, "region": None, "workspace": None, **args}
    return resolve_config(env=env or {}, **kwargs)  # type: ignore[arg-type]


def test_region_table_matches_protocol() -> None:
    assert REGIONS["cn-beijing"] == "https://dashscope.aliyuncs.com/api/v1"
    assert REGIONS["ap-southeast-1"] == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert REGIONS["cn-hongkong"] == "https://cn-hongkong.dashscope.aliyuncs.com/api/v1"


def test_defaults_from_env() -> None:
    cfg = config({"DASHSCOPE_API_KEY": "sk-env", "DASHSCOPE_WORKSPACE": "ws-1"})
    assert cfg.api_key.get_secret_value() == "sk-env"  # type: ignore[attr-defined]
    assert cfg.base_url == REGIONS["cn-beijing"]  # type: ignore[attr-defined]
    assert cfg.workspace == "ws-1"  # type: ignore[attr-defined]


def test_precedence() -> None:
    env = {"DASHSCOPE_API_KEY": "sk-env", "DASHSCOPE_BASE_URL": "http://env.test/api/v1/"}
    assert config(env).base_url == "http://env.test/api/v1"  # type: ignore[attr-defined]
    assert config(env, region="ap-southeast-1").base_url == REGIONS["ap-southeast-1"]  # type: ignore[attr-defined]
    assert config(env, base_url="http://arg.test/x").base_url == "http://arg.test/x"  # type: ignore[attr-defined]
    assert config(env, api_key="sk-arg").api_key.get_secret_value() == "sk-arg"  # type: ignore[attr-defined]
    legacy = {"DASHSCOPE_API_KEY": "k", "DASHSCOPE_HTTP_BASE_URL": "http://old.test/api/v1"}
    assert config(legacy).base_url == "http://old.test/api/v1"  # type: ignore[attr-defined]


def test_secret_str_key_accepted() -> None:
    cfg = config(api_key=SecretStr("sk-secret"))
    assert cfg.api_key.get_secret_value() == "sk-secret"  # type: ignore[attr-defined]
    assert "sk-secret" not in repr(cfg)


@pytest.mark.parametrize(
    ("args", "error", "names"),
    [
        ({}, ValueError, "api_key"),
        ({"api_key": "k", "region": "mars-1"}, ValueError, "region"),
        ({"api_key": "k", "base_url": "ftp://x"}, ValueError, "base_url"),
        ({"api_key": "k", "base_url": "dashscope.aliyuncs.com"}, ValueError, "base_url"),
        ({"api_key": 42}, TypeError, "api_key"),
    ],
)
def test_bad_configuration_names_the_argument(args: dict, error: type, names: str) -> None:
    with pytest.raises(error, match=names):
        config(**args)


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
def test_client_reads_env(monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "http://127.0.0.1:9/api/v1")
    client = cls()
    assert client.base_url == "http://127.0.0.1:9/api/v1"
    assert client.max_retries == 2


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
def test_client_without_key_fails_before_io(monkeypatch: pytest.MonkeyPatch, cls: type) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"api_key.*DASHSCOPE_API_KEY"):
        cls()


@pytest.mark.parametrize("cls", [DashScope, AsyncDashScope])
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"timeout": 0}, ValueError, "timeout"),
        ({"timeout": -5}, ValueError, "timeout"),
        ({"max_retries": -1}, ValueError, "max_retries"),
        ({"max_retries": "3"}, TypeError, "max_retries"),
        ({"stream_idle_timeout": 0}, ValueError, "stream_idle_timeout"),
        ({"region": "nowhere"}, ValueError, "region"),
    ],
)
def test_client_bad_arguments(cls: type, kwargs: dict, error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        cls(api_key="sk-x", **kwargs)


def test_async_client_rejects_a_sync_http_client() -> None:
    import httpx

    with httpx.Client() as sync_http, pytest.raises(TypeError, match="http_client"):
        AsyncDashScope(api_key="sk-x", http_client=sync_http)  # type: ignore[arg-type]
