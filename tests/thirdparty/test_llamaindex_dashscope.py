"""llama-index-llms-dashscope's ``DashScope`` LLM (over the official SDK) against the emulator.

Its releases pin ``dashscope<1.23`` while the ``dev`` extra installs the newest SDK (2.x), so it
lives in its own optional venv; in the dev venv this module is skipped. To run it::

    python3 -m venv .thirdparty-venv
    .thirdparty-venv/bin/pip install -e ".[emulator,llamaindex]" llama-index-llms-dashscope \\
        pytest pytest-asyncio pytest-timeout pytest-socket
    .thirdparty-venv/bin/pytest tests/thirdparty/test_llamaindex_dashscope.py
"""

from __future__ import annotations

import pytest

from dashscope_core.emulator import Emulator

llms = pytest.importorskip("llama_index.llms.dashscope")
from llama_index.core.llms import ChatMessage  # noqa: E402 (after the skip)


def _llm() -> object:
    return llms.DashScope(model_name="qwen-plus", api_key="sk-thirdparty-test")


def test_complete_and_chat(sdk: str, emu: Emulator) -> None:
    emu.script.generation("Hello from the emulator")
    assert _llm().complete("Hi").text == "Hello from the emulator"
    emu.script.generation("A chat answer")
    response = _llm().chat([ChatMessage(role="user", content="Hi")])
    assert response.message.content == "A chat answer"
    assert emu.received("generation")[-1].json["input"]["messages"][-1]["content"] == "Hi"


def test_stream_complete(sdk: str, emu: Emulator) -> None:
    emu.script.generation("one two three four")
    responses = list(_llm().stream_complete("count"))
    assert len(responses) > 1 and responses[-1].text == "one two three four"
