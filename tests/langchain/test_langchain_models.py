"""ChatDashScope / DashScopeLLM / DashScopeEmbeddings behaviour over real loopback HTTP."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from _langchain_helpers import Tokens, add, get_weather
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage

from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.state import Emulator
from dashscope_core.errors import AuthenticationError, RateLimitError
from langchain_dashscope_ext import (
    ChatDashScope,
    DashScopeEmbeddings,
    DashScopeLLM,
)

KEY = "sk-secret-value-123"


def chat(server: ServerHandle, **kw: Any) -> ChatDashScope:
    return ChatDashScope(api_key=KEY, base_url=server.base_url, **kw)


def test_parameters_reach_the_wire_without_nulls(server: ServerHandle, emu: Emulator) -> None:
    model = chat(server, temperature=0.3, max_tokens=50, seed=7, top_k=5, enable_search=False)
    model.invoke("Hello", stop=["zzz"])
    params = emu.received("generation")[0].json["parameters"]
    expected = {"temperature": 0.3, "max_tokens": 50, "seed": 7, "top_k": 5,
                "enable_search": False, "stop": ["zzz"], "result_format": "message"}  # fmt: skip
    assert params == expected


def test_unknown_kwarg_goes_to_model_kwargs_with_warning(
    server: ServerHandle, emu: Emulator
) -> None:
    with pytest.warns(UserWarning, match="vl_high_resolution_images"):
        model = chat(server, vl_high_resolution_images=True)
    model.invoke("Hello")
    assert emu.received("generation")[0].json["parameters"]["vl_high_resolution_images"] is True


def test_bad_arguments_fail_before_any_request(server: ServerHandle, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        chat(server, max_tokens=0)
    with pytest.raises(ValueError, match="temperature"):
        chat(server, temperature=5).invoke("Hello")
    assert emu.received() == []


def test_stream_is_token_by_token_with_callbacks(server: ServerHandle, emu: Emulator) -> None:
    handler = Tokens()
    chunks = list(chat(server).stream("Hello there", config={"callbacks": [handler]}))
    assert len(chunks) > 2 and handler.tokens[: len(chunks)] == [c.text for c in chunks]
    assert emu.received("generation")[0].headers["x-dashscope-sse"] == "enable"


def test_invoke_with_streaming_true_goes_through_the_stream(
    server: ServerHandle, emu: Emulator
) -> None:
    message = chat(server, streaming=True).invoke("Hello")
    assert emu.received("generation")[0].headers.get("x-dashscope-sse") == "enable"
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0


def test_streaming_false_is_respected(server: ServerHandle, emu: Emulator) -> None:
    chunks = list(chat(server, streaming=False).stream("Hello"))
    assert len(chunks) == 1
    assert "x-dashscope-sse" not in emu.received("generation")[0].headers


async def test_reasoning_streams_in_additional_kwargs(server: ServerHandle, emu: Emulator) -> None:
    emu.script.reasoning("Let me think step by step.", "Blue light scatters more.")
    full: Any = None
    async for chunk in chat(server, enable_thinking=True).astream("Why is the sky blue?"):
        full = chunk if full is None else full + chunk
    assert full.additional_kwargs["reasoning_content"] == "Let me think step by step."
    assert full.text == "Blue light scatters more."
    assert full.usage_metadata["output_token_details"]["reasoning"] > 0


def test_thinking_mode_refuses_a_named_tool_before_the_network(
    server: ServerHandle, emu: Emulator
) -> None:
    bound = chat(server, model="qwq-plus").bind_tools([get_weather], tool_choice="get_weather")
    with pytest.raises(ValueError, match="thinking mode"):
        bound.invoke("Weather in Paris?")
    assert emu.received() == []


def test_any_in_thinking_mode_asks_with_auto_and_an_instruction(
    server: ServerHandle, emu: Emulator
) -> None:
    bound = chat(server, enable_thinking=True).bind_tools([get_weather], tool_choice="any")
    assert bound.invoke("Hi").tool_calls[0]["name"] == "get_weather"
    sent = emu.received("generation")[0].json
    assert sent["parameters"]["tool_choice"] == "auto"
    assert "must answer by calling" in sent["input"]["messages"][0]["content"]


def test_any_with_one_tool_is_forced_by_name(server: ServerHandle, emu: Emulator) -> None:
    message = chat(server).bind_tools([get_weather], tool_choice="any").invoke("Hi")
    assert message.tool_calls[0]["name"] == "get_weather"
    sent = emu.received("generation")[0].json["parameters"]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_any_with_two_tools_accepts_a_call(server: ServerHandle, emu: Emulator) -> None:
    emu.script.generation(tool_calls=[{"name": "add", "arguments": {"a": 1, "b": 2}}])
    bound = chat(server).bind_tools([get_weather, add], tool_choice="required")
    assert bound.invoke("Hi").tool_calls[0]["args"] == {"a": 1, "b": 2}


def test_parallel_tool_calls_pass_through(server: ServerHandle, emu: Emulator) -> None:
    bound = chat(server).bind_tools([get_weather, add], parallel_tool_calls=True)
    bound.invoke("What is the weather in 'Paris' and 'Rome'?")
    assert emu.received("generation")[0].json["parameters"]["parallel_tool_calls"] is True


def test_invalid_tool_arguments_surface(server: ServerHandle, emu: Emulator) -> None:
    emu.script.generation(tool_calls=[{"name": "add", "arguments": "{broken"}])
    message = chat(server).bind_tools([add]).invoke("add")
    assert message.tool_calls == [] and message.invalid_tool_calls[0]["args"] == "{broken"


def test_structured_output_does_not_mutate(server: ServerHandle) -> None:
    model = chat(server)
    before = model.model_dump()
    model.with_structured_output({"title": "T", "type": "object", "properties": {}})
    assert model.model_dump() == before


def test_bad_key_is_a_typed_error(server: ServerHandle) -> None:
    model = ChatDashScope(api_key="invalid-key", base_url=server.base_url)
    with pytest.raises(AuthenticationError) as info:
        model.invoke("Hello")
    assert info.value.request_id and "invalid-key" not in str(info.value)


def test_with_retry_and_fallbacks_see_core_errors(server: ServerHandle, emu: Emulator) -> None:
    model = chat(server, max_retries=0)
    emu.script.error(429, "Throttling", kind="generation")
    retried = model.with_retry(retry_if_exception_type=(RateLimitError,), stop_after_attempt=2,
                               wait_exponential_jitter=False)  # fmt: skip
    assert retried.invoke("Hello").text
    emu.script.error(429, "Throttling", kind="generation")
    fallback = model.with_fallbacks([chat(server, model="qwen-max")])
    assert fallback.invoke("Hello").response_metadata["model_name"] == "qwen-max"


def test_key_never_leaks(server: ServerHandle) -> None:
    model = chat(server)
    assert KEY not in repr(model) and KEY not in str(model)
    dumped = json.dumps(dumpd(model))
    assert KEY not in dumped
    secrets = {"DASHSCOPE_API_KEY": KEY}
    loaded = load(dumpd(model), valid_namespaces=["langchain_dashscope_ext"],
                  allowed_objects=[ChatDashScope], secrets_map=secrets)  # fmt: skip
    assert loaded.api_key.get_secret_value() == KEY and loaded.base_url == server.base_url


def test_missing_key_is_a_value_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="api_key"):
        ChatDashScope()


def test_ls_params_and_identifying_params(server: ServerHandle) -> None:
    model = chat(server, temperature=0.5, max_tokens=9, stop=["x"])
    ls = model._get_ls_params()
    assert ls == {"ls_provider": "dashscope", "ls_model_type": "chat", "ls_model_name": "qwen-plus",
                  "ls_temperature": 0.5, "ls_max_tokens": 9, "ls_stop": ["x"]}  # fmt: skip
    assert model._identifying_params["model"] == "qwen-plus"


# ------------------------------------------------------------------------ DashScopeLLM


def llm(server: ServerHandle, **kw: Any) -> DashScopeLLM:
    return DashScopeLLM(api_key=KEY, base_url=server.base_url, **kw)


def test_llm_invoke_sends_prompt_history_text_format(server: ServerHandle, emu: Emulator) -> None:
    model = llm(server, model="qwen-max", history=[("hi", "hello")])
    result = model.generate(["What is 2 + 3?"])
    body = emu.received("generation")[0].json
    assert body["input"] == {
        "prompt": "What is 2 + 3?",
        "history": [{"user": "hi", "bot": "hello"}],
    }
    assert body["parameters"]["result_format"] == "text"
    gen = result.generations[0][0]
    assert "5" in gen.text and gen.generation_info["token_usage"]["output_tokens"] > 0


def test_llm_stop_and_batch(server: ServerHandle, emu: Emulator) -> None:
    texts = llm(server).batch(["Hello", "Hi there"], stop=["answer"])
    assert len(texts) == 2 and all("answer" not in t for t in texts)
    assert all(r.json["parameters"]["stop"] == ["answer"] for r in emu.received("generation"))


def test_llm_stream_and_callbacks(server: ServerHandle) -> None:
    handler = Tokens()
    pieces = list(llm(server).stream("Hello there", config={"callbacks": [handler]}))
    assert len(pieces) > 2 and handler.tokens == pieces


async def test_llm_astream_and_ainvoke(server: ServerHandle) -> None:
    model = llm(server)
    pieces = [p async for p in model.astream("Hello")]
    assert "".join(pieces) == await model.ainvoke("Hello")


def test_llm_streaming_true_aggregates_with_usage(server: ServerHandle, emu: Emulator) -> None:
    handler = Tokens()
    result = llm(server, streaming=True).generate(["Hello there"], callbacks=[handler])
    gen = result.generations[0][0]
    info = gen.generation_info or {}
    assert info["finish_reason"] == "stop" and info["token_usage"]["output_tokens"] > 0
    assert len(handler.tokens) > 2 and "".join(handler.tokens) == gen.text
    assert emu.received("generation")[0].headers["x-dashscope-sse"] == "enable"


class AsyncTokens(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


async def test_llm_abatch_astream_callbacks_and_stop(server: ServerHandle, emu: Emulator) -> None:
    model = llm(server)
    texts = await model.abatch(["Hello", "Hi there"], stop=["answer"])
    assert len(texts) == 2 and all(t and "answer" not in t for t in texts)
    handler = AsyncTokens()
    pieces = [p async for p in model.astream("Hello there", config={"callbacks": [handler]})]
    assert len(pieces) > 2 and handler.tokens == pieces
    sent = emu.received("generation")
    assert [r.json["parameters"].get("stop") for r in sent] == [["answer"], ["answer"], None]
    assert sent[-1].json["parameters"]["incremental_output"] is True


def test_llm_round_trips_without_the_key(server: ServerHandle) -> None:
    model = llm(server, model="chatglm3-6b", temperature=0.2)
    dumped = dumpd(model)
    assert KEY not in json.dumps(dumped)
    secrets = {"DASHSCOPE_API_KEY": KEY}
    loaded = load(dumped, valid_namespaces=["langchain_dashscope_ext"],
                  allowed_objects=[DashScopeLLM], secrets_map=secrets)  # fmt: skip
    assert loaded.model == "chatglm3-6b" and loaded.temperature == 0.2
    assert loaded.api_key.get_secret_value() == KEY and KEY not in repr(loaded)


# ------------------------------------------------------------------ DashScopeEmbeddings


def test_embeddings_text_types_dimension_and_batching(server: ServerHandle, emu: Emulator) -> None:
    emb = DashScopeEmbeddings(api_key=KEY, base_url=server.base_url, dimension=64)
    vectors = emb.embed_documents([f"doc {i}" for i in range(25)])
    assert len(vectors) == 25 and all(len(v) == 64 for v in vectors)
    assert len(emb.embed_query("q")) == 64
    sent = emu.received()
    assert {r.json["parameters"]["text_type"] for r in sent} == {"document", "query"}
    assert len(sent) > 2  # 25 documents split into several requests by core
    assert sent[0].json["model"] == "text-embedding-v4"


async def test_embeddings_async(server: ServerHandle) -> None:
    emb = DashScopeEmbeddings(api_key=KEY, base_url=server.base_url)
    assert len(await emb.aembed_documents(["a", "b"])) == 2
    assert await emb.aembed_query("a") == emb.embed_query("a")


def test_no_warnings_on_plain_construction_and_langchain_aliases(server: ServerHandle) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chat(server)
        aliased = chat(server, model_name="qwen-max", stop_sequences=["x"])
        text = DashScopeLLM(api_key=KEY, model_name="chatglm3-6b")
        emb = DashScopeEmbeddings(api_key=KEY, model_name="text-embedding-v3")
    assert (aliased.model, aliased.stop, aliased.model_kwargs) == ("qwen-max", ["x"], {})
    assert (text.model, emb.model) == ("chatglm3-6b", "text-embedding-v3")


# ------------------------------------------------------------------------ multimodal


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_images_go_to_the_multimodal_endpoint_as_native_parts(
    server: ServerHandle, emu: Emulator, mode: str
) -> None:
    question = HumanMessage(content=[
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image", "url": "https://example.com/cat.png"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ])  # fmt: skip
    model = chat(server, model="qwen-vl-max")
    if mode == "invoke":
        answer = model.invoke([SystemMessage("Be brief."), question])
    else:
        answer = sum(model.stream([SystemMessage("Be brief."), question]), AIMessageChunk(""))
    request = emu.received()[0]
    assert request.path == "/services/aigc/multimodal-generation/generation"
    assert request.json["input"]["messages"] == [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "What is in this picture?"},
                                     {"image": "https://example.com/cat.png"},
                                     {"image": "data:image/png;base64,iVBORw0KGgo="}]},
    ]  # fmt: skip
    assert "2 image" in answer.text and answer.usage_metadata["input_tokens"] > 0


async def test_llm_agenerate_answers_every_prompt_in_order_or_raises_typed(
    server: ServerHandle, emu: Emulator
) -> None:
    model = llm(server, max_retries=0)
    result = await model.agenerate(["alpha question", "beta question", "gamma question"])
    texts = [g[0].text for g in result.generations]
    assert [w in t for w, t in zip(["alpha", "beta", "gamma"], texts, strict=True)] == [True] * 3
    assert len(emu.received("generation")) == 3
    emu.script.error(429, "Throttling", kind="generation")
    with pytest.raises(RateLimitError):
        await model.agenerate(["one", "two"])


def test_workspace_region_and_env_reach_the_client(
    server: ServerHandle, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat(server, workspace="ws-123").invoke("Hello")
    # a request cancelled by the previous test may still land in the log: pick ours by content
    (ours,) = [r for r in emu.received("generation") if "Hello" in str(r.json)]
    assert ours.headers["x-dashscope-workspace"] == "ws-123"
    assert ours.headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    monkeypatch.setenv("DASHSCOPE_BASE_URL", server.base_url)
    DashScopeEmbeddings().embed_query("q")
    assert emu.received("embeddings")[-1].headers["authorization"] == "Bearer sk-from-env"
    with pytest.raises(ValueError, match="region"):
        chat(server, region="mars-1")
    intl = ChatDashScope(api_key=KEY, region="ap-southeast-1")
    assert intl.client.base_url.startswith("https://dashscope-intl.aliyuncs.com")
