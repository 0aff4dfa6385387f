"""The tokenizer: the recorded exchange replayed and its request reproduced; the emulator's
POST /tokenizer; framework token counting without transformers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from test_recorded import Replay, load, request_body

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.errors import NotFoundError
from dashscope_core.resources.tokenizer import build_tokenize

NAME = "tokenization-nosse"
TEXT = "代码改变世界"


def test_the_builder_reproduces_the_recorded_request() -> None:
    spec = build_tokenize(model="qwen-max", messages=[{"role": "user", "content": TEXT}], seed=1234)
    assert (spec.method, spec.path) == ("POST", "/tokenizer")
    assert spec.json == request_body(NAME)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_recorded_answer_parses(mode: str) -> None:
    replay = Replay(mode, NAME)
    result = replay.call("tokenizer.tokenize", model="qwen-max",
                         messages=[{"role": "user", "content": TEXT}], seed=1234)  # fmt: skip
    assert replay.sent[0].url.path == "/api/v1/tokenizer"
    assert json.loads(replay.sent[0].content) == request_body(NAME)
    assert result.token_ids == [46100, 101933, 99489]
    assert result.output.tokens == ["代码", "改变", "世界"]
    assert result.count == 3 and result.request_id == "6615ba01-081d-9147-93ff-7bd26f3adf93"
    raw = json.loads(load(NAME, "response.body.txt").decode("utf-8-sig"))
    assert result.model_dump(exclude_none=True) == raw


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [({"model": "", "prompt": "x"}, ValueError, "model"),
     ({"model": "qwen-max"}, ValueError, "messages/prompt"),
     ({"model": "qwen-max", "prompt": ""}, ValueError, "prompt"),
     ({"model": "qwen-max", "messages": "hi"}, TypeError, "messages")],
)  # fmt: skip
def test_bad_arguments_fail_before_any_request(
    kwargs: dict[str, Any], error: type[Exception], argument: str
) -> None:
    with pytest.raises(error, match=rf"^{argument}"):
        build_tokenize(**kwargs)


async def test_the_emulator_tokenizes_deterministically(
    server: ServerHandle, emu: Emulator
) -> None:
    with DashScope(api_key="sk-test", base_url=server.base_url) as client:
        first = client.tokenizer.tokenize(model="qwen-plus", prompt="Hello world, 代码")
        again = client.tokenizer.tokenize(model="qwen-plus", messages=[
            {"role": "user", "content": "Hello world, 代码"}
        ])  # fmt: skip
        assert first.token_ids == again.token_ids and first.count == len(first.token_ids) == 4
        assert client.tokenizer.count(model="qwen3.5-plus", prompt="Hello world, 代码") == 4
        with pytest.raises(NotFoundError) as info:
            client.tokenizer.count(model="qwen-plsu", prompt="x")
        assert info.value.code == "Model.NotExist"
    async with AsyncDashScope(api_key="sk-test", base_url=server.base_url) as aclient:
        assert (await aclient.tokenizer.tokenize(model="qwen-plus", prompt="Hello world, 代码")
                ).token_ids == first.token_ids  # fmt: skip
    # the emulator's counts agree with its own generation usage (3 per message added)
    async with AsyncDashScope(api_key="sk-test", base_url=server.base_url) as aclient:
        answer = await aclient.generation.call(model="qwen-plus", prompt="Hello world, 代码")
    async with httpx.AsyncClient(headers={"Authorization": "Bearer sk-test"}) as http:
        body = {"model": "qwen-plus", "input": {"prompt": "Hello world, 代码"}}
        raw = await http.post(f"{server.base_url}/tokenizer", json=body)
    assert raw.json()["usage"]["input_tokens"] + 3 == answer.usage.input_tokens


def test_framework_token_counting_needs_no_transformers(server: ServerHandle) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, trim_messages

    from langchain_dashscope_ext import ChatDashScope
    from llamaindex_dashscope_ext import DashScopeLLM

    chat = ChatDashScope(model="qwen3.5-plus", api_key="sk-test", base_url=server.base_url)
    assert chat.get_num_tokens("one two three") == 3 and chat.get_num_tokens("") == 0
    assert chat.get_token_ids("one two") == chat.get_token_ids("one two")
    history = [SystemMessage("be brief"), HumanMessage("one two three"), AIMessage("four five"),
               HumanMessage("six seven eight")]  # fmt: skip
    assert chat.get_num_tokens_from_messages(history) == 10
    kept = trim_messages(history, max_tokens=6, token_counter=chat, strategy="last",
                         include_system=True)  # fmt: skip
    assert [m.content for m in kept] == ["be brief", "six seven eight"]
    llm = DashScopeLLM(model="qwen-plus", api_key="sk-test", base_url=server.base_url)
    assert len(llm.tokenizer("one two three")) == 3 and llm.tokenizer("") == []
