"""DashScopeLLM against the emulator: the eight methods, wire parameters, callbacks, errors."""

from __future__ import annotations

import json
import pickle

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock, ThinkingBlock
from pydantic import ValidationError

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import (
    AuthenticationError,
    BadRequestError,
    IncompleteStreamError,
    InternalServerError,
    NotFoundError,
)
from llamaindex_dashscope_ext import DashScopeLLM

from ._calls import Calls
from .conftest import FAKE_KEY

USER = [ChatMessage(role="user", content="What is the capital of France?")]


def _params(emu: Emulator, kind: str = "generation") -> dict:
    return emu.received(kind)[-1].json["parameters"]


async def test_chat(calls: Calls, emu: Emulator) -> None:
    emu.script.generation("Paris.", usage={"input_tokens": 11, "output_tokens": 2})
    response = await calls.chat(USER)
    assert response.message.role == "assistant"
    assert response.message.content == "Paris."
    assert response.additional_kwargs["prompt_tokens"] == 11
    assert response.additional_kwargs["completion_tokens"] == 2
    assert response.additional_kwargs["total_tokens"] == 13
    assert response.raw["usage"]["input_tokens"] == 11
    (request,) = emu.received("generation")
    assert request.json["input"]["messages"] == [{"role": "user", "content": USER[0].content}]
    assert request.json["parameters"] == {"result_format": "message"}  # nothing unset is sent
    assert response.additional_kwargs["request_id"] == request.request_id


async def test_complete(calls: Calls, emu: Emulator) -> None:
    response = await calls.complete("Say hello")
    assert response.text
    assert response.additional_kwargs["completion_tokens"] > 0
    (request,) = emu.received("generation")
    assert request.json["input"]["messages"] == [{"role": "user", "content": "Say hello"}]
    assert "max_tokens" not in request.json["parameters"]


async def test_stream_chat(calls: Calls, emu: Emulator) -> None:
    emu.script.generation("The capital of France is Paris, of course.")
    responses = await calls.stream_chat(USER)
    assert len(responses) > 2
    assert "".join(r.delta or "" for r in responses) == responses[-1].message.content
    assert responses[-1].message.content == "The capital of France is Paris, of course."
    assert responses[-1].additional_kwargs["finish_reason"] == "stop"
    assert responses[-1].additional_kwargs["completion_tokens"] > 0
    (request,) = emu.received("generation")
    assert request.headers["x-dashscope-sse"] == "enable"
    assert request.json["parameters"]["incremental_output"] is True


async def test_stream_complete(calls: Calls, emu: Emulator) -> None:
    responses = await calls.stream_complete("Tell me a story")
    assert len(responses) > 1
    assert "".join(r.delta or "" for r in responses) == responses[-1].text
    assert responses[-1].additional_kwargs["total_tokens"] > 0


async def test_fields_reach_the_wire(li_server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(
        model="qwen-max",
        api_key=FAKE_KEY,
        base_url=li_server.base_url,
        temperature=0.3,
        top_p=0.9,
        top_k=20,
        max_tokens=64,
        seed=42,
        stop=["\n\n"],
        enable_search=True,
        repetition_penalty=1.1,
        thinking_budget=100,
        additional_kwargs={"presence_penalty": 0.5},
    )
    assert llm.metadata.num_output == 64
    assert llm.metadata.context_window == 32_768
    await Calls(llm, "async").chat(USER, seed=7)
    params = _params(emu)
    assert emu.received("generation")[-1].json["model"] == "qwen-max"
    assert params == {
        "result_format": "message",
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 20,
        "max_tokens": 64,
        "seed": 7,
        "stop": ["\n\n"],
        "enable_search": True,
        "repetition_penalty": 1.1,
        "thinking_budget": 100,
        "presence_penalty": 0.5,
    }


def test_metadata_defaults_and_overrides(li_server: ServerHandle) -> None:
    llm = DashScopeLLM(model="my-finetune", api_key=FAKE_KEY, base_url=li_server.base_url)
    assert llm.metadata.num_output == 2_048  # the conservative profile of an unknown model
    assert llm.metadata.context_window == 8_192
    assert not llm.metadata.is_function_calling_model
    tuned = DashScopeLLM(
        model="my-finetune",
        api_key=FAKE_KEY,
        base_url=li_server.base_url,
        context_window=65_536,
        is_function_calling_model=True,
    )
    assert tuned.metadata.context_window == 65_536
    assert tuned.metadata.is_function_calling_model
    assert tuned.metadata.model_name == "my-finetune"
    extra = {"max_tokens": 512}  # additional_kwargs win over the field on the wire
    via_kwargs = DashScopeLLM(api_key=FAKE_KEY, max_tokens=64, additional_kwargs=extra)
    assert via_kwargs.metadata.num_output == 512


async def test_thinking(calls: Calls, emu: Emulator) -> None:
    emu.script.reasoning("First, recall geography.", "Paris.")
    (response,) = [await calls.chat(USER, enable_thinking=True)]
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking[0].content == "First, recall geography."
    assert response.message.content == "Paris."
    emu.script.reasoning("First, recall geography.", "Paris.")
    chunks = await calls.stream_chat(USER, enable_thinking=True)
    deltas = "".join(c.additional_kwargs.get("thinking_delta", "") for c in chunks)
    assert deltas == "First, recall geography."
    assert _params(emu)["enable_thinking"] is True


async def test_images_go_to_the_multimodal_endpoint(li_server: ServerHandle, emu: Emulator) -> None:
    llm = DashScopeLLM(model="qwen-vl-max", api_key=FAKE_KEY, base_url=li_server.base_url)
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is in the picture?"),
            ImageBlock(url="https://example.com/dog.jpg"),
        ],
    )
    for mode in ("sync", "async"):
        response = await Calls(llm, mode).chat([message])
        assert response.message.content
    requests = emu.received("multimodal")
    assert len(requests) == 2
    assert requests[0].json["input"]["messages"][0]["content"] == [
        {"text": "What is in the picture?"},
        {"image": "https://example.com/dog.jpg"},
    ]
    assert not emu.received("generation")


