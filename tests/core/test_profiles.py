"""The model profile table: lookups, globs, registration, and what the table says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dashscope_core import ModelProfile, get_profile, profiles, register_profile


@pytest.fixture
def registry() -> Iterator[None]:
    """Profiles registered by a test are forgotten after it."""
    saved = dict(profiles._registered)
    yield
    profiles._registered.clear()
    profiles._registered.update(saved)
    profiles._lookup.cache_clear()


@pytest.mark.parametrize(
    ("model", "window", "output", "endpoint", "thinking"),
    [
        ("qwen3.5-plus", 1_000_000, 65_536, "multimodal", "on_by_default"),
        ("qwen3.5-flash", 1_000_000, 65_536, "multimodal", "on_by_default"),
        ("qwen3.6-plus", 1_000_000, 65_536, "multimodal", "on_by_default"),
        ("qwen3-max", 262_144, 65_536, "text", "off_by_default"),
        ("qwen-max", 32_768, 8_192, "text", "none"),
        ("qwen-plus", 1_000_000, 32_768, "text", "off_by_default"),
        ("qwen-plus-2025-07-28", 1_000_000, 32_768, "text", "off_by_default"),
        ("QWEN-PLUS", 1_000_000, 32_768, "text", "off_by_default"),
        ("qwen-turbo", 1_000_000, 16_384, "text", "off_by_default"),
        ("qwen-long", 10_000_000, 8_192, "text", "none"),
        ("qwq-plus", 131_072, 8_192, "text", "always"),
        ("qvq-max", 131_072, 8_192, "multimodal", "always"),
        ("qwen3-32b", 131_072, 16_384, "text", "on_by_default"),
        ("qwen3-235b-a22b-thinking-2507", 262_144, 32_768, "text", "always"),
        ("qwen3-235b-a22b-instruct-2507", 262_144, 32_768, "text", "none"),
        ("qwen-vl-max", 131_072, 8_192, "multimodal", "none"),
        ("qwen3-vl-plus", 262_144, 32_768, "multimodal", "off_by_default"),
        ("qwen2.5-vl-72b-instruct", 131_072, 8_192, "multimodal", "none"),
        ("qwen-omni-turbo", 32_768, 2_048, "multimodal", "none"),
        ("qwen-doc-turbo", 131_072, 8_192, "text", "none"),
        ("qwen-mt-plus", 16_384, 8_192, "text", "none"),
        ("qwen3-coder-plus", 1_048_576, 65_536, "text", "none"),
        ("deepseek-v3.2", 131_072, 65_536, "text", "off_by_default"),
        ("deepseek-r1", 131_072, 16_384, "text", "always"),
        ("kimi-k2-thinking", 262_144, 16_384, "text", "always"),
        ("glm-4.6", 202_752, 16_384, "text", "on_by_default"),
    ],
)
def test_known_models(model: str, window: int, output: int, endpoint: str, thinking: str) -> None:
    profile = get_profile(model)
    assert profile.known and profile.kind == "chat" and profile.model == model
    assert (profile.context_window, profile.max_output_tokens) == (window, output)
    assert (profile.endpoint, profile.thinking) == (endpoint, thinking)
    assert profile.source  # every entry names where its values come from


@pytest.mark.parametrize(
    ("model", "kind", "dimensions", "inputs"),
    [("text-embedding-v4", "embedding", (1024, 2048, 1536, 768, 512, 256, 128, 64), 10),
     ("text-embedding-v2", "embedding", (1536,), 25), ("qwen3-rerank", "rerank", (), 500),
     ("wanx2.1-t2i-turbo", "image", (), None), ("wan2.2-t2v-plus", "video", (), None)],
)  # fmt: skip
def test_non_chat_models(model: str, kind: str, dimensions: tuple[int, ...], inputs: Any) -> None:
    profile = get_profile(model)
    assert (profile.kind, profile.dimensions, profile.max_inputs) == (kind, dimensions, inputs)


@pytest.mark.parametrize(
    ("model", "task"),
    [("wanx-v1", "text2image"), ("wan2.6-t2i-plus", "text2image"),
     ("wanx2.1-imageedit", "image_edit"), ("wan2.5-i2i-preview", "image2image"),
     ("wan2.2-t2v-plus", "text2video"), ("wanx2.1-vace-plus", "text2video"),
     ("wan2.6-r2v-flash", "text2video"), ("wan2.5-i2v-preview", "image2video"),
     ("wan2.7-i2v-plus", "image2video"), ("wan2.2-kf2v-flash", "keyframes2video"),
     ("text-embedding-async-v2", "batch_embedding"), ("text-embedding-v4", None),
     ("qwen-plus", None), ("not-a-model", None)],
)  # fmt: skip
def test_async_task_of_each_model(model: str, task: str | None) -> None:
    assert get_profile(model).task == task


def test_every_synthesis_model_names_its_task() -> None:
    from dashscope_core._profile_data import PROFILES

    synthesis = [p for p in PROFILES.values() if p.kind in ("image", "video")]
    assert synthesis and all(p.task is not None for p in synthesis)


@pytest.mark.parametrize("name", ["qwen-plsu", "gpt-4o", "", "  ", None, 42, "gte-rerank"])
def test_unknown_names_get_a_conservative_profile(name: Any) -> None:
    profile = get_profile(name)
    assert not profile.known and profile.endpoint == "text" and profile.kind == "chat"
    assert not (profile.image_inputs or profile.video_inputs or profile.audio_inputs)
    assert not (profile.tool_calling or profile.json_schema or profile.batch)
    assert not (profile.explicit_cache or profile.search)
    assert profile.context_window == 8_192
    assert not profile.thinks() and profile.thinks(True)  # thinking only when asked for


@pytest.mark.parametrize(
    ("thinking", "flag", "thinks"),
    [("none", None, False), ("none", True, False), ("off_by_default", None, False),
     ("off_by_default", True, True), ("on_by_default", None, True),
     ("on_by_default", False, False), ("always", None, True), ("always", False, True)],
)  # fmt: skip
def test_the_thinking_rule(thinking: Any, flag: bool | None, thinks: bool) -> None:
    assert ModelProfile(thinking=thinking).thinks(flag) is thinks


def test_which_calls_are_streamed() -> None:
    assert get_profile("qwen3-32b").streams_call(None)
    assert not get_profile("qwen3-32b").streams_call(False)
    assert get_profile("qwq-plus").streams_call(None)
    assert not get_profile("qwen3.6-plus").streams_call(None)
    assert get_profile("qwen-plus").streams_call(True)
    assert not get_profile("qwen-plus").streams_call(None)


def test_register_profile(registry: None) -> None:
    stored = register_profile("my-finetune-*", based_on="qwen-plus", context_window=131_072)
    assert stored.known and stored.source == "register_profile('my-finetune-*')"
    profile = get_profile("my-finetune-v1")
    assert profile.known and profile.model == "my-finetune-v1"
    assert profile.context_window == 131_072 and profile.thinking == "off_by_default"
    assert profile.tool_calling  # from qwen-plus
    register_profile("qwen-plus", context_window=1_000)  # overrides the built-in entry
    assert get_profile("qwen-plus").context_window == 1_000
    fresh = register_profile("brand-new", endpoint="multimodal", image_inputs=True)
    assert fresh.endpoint == "multimodal" and fresh.context_window == 8_192


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [({"context_window": 0}, ValueError, "context_window"),
     ({"context_window": True}, ValueError, "context_window"),
     ({"thinking": "sometimes"}, ValueError, "thinking"),
     ({"endpoint": "vision"}, ValueError, "endpoint"),
     ({"kind": "llm"}, ValueError, "kind"),
     ({"task": "text2music"}, ValueError, "task"),
     ({"context_windw": 5}, TypeError, "context_windw"),
     ({"based_on": "not-a-model"}, ValueError, "based_on")],
)  # fmt: skip
def test_register_profile_checks_its_arguments(
    registry: None, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        register_profile("x-*", **kwargs)
    with pytest.raises(ValueError, match="pattern"):
        register_profile(" ")
