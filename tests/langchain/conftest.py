"""Fixtures of the LangChain tests (the emulator ones are in ``tests/conftest.py``)."""

from __future__ import annotations

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


@pytest.fixture
def offline_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The standard ``test_image_inputs`` downloads a PNG from GitHub: answer it locally."""
    real_get = httpx.get

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if str(url).startswith("https://raw.githubusercontent.com/"):
            return httpx.Response(200, content=png_for_name("standard-tests"),
                                  request=httpx.Request("GET", str(url)))  # fmt: skip
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)