# -- errors ----------------------------------------------------------------------------------


async def test_bad_key_raises_authentication_error(li_server: ServerHandle, mode: str) -> None:
    llm = DashScopeLLM(api_key="invalid-key", base_url=li_server.base_url, max_retries=0)
    calls = Calls(llm, mode)
    with pytest.raises(AuthenticationError) as info:
        await calls.chat(USER)
    assert info.value.status_code == 401
    assert info.value.request_id
    with pytest.raises(AuthenticationError):
        await calls.stream_complete("hi")


async def test_server_400_is_typed(calls: Calls, emu: Emulator) -> None:
    emu.script.error(400, "InvalidParameter", "Range of top_p should be (0.0, 1.0]")
    with pytest.raises(BadRequestError) as info:
        await calls.complete("hi")
    assert info.value.code == "InvalidParameter"
    assert info.value.request_id


async def test_unknown_model_is_not_found(li_server: ServerHandle, mode: str) -> None:
    llm = DashScopeLLM(model="nosuchmodel", api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(NotFoundError):
        await Calls(llm, mode).chat(USER)


async def test_cut_stream_raises_incomplete(calls: Calls, emu: Emulator) -> None:
    emu.script.generation("one two three four five six seven eight nine ten")
    emu.faults.queue("missing_final", route="generation")
    with pytest.raises(IncompleteStreamError):
        await calls.stream_chat(USER)


async def test_mid_stream_error_event_is_typed(calls: Calls, emu: Emulator) -> None:
    emu.faults.queue("error_event", after=2, route="generation")
    with pytest.raises(Exception) as info:
        await calls.stream_complete("hi")
    assert type(info.value).__name__ == "RateLimitError"
    assert info.value.request_id  # type: ignore[attr-defined]


async def test_retries_server_errors(li_server: ServerHandle, emu: Emulator, mode: str) -> None:
    llm = DashScopeLLM(api_key=FAKE_KEY, base_url=li_server.base_url, max_retries=1)
    emu.faults.queue("server_error", route="generation")
    response = await Calls(llm, mode).complete("hi")
    assert response.text
    assert len(emu.received("generation")) == 2
    emu.faults.queue("server_error", route="generation", times=2)
    with pytest.raises(InternalServerError):
        await Calls(llm, mode).complete("hi")


def test_bad_arguments_fail_before_any_request(li_server: ServerHandle, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="model"):
        DashScopeLLM(model=" ", api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(ValidationError, match="temperature"):
        DashScopeLLM(temperature=5, api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(ValueError, match="region"):
        DashScopeLLM(api_key=FAKE_KEY, region="mars-1")
    llm = DashScopeLLM(api_key=FAKE_KEY, base_url=li_server.base_url)
    with pytest.raises(ValueError, match="top_p"):
        llm.complete("hi", top_p=3)
    assert not emu.received()


def test_missing_key_names_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="api_key"):
        DashScopeLLM()


def test_env_key_is_used(
    li_server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_KEY)
    DashScopeLLM(base_url=li_server.base_url).complete("hi")
    assert emu.received("generation")[0].headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_api_key_never_leaks(llm: DashScopeLLM) -> None:
    dumps = [
        repr(llm),
        str(llm),
        llm.to_json(),
        json.dumps(llm.to_dict()),
        json.dumps(llm.to_payload()),
        str(llm.model_dump()),
        llm.model_dump_json(),
    ]
    for text in dumps:
        assert FAKE_KEY not in text
    assert "api_key" not in llm.to_dict()
    assert pickle.loads(pickle.dumps(llm)).api_key.get_secret_value() == FAKE_KEY
