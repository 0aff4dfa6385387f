"""Third-party clients against the emulator: the official ``dashscope`` SDK and the frameworks'
DashScope integrations, talking HTTP to the session's loopback emulator.

``sdk`` yields the emulator's base URL with the SDK pointed at it the way users do it (module
globals ``dashscope.base_http_api_url`` / ``dashscope.api_key`` and the ``DASHSCOPE_*``
environment); every global and variable is restored after the test. Add a topic as
``test_sdk_<topic>.py`` and take ``sdk`` (plus ``emu`` to script or inspect the emulator).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashscope_core.emulator import Emulator, ServerHandle

API_KEY = "sk-thirdparty-test"


@pytest.fixture
def sdk(server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator base URL; the official SDK's globals and env point at it until teardown."""
    dashscope = pytest.importorskip("dashscope")
    for name in ("DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.setenv(name, server.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", API_KEY)
    monkeypatch.delenv("DASHSCOPE_WORKSPACE", raising=False)
    monkeypatch.setattr(dashscope, "base_http_api_url", server.base_url)
    monkeypatch.setattr(dashscope, "api_key", API_KEY)
    yield server.base_url
    close = getattr(dashscope, "close_shared_sync_session", None)  # newer SDKs pool connections
    if close is not None:
        close()
