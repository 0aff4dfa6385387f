"""Client configuration resolved from arguments and an environment mapping (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import SecretStr

REGIONS: dict[str, str] = {
    "cn-beijing": "https://dashscope.aliyuncs.com/api/v1",
    "ap-southeast-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "intl": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn-hongkong": "https://cn-hongkong.dashscope.aliyuncs.com/api/v1",
}
DEFAULT_REGION = "cn-beijing"


@dataclass(frozen=True)
class ClientConfig:
    """Where and as whom a client talks. ``api_key`` is a ``SecretStr``: never in ``repr``."""

    api_key: SecretStr
    base_url: str
    workspace: str | None

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={self.base_url!r}, workspace={self.workspace!r})"

    @property
    def origin(self) -> tuple[str, str]:
        """(scheme, host:port) of the API host: the only place the key is sent."""
        parts = urlsplit(self.base_url)
        return parts.scheme, parts.netloc


def header_safe(value: str) -> bool:
    """Whether ``value`` can be sent as an HTTP header value: printable ASCII only."""
    return value.isascii() and value.isprintable()


def resolve_config(
    *,
    api_key: str | SecretStr | None,
    base_url: str | None,
    region: str | None,
    workspace: str | None,
    env: Mapping[str, str],
) -> ClientConfig:
    """Apply argument > environment > default for key, base URL and workspace.

    Raises:
        ValueError: no API key anywhere, an unknown region, or a base URL that is not http(s).
    """
    if isinstance(api_key, SecretStr):
        api_key = api_key.get_secret_value()
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key: expected a str or SecretStr, got {type(api_key).__name__}")
    key = api_key or env.get("DASHSCOPE_API_KEY")
    if not key:
        raise ValueError(
            "api_key: no API key given and DASHSCOPE_API_KEY is not set "
            "(get one in the Model Studio console)"
        )
    if not header_safe(key) or key != key.strip():  # the message never shows the key
        raise ValueError(
            "api_key: contains whitespace, a line break or a non-ASCII character "
            "(a newline left from reading it from a file?)"
        )
    if workspace is not None and not header_safe(workspace):
        raise ValueError(f"workspace: not a valid header value: {workspace!r}")
    if region is not None and region not in REGIONS:
        raise ValueError(f"region: unknown region {region!r}; expected one of {sorted(REGIONS)}")
    url = (
        base_url
        or (REGIONS[region] if region else None)
        or env.get("DASHSCOPE_BASE_URL")
        or env.get("DASHSCOPE_HTTP_BASE_URL")
        or REGIONS[DEFAULT_REGION]
    )
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValueError(f"base_url: expected an http(s) URL, got {url!r}")
    return ClientConfig(
        api_key=SecretStr(key),
        base_url=url.rstrip("/"),
        workspace=workspace or env.get("DASHSCOPE_WORKSPACE") or None,
    )


NATIVE_PATH = "/api/v1"
COMPATIBLE_PATH = "/compatible-mode/v1"


def compatible_base(base_url: str) -> str:
    """The OpenAI-compatible base of a native base URL (PROTOCOL.md "Batch API").

    ``…/api/v1`` becomes ``…/compatible-mode/v1`` (every region, custom hosts and proxies that
    keep the path); a base already ending in ``/compatible-mode/v1`` is kept; any other base
    gets ``/compatible-mode/v1`` appended (a proxy mounting the service below its own prefix).
    """
    base = base_url.rstrip("/")
    if base.endswith(COMPATIBLE_PATH):
        return base
    if base.endswith(NATIVE_PATH):
        base = base[: -len(NATIVE_PATH)]
    return base + COMPATIBLE_PATH
