"""Names people bring from ChatTongyi and ChatOpenAI, and client options passed per call.

The key given as ``dashscope_api_key`` / ``openai_api_key`` is the ``api_key`` SecretStr: it
authenticates the call and appears nowhere else (repr, ``dumps``, invocation params, callback
payloads, the request body). A client option per call changes that call's client behaviour and
never reaches the wire.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps, load

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import APITimeoutError
from langchain_dashscope_ext import (
    ChatDashScope,
    ChatDashScopeApp,
    DashScopeEmbeddings,
    DashScopeLLM,
)

SECRET = "sk-alias-secret-4242"


class Recorder(BaseCallbackHandler):
    """Everything callbacks see (what tracers such as LangSmith would store)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_chat_model_start(self, serialized: Any, messages: Any, **kwargs: Any) -> None:
        self.seen.append((serialized, kwargs))

    def on_llm_start(self, serialized: Any, prompts: Any, **kwargs: Any) -> None:
        self.seen.append((serialized, kwargs))

    def on_llm_end(self, response: Any, **kwargs: Any) -> None:
        self.seen.append(response.model_dump())


def _authorizations(emu: Emulator) -> set[str]:
    return {r.headers.get("authorization", "") for r in emu.received()}


@pytest.mark.parametrize("name", ["dashscope_api_key", "openai_api_key", "api_key"])
def test_chattongyi_and_chatopenai_key_names_are_the_secret_key(
    server: ServerHandle, emu: Emulator, name: str
) -> None:
    model = ChatDashScope(model="qwen-plus", base_url=server.base_url, **{name: SECRET})
    assert model.api_key is not None and model.api_key.get_secret_value() == SECRET
    assert model.model_kwargs == {}
    recorder = Recorder()
    model.invoke("Hello", config={"callbacks": [recorder]})
    list(model.stream("Hello", config={"callbacks": [recorder]}))
    assert _authorizations(emu) == {f"Bearer {SECRET}"}
    for shown in (repr(model), str(model), dumps(model), json.dumps(dumpd(model)),
                  repr(model._get_invocation_params()), repr(recorder.seen),
                  *(json.dumps(r.json) for r in emu.received())):  # fmt: skip
        assert SECRET not in shown
    restored = load(dumpd(model), secrets_map={"DASHSCOPE_API_KEY": SECRET},
                    valid_namespaces=["langchain_dashscope_ext"],
                    allowed_objects=[ChatDashScope])  # fmt: skip
    assert restored.api_key.get_secret_value() == SECRET


def test_embeddings_llm_and_app_take_dashscope_api_key(server: ServerHandle, emu: Emulator) -> None:
    embeddings = DashScopeEmbeddings(dashscope_api_key=SECRET, base_url=server.base_url)
    assert embeddings.model_kwargs == {} and SECRET not in repr(embeddings)
    assert len(embeddings.embed_query("hello")) > 0
    llm = DashScopeLLM(dashscope_api_key=SECRET, base_url=server.base_url)
    assert llm.model_kwargs == {} and SECRET not in dumps(llm)
    llm.invoke("Hello")
    app = ChatDashScopeApp(app_id="demo-rag-app", dashscope_api_key=SECRET,
                           base_url=server.base_url)  # fmt: skip
    app.invoke("How long is the warranty?")
    assert _authorizations(emu) == {f"Bearer {SECRET}"}
    assert all(SECRET not in json.dumps(r.json) for r in emu.received())


def test_chatopenai_names_map_to_our_fields(server: ServerHandle, emu: Emulator) -> None:
    model = ChatDashScope(api_key=SECRET, base_url=server.base_url, request_timeout=12.5,
                          max_completion_tokens=7, model_name="qwen-max")  # fmt: skip
    assert (model.timeout, model.max_tokens, model.model, model.model_kwargs) == (
        12.5, 7, "qwen-max", {})  # fmt: skip
    model.invoke("Tell me a long story")
    params = emu.received("generation")[-1].json["parameters"]
    assert params["max_tokens"] == 7
    assert not {"request_timeout", "timeout", "max_completion_tokens"} & set(params)
    model.invoke("Again", max_completion_tokens=3)  # per call too
    assert emu.received("generation")[-1].json["parameters"]["max_tokens"] == 3


@pytest.mark.parametrize("stream_usage", [True, False])
def test_stream_usage_as_chatopenai_has_it(
    server: ServerHandle, emu: Emulator, stream_usage: bool
) -> None:
    model = ChatDashScope(api_key=SECRET, base_url=server.base_url, stream_usage=stream_usage)
    full: Any = None
    for chunk in model.stream("Hello"):
        full = chunk if full is None else full + chunk
    assert (full.usage_metadata is not None) is stream_usage
    assert "stream_usage" not in emu.received("generation")[-1].json["parameters"]
    per_call = list(model.stream("Hello", stream_usage=True))
    assert per_call[-1].usage_metadata is not None


@pytest.mark.parametrize("name", ["timeout", "request_timeout"])
async def test_a_per_call_timeout_is_the_calls_client_timeout(
    server: ServerHandle, emu: Emulator, name: str
) -> None:
    model = ChatDashScope(api_key=SECRET, base_url=server.base_url, max_retries=0)
    emu.faults.queue("slow_first_byte", delay=1.0, route="generation", times=4)
    with pytest.raises(APITimeoutError):
        model.invoke("Hello", **{name: 0.2})
    with pytest.raises(APITimeoutError):
        list(model.stream("Hello", **{name: 0.2}))
    with pytest.raises(APITimeoutError):
        await model.ainvoke("Hello", **{name: 0.2})
    with pytest.raises(APITimeoutError):
        await model.bind(**{name: 0.2}).ainvoke("Hello")
    emu.faults.clear()
    assert model.invoke("Hello").text  # the model's own client is unchanged
    assert all("timeout" not in json.dumps(r.json) for r in emu.received())


def test_a_per_call_key_and_headers_are_the_calls_client_options(
    server: ServerHandle, emu: Emulator
) -> None:
    model = ChatDashScope(api_key=SECRET, base_url=server.base_url)
    model.invoke("Hello", dashscope_api_key="sk-per-call-77", default_headers={"X-Trace": "t-1"})
    sent = emu.received("generation")[-1]
    assert sent.headers["authorization"] == "Bearer sk-per-call-77"
    assert sent.headers["x-trace"] == "t-1"
    assert "sk-per-call-77" not in sent.body.decode() and "X-Trace" not in sent.body.decode()
    model.invoke("Hello")
    assert emu.received("generation")[-1].headers["authorization"] == f"Bearer {SECRET}"


def test_per_call_max_retries_and_bad_values(server: ServerHandle, emu: Emulator) -> None:
    model = ChatDashScope(api_key=SECRET, base_url=server.base_url, max_retries=0)
    emu.faults.queue("server_error", route="generation", times=1)
    assert model.invoke("Hello", max_retries=1).text  # retried once on the call's client
    assert len(emu.received("generation")) == 2
    assert "max_retries" not in emu.received("generation")[-1].json["parameters"]
    with pytest.raises(ValueError, match="timeout"):
        model.invoke("Hello", timeout=-1)
    llm = DashScopeLLM(api_key=SECRET, base_url=server.base_url, max_retries=0)
    emu.faults.queue("server_error", route="generation", times=1)
    assert llm.invoke("Hello", max_retries=1)
