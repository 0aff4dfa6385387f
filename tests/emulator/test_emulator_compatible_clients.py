"""Real third-party clients against the emulator's compatible mode: the ``openai`` SDK (chat,
streams, tools, embeddings, files, batches, errors) and LangChain's ``ChatOpenAI`` /
``OpenAIEmbeddings``. If our picture of the protocol were wrong, these clients would say so."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from dashscope_core.emulator import Emulator, ServerHandle, batch_settings
from dashscope_core.emulator.embeddings import embed

KEY = "sk-third-party"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def base(server: ServerHandle, emu: Emulator) -> str:
    batch_settings(emu).time_scale = 0  # batches finish at the first look
    return f"{server.origin}/compatible-mode/v1"


@pytest.fixture
def sdk(base: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=KEY, base_url=base, max_retries=0) as client:
        yield client


def test_chat_completion(sdk: openai.OpenAI) -> None:
    done = sdk.chat.completions.create(model="qwen-plus", messages=QUESTION, seed=3)
    assert done.object == "chat.completion" and done.model == "qwen-plus"
    assert "capital of France" in done.choices[0].message.content
    assert done.choices[0].finish_reason == "stop"
    usage = done.usage
    assert (
        usage.prompt_tokens > 0
        and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    )


def test_streamed_chat_adds_up_to_the_whole_answer(sdk: openai.OpenAI) -> None:
    whole = sdk.chat.completions.create(model="qwen-plus", messages=QUESTION, seed=3)
    chunks = list(sdk.chat.completions.create(model="qwen-plus", messages=QUESTION, seed=3,
                                              stream=True,
                                              stream_options={"include_usage": True}))  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == whole.usage.total_tokens


def test_tool_calls_plain_and_streamed(sdk: openai.OpenAI) -> None:
    ask = [{"role": "user", "content": "What is the weather in 'Paris'?"}]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    done = sdk.chat.completions.create(model="qwen-plus", messages=ask, tools=[WEATHER],
                                       tool_choice=forced)  # fmt: skip
    (call,) = done.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments)["city"]
    stream = sdk.chat.completions.create(model="qwen-plus", messages=ask, tools=[WEATHER],
                                         tool_choice=forced, stream=True)  # fmt: skip
    arguments, ids = "", set()
    for chunk in stream:
        for fragment in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += fragment.function.arguments or ""
            ids.add(fragment.id)
    assert arguments == call.function.arguments and call.id in ids
    answered = [*ask, done.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]  # fmt: skip
    final = sdk.chat.completions.create(model="qwen-plus", messages=answered, tools=[WEATHER])
    assert "sunny" in final.choices[0].message.content


@pytest.mark.parametrize("encoding", ["float", "base64", None])
def test_embeddings_match_the_native_engine(sdk: openai.OpenAI, encoding: str | None) -> None:
    extra = {"encoding_format": encoding} if encoding else {}
    got = sdk.embeddings.create(model="text-embedding-v4", input=["red apple", "blue sky"],
                                dimensions=64, **extra)  # fmt: skip
    assert [d.index for d in got.data] == [0, 1] and got.usage.total_tokens > 0
    for item, text in zip(got.data, ["red apple", "blue sky"], strict=True):
        vector = item.embedding
        if isinstance(vector, str):  # asked for base64: the SDK hands the string over as is
            raw = base64.b64decode(vector)
            vector = list(struct.unpack(f"<{len(raw) // 4}f", raw))
        assert vector == pytest.approx(embed(text, 64), abs=1e-6)


def test_errors_are_the_sdk_s_typed_errors(sdk: openai.OpenAI, base: str) -> None:
    bad = openai.OpenAI(api_key="sk-invalid-key", base_url=base, max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model="qwen-plus", messages=QUESTION)
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="no-such-model", messages=QUESTION)
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad_param:
        sdk.chat.completions.create(model="qwen-plus", messages=QUESTION, temperature=3)
    assert bad_param.value.code == "invalid_parameter_error"
    assert "temperature" in bad_param.value.message


def test_files_and_a_whole_batch(sdk: openai.OpenAI, tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    lines = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "qwen-plus", "messages": [{"role": "user", "content": f"q{i}"}]}}
             for i in range(3)]  # fmt: skip
    path.write_text("\n".join(json.dumps(line) for line in lines))
    uploaded = sdk.files.create(file=path, purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.bytes == path.stat().st_size
    assert sdk.files.retrieve(uploaded.id).filename == "requests.jsonl"
    assert uploaded.id in [f.id for f in sdk.files.list()]
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h", metadata={"ds_name": "sdk"})  # fmt: skip
    assert batch.status == "validating"
    batch = sdk.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.completed == 3
    assert [b.id for b in sdk.batches.list()] == [batch.id]
    output = sdk.files.content(batch.output_file_id).read().decode().splitlines()
    answers = {json.loads(line)["custom_id"]: json.loads(line) for line in output}
    assert sorted(answers) == ["r0", "r1", "r2"]
    assert answers["r1"]["response"]["status_code"] == 200
    assert "q1" in answers["r1"]["response"]["body"]["choices"][0]["message"]["content"]
    assert sdk.files.delete(uploaded.id).deleted
    with pytest.raises(openai.BadRequestError):
        sdk.batches.cancel(batch.id)  # completed batches cannot be cancelled


def test_sdk_cancels_a_running_batch(sdk: openai.OpenAI, emu: Emulator) -> None:
    batch_settings(emu).time_scale = 1000  # a long batch
    line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/ds-test",
            "body": {"model": "batch-test-model", "messages": QUESTION}}  # fmt: skip
    uploaded = sdk.files.create(file=("t.jsonl", json.dumps(line).encode()), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/ds-test",
                               completion_window="24h")  # fmt: skip
    assert sdk.batches.cancel(batch.id).status == "cancelling"


def test_langchain_chat_openai(base: str) -> None:
    model = ChatOpenAI(model="qwen-plus", api_key=KEY, base_url=base, max_retries=0, seed=1)
    answer = model.invoke("What is the capital of France?")
    assert "capital of France" in answer.content and answer.usage_metadata["total_tokens"] > 0
    chunks = list(model.stream("What is the capital of France?", stream_usage=True))
    assert "".join(c.content for c in chunks) == answer.content
    assert sum((c.usage_metadata or {}).get("total_tokens", 0) for c in chunks) == (
        answer.usage_metadata["total_tokens"])  # fmt: skip
    tooled = model.bind_tools([WEATHER], tool_choice="get_weather")
    (call,) = tooled.invoke("What is the weather in 'Paris'?").tool_calls
    assert call["name"] == "get_weather" and call["args"]["city"]


def test_langchain_openai_embeddings(base: str) -> None:
    embeddings = OpenAIEmbeddings(model="text-embedding-v4", api_key=KEY, base_url=base,
                                  dimensions=64, check_embedding_ctx_length=False)  # fmt: skip
    vectors = embeddings.embed_documents(["red apple", "blue sky"])
    assert vectors[1] == pytest.approx(embed("blue sky", 64), abs=1e-6)
    assert embeddings.embed_query("red apple") == pytest.approx(embed("red apple", 64), abs=1e-6)
