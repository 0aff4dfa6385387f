"""The official ``dashscope`` SDK (dev extra only) against the emulator: the model rules.

A real third-party client checks our picture of the service: thinking refusals with the
service's messages, ``Model.NotExist``, validation errors on a stream as one error frame, the
"url error" of a wrong endpoint and qwen3.5-plus served on multimodal-generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dashscope_core.emulator import Emulator, ServerHandle, serve

dashscope = pytest.importorskip("dashscope")

KEY = "sk-thirdparty"
HI = [{"role": "user", "content": "Why is the sky blue?"}]
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest.fixture(scope="module")
def sdk_server() -> Iterator[ServerHandle]:
    """An emulator of its own; the SDK's base URL points at it for this module only."""
    with serve(Emulator(seed=3)) as handle:
        saved = dashscope.base_http_api_url
        dashscope.base_http_api_url = handle.base_url
        try:
            yield handle
        finally:
            dashscope.base_http_api_url = saved


def _call(**kwargs: Any) -> Any:
    return dashscope.Generation.call(api_key=KEY, messages=HI, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "message"),
    [
        ({"model": "qwen-plus", "enable_thinking": True}, 400, "InvalidParameter",
         "parameter.enable_thinking must be set to false for non-streaming calls"),
        ({"model": "qwen3-32b"}, 400, "InvalidParameter",
         "parameter.enable_thinking must be set to false for non-streaming calls"),
        ({"model": "qwq-plus"}, 400, "InvalidParameter",
         "This model only support stream mode, please enable the stream parameter to access "
         "the model. "),
        ({"model": "qwen-plsu"}, 404, "Model.NotExist", "Model not exist."),
        ({"model": "qwen3.5-plus"}, 400, "InvalidParameter", "url error, please check url！"),
    ],
)  # fmt: skip
def test_refusals_reach_the_sdk_with_the_service_wording(
    sdk_server: ServerHandle, kwargs: dict[str, Any], status: int, code: str, message: str
) -> None:
    response = _call(**kwargs)
    assert (response.status_code, response.code) == (status, code)
    assert response.message.startswith(message)
    assert response.request_id


def test_a_stream_validation_error_is_one_error_frame(sdk_server: ServerHandle) -> None:
    chunks = list(_call(model="qwen-plus", stream=True, incremental_output=True,
                        enable_thinking=True, tools=[TOOL],
                        tool_choice={"type": "function", "function": {"name": "f"}}))  # fmt: skip
    (only,) = chunks
    assert (only.status_code, only.code) == (400, "InvalidParameter")
    assert "thinking mode" in only.message


def test_a_thinking_stream_is_answered(sdk_server: ServerHandle) -> None:
    chunks = list(_call(model="qwen-plus", stream=True, incremental_output=True,
                        enable_thinking=True, result_format="message"))  # fmt: skip
    assert all(c.status_code == 200 for c in chunks)
    reasoning = "".join(c.output.choices[0].message.get("reasoning_content") or "" for c in chunks)
    text = "".join(c.output.choices[0].message.content for c in chunks)
    assert reasoning and text
    assert chunks[-1].usage.output_tokens_details["reasoning_tokens"] > 0


def test_qwen35_plus_is_served_on_multimodal_generation(sdk_server: ServerHandle) -> None:
    response = dashscope.MultiModalConversation.call(
        api_key=KEY, model="qwen3.5-plus", messages=[{"role": "user", "content": [{"text": "Hi"}]}]
    )
    assert response.status_code == 200
    message = response.output.choices[0].message
    assert message.content[0]["text"] and message.get("reasoning_content")
    (sent,) = sdk_server.emulator.received("multimodal")[-1:]
    assert sent.json["model"] == "qwen3.5-plus"
