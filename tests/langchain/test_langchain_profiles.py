"""ChatDashScope.profile drives LangChain's agents; thinking models against an independent
loopback server that refuses non-streaming thinking calls exactly like production."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _langchain_helpers import ask
from _loopback import QuietHandler, api_url, serve
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import BaseModel

from dashscope_core import get_profile
from dashscope_core.emulator import Emulator, ServerHandle
from langchain_dashscope_ext import ChatDashScope

FAKE_KEY = "sk-test-profiles"


class Person(BaseModel):
    """A person."""

    name: str
    age: int


def _chat(base_url: str, **kw: Any) -> ChatDashScope:
    return ChatDashScope(api_key=FAKE_KEY, base_url=base_url, max_retries=0, **kw)


@pytest.mark.parametrize("model", ["qwen-plus", "qwen3.5-plus", "qwen3-32b"])
def test_create_agent_uses_native_json_schema(
    server: ServerHandle, emu: Emulator, model: str
) -> None:
    from langchain.agents import create_agent

    chat = _chat(server.base_url, model=model)
    assert chat.profile is not None and chat.profile["structured_output"]
    agent = create_agent(model=chat, tools=[], response_format=Person)
    result = agent.invoke({"messages": [HumanMessage("'Ada' is 36 years old")]})
    assert isinstance(result["structured_response"], Person)
    sent = emu.received()[-1].json["parameters"]
    assert sent["response_format"]["type"] == "json_schema"
    if get_profile(model).thinks():
        assert sent["enable_thinking"] is False  # thinking mode refuses JSON output


def test_summarization_middleware_reads_the_context_window(server: ServerHandle) -> None:
    from langchain.agents.middleware import SummarizationMiddleware

    chat = _chat(server.base_url, model="qwen3.5-plus")
    assert chat.profile is not None and chat.profile["max_input_tokens"] == 1_000_000
    middleware = SummarizationMiddleware(model=chat, trigger=("fraction", 0.8))
    assert middleware.model is chat


def test_thinking_only_models_do_not_claim_native_structured_output() -> None:
    profile = ChatDashScope(model="qwq-plus", api_key=FAKE_KEY).profile
    assert profile is not None
    assert profile["reasoning_output"] and not profile["structured_output"]
    assert ChatDashScope(model="qwen-vl-max", api_key=FAKE_KEY).profile["image_inputs"] is True


# -------------------------------------------------- an independent production-like server

NON_STREAMING = "parameter.enable_thinking must be set to false for non-streaming calls"


class _Production(QuietHandler):
    """Refuses a non-streaming call with thinking on (qwen3-32b thinks by default) like
    production (PROTOCOL.md); streams thinking as reasoning then content frames."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = body.get("parameters", {})
        thinking = params.get("enable_thinking", body["model"] == "qwen3-32b")
        if self.headers.get("X-DashScope-SSE") != "enable" and thinking:
            self._json(400, {"code": "InvalidParameter", "message": NON_STREAMING})
            return
        if self.headers.get("X-DashScope-SSE") != "enable":
            message = {"role": "assistant", "content": "plain"}
            choice = {"finish_reason": "stop", "message": message}
            usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
            self._json(200, {"output": {"choices": [choice]}, "usage": usage})
            return
        frames = [("think ", "", "null"), ("harder", "", "null"), ("", "Blue ", "null"),
                  ("", "light.", "stop")]  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream;charset=UTF-8")
        self.end_headers()
        for i, (reasoning, content, finish) in enumerate(frames, 1):
            message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
            data = {"output": {"choices": [{"message": message, "finish_reason": finish}]},
                    "usage": {"input_tokens": 5, "output_tokens": 2 * i, "total_tokens": 5 + 2 * i,
                              "output_tokens_details": {"reasoning_tokens": min(i, 2) * 2}},
                    "request_id": "req-prod"}  # fmt: skip
            frame = f"id:{i}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n"
            self.wfile.write(frame.encode())

    def _json(self, status: int, data: dict[str, Any]) -> None:
        raw = json.dumps({**data, "request_id": "req-prod"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture(scope="module")
def production() -> Iterator[str]:
    with serve(_Production) as httpd:
        yield api_url(httpd)


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
async def test_thinking_models_work_against_production_rules(production: str, how: str) -> None:
    chat = _chat(production, model="qwen3-32b")
    message = await ask(chat, how, "Why is the sky blue?")
    assert isinstance(message, AIMessage) and message.content == "Blue light."
    assert message.additional_kwargs["reasoning_content"] == "think harder"
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] == 8
    plain = _chat(production, model="qwen-plus").invoke("Hi")  # not thinking: not streamed
    assert plain.content == "plain"
