"""Fixtures of the LangChain tests (the emulator ones are in ``tests/conftest.py``)."""

from __future__ import annotations

import io
import wave
from typing import Any

import httpx
import pytest

from dashscope_core.emulator.png import png_for_name

FAKE_KEY = "sk-test-langchain"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the standard tests a class names in ``deselect_standard`` (with its reason)."""
    kept, dropped = [], []
    for item in items:
        names = getattr(getattr(item, "cls", None), "deselect_standard", ())
        name = getattr(item, "originalname", item.name)
        (dropped if name in names else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests pass their keys explicitly; a developer's real key or endpoint is never used."""
    for name in ("DASHSCOPE_API_KEY", "DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1), wav.setsampwidth(2), wav.setframerate(16_000)
        wav.writeframes(b"\x00\x00" * 1_600)
    return out.getvalue()


@pytest.fixture
def offline_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard suites download a PNG from GitHub and a WAV from Wikimedia: answer both
    locally (a real PNG, a real 0.1 s WAV)."""
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith("https://raw.githubusercontent.com/"):
            return httpx.Response(200, content=png_for_name("standard-tests"),
                                  request=httpx.Request("GET", str(url)))  # fmt: skip
        if str(url).startswith("https://upload.wikimedia.org/") and str(url).endswith(".wav"):
            return httpx.Response(200, content=_wav(), request=httpx.Request("GET", str(url)))
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)
    # the suite warns without it; nothing is fetched from Wikimedia (answered above)
    monkeypatch.setenv("LANGCHAIN_TESTS_USER_AGENT", "dashscope-ext-tests (offline)")
