"""The per-model metadata table."""

from __future__ import annotations

import pytest

from llamaindex_dashscope_ext._models import UNKNOWN, model_info


@pytest.mark.parametrize(
    ("model", "window", "fc", "vision"),
    [
        ("qwen-max", 32_768, True, False),
        ("qwen-max-latest", 131_072, True, False),
        ("qwen3-max", 262_144, True, False),
        ("qwen3-max-2025-09-23", 262_144, True, False),
        ("qwen-plus", 131_072, True, False),
        ("qwen-plus-2025-04-28", 131_072, True, False),
        ("qwen-turbo", 1_000_000, True, False),
        ("qwen-flash", 1_000_000, True, False),
        ("qwen-long", 10_000_000, False, False),
        ("qwen3-coder-plus", 1_000_000, True, False),
        ("qwen3-coder-480b-a35b-instruct", 262_144, True, False),
        ("qwq-plus", 131_072, True, False),
        ("qwen3-32b", 131_072, True, False),
        ("qwen3-235b-a22b-instruct-2507", 262_144, True, False),
        ("qwen-vl-max", 131_072, False, True),
        ("qwen-vl-plus", 131_072, False, True),
        ("qwen3-vl-plus", 262_144, True, True),
        ("qwen2.5-72b-instruct", 131_072, True, False),
        ("qwen2.5-vl-72b-instruct", 131_072, False, True),
        ("qwen2.5-14b-instruct-1m", 1_000_000, True, False),
    ],
)
def test_known_models(model: str, window: int, fc: bool, vision: bool) -> None:
    info = model_info(model)
    assert (info.context_window, info.function_calling, info.vision) == (window, fc, vision)
    assert info.is_chat_model
    assert 0 < info.max_output < info.context_window


def test_unknown_models_are_conservative() -> None:
    info = model_info("my-finetune-v1")
    assert info is UNKNOWN
    assert info.context_window == 8_192
    assert not info.function_calling
    assert not info.json_schema


def test_reasoning_and_json_schema_flags() -> None:
    assert model_info("qwq-32b").reasoning
    assert model_info("qwen-plus").json_schema
    assert not model_info("qwen-vl-max").json_schema
