"""LangChain's standard suites for ChatDashScope and DashScopeEmbeddings, against the emulator.

Every capability flag is set to what we support. Where a test needs the model to follow an
instruction (call this tool, answer with that JSON), ``_script`` queues the emulator's reply in
set-up; the client code path under test stays real. The suites' one internet fixture (an image
fetched with ``httpx.get``) is served locally (``offline_images`` in conftest).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests, EmbeddingsIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests, EmbeddingsUnitTests

from dashscope_core.emulator._serve import ServerHandle
from langchain_dashscope_ext import ChatDashScope, DashScopeEmbeddings

FAKE_KEY = "sk-test-langchain"
UNIT_URL = "http://127.0.0.1:9/api/v1"  # never contacted: unit suites make no calls
_STATE: dict[str, ServerHandle] = {}
pytestmark = pytest.mark.usefixtures("offline_images")


@pytest.fixture(autouse=True)
def _live(server: ServerHandle, request: pytest.FixtureRequest) -> Iterator[None]:
    _STATE["server"] = server
    server.emulator.reset()
    _script(server, request.node.name)
    yield
    server.emulator.reset()


@pytest.fixture(autouse=True)
def _serdes_admits_our_class(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Give the suite's ``load`` our class path via ``additional_import_mappings`` (public API).

    Why a patch at all: ``test_serdes`` calls ``load(..., allowed_objects="all")``, and "all"
    means the classes in langchain-core's own registry (``langchain_core.load.mapping``), which
    only lists langchain-core, langchain and its partner packages. No third-party class can be
    in it, and the test has no hook (``init_from_env_params`` only sets env and kwargs), so an
    unpatched ``test_serdes`` fails for every serialisable class outside that registry. The
    documented ways to admit one are ``allowed_objects=[ChatDashScope]`` (what users do, see
    ``test_key_never_leaks``) or ``additional_import_mappings``, which also extends "all"; the
    suite's ``load`` gets the latter, for this one test only. Nothing in langchain-core or in our
    package is patched, and the snapshot, the secret handling and the round trip stay the suite's.
    """
    if request.node.originalname != "test_serdes":
        return
    import langchain_tests.unit_tests.chat_models as suite
    from langchain_core.load import load

    ours = ("langchain_dashscope_ext", "chat_models", "ChatDashScope")
    admit = functools.partial(load, additional_import_mappings={ours: ours})
    monkeypatch.setattr(suite, "load", admit)


def _script(server: ServerHandle, name: str) -> None:
    """Queue the replies a test's instructions ask for (the real model would follow them)."""
    script = server.emulator.script
    if name.startswith("test_tool_choice"):
        # tool_choice="any" with two tools: the first call is told to use a tool
        call = [{"name": "magic_function", "arguments": {"input": 3}}]
        script.generation(tool_calls=call).reply("multimodal", tool_calls=call)
    if name.startswith("test_json_mode"):
        # json_mode: the prompt asks for 'setup'/'punchline' keys (invoke + stream, twice)
        joke = (
            '{"setup": "Why do cats sit on laptops?", "punchline": "To keep an eye on the mouse."}'
        )
        for _ in range(4):  # the flagship class calls the multimodal endpoint
            script.generation(text=joke).reply("multimodal", text=joke)


class TestChatDashScopeUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatDashScope]:
        return ChatDashScope

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "qwen-plus", "api_key": FAKE_KEY, "base_url": UNIT_URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return ({"DASHSCOPE_API_KEY": "sk-from-env"}, {"base_url": UNIT_URL},
                {"api_key": "sk-from-env"})  # fmt: skip

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "qwen-max"


class TestChatDashScopeIntegration(ChatModelIntegrationTests):
    @property
    def chat_model_class(self) -> type[ChatDashScope]:
        return ChatDashScope

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "qwen-plus", "api_key": FAKE_KEY, "base_url": _STATE["server"].base_url}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False  # qwen-plus is a text model (its profile); the flagship class sends images

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "qwen-max"

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[Any, list[Any]]:
        both = ["reasoning_output", "cache_read_input"]
        return {"invoke": both, "stream": both}

    def _model(self, **extra: Any) -> ChatDashScope:
        return ChatDashScope(**{**self.chat_model_params, **extra})

    def _call(self, model: ChatDashScope, text: str, stream: bool) -> AIMessage:
        if not stream:
            return model.invoke(text)
        full: Any = None
        for chunk in model.stream(text):
            full = chunk if full is None else full + chunk
        return full  # type: ignore[no-any-return]

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        return self._call(self._model(enable_thinking=True), "Why is the sky blue?", stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        return self._call(self._model(), "Summarise this long shared prefix. " * 20, stream)


class TestDashScopeEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"api_key": FAKE_KEY, "base_url": UNIT_URL}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return ({"DASHSCOPE_API_KEY": "sk-from-env"}, {}, {"api_key": "sk-from-env"})


class TestDashScopeEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[DashScopeEmbeddings]:
        return DashScopeEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"api_key": FAKE_KEY, "base_url": _STATE["server"].base_url}


class TestChatDashScopeFlagshipIntegration(TestChatDashScopeIntegration):
    """The same suite on qwen3.5-plus: multimodal endpoint, thinking on by default (structured
    output turns it off, ``"any"`` uses the instruction strategy), images accepted."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "model": "qwen3.5-plus"}

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True


class TestChatDashScopeOmniIntegration(TestChatDashScopeFlagshipIntegration):
    """The suite on qwen3-omni-flash: stream-only (every invoke goes as a stream and is
    accumulated), audio accepted (base64 ``audio`` and OpenAI ``input_audio`` blocks)."""

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {**super().chat_model_params, "model": "qwen3-omni-flash"}

    @property
    def supports_audio_inputs(self) -> bool:
        return True
