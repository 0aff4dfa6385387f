"""DashScopePredictionToolSpec: FunctionTools from OpenAPI schemas, runs, and a FunctionAgent."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.tools import FunctionTool
from pydantic import ValidationError

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator.prediction_builtins import SCHEDULERS
from llamaindex_dashscope_ext import DashScopeLLM, DashScopePredictionToolSpec, PredictionToolError
from llamaindex_dashscope_ext.tools import ToolResult

from .conftest import FAKE_KEY

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


@pytest.fixture
def client(li_server: ServerHandle, emu: Emulator) -> Iterator[DashScope]:
    with DashScope(api_key=FAKE_KEY, base_url=li_server.base_url, max_retries=0) as c:
        yield c


def _params(tool: FunctionTool) -> dict[str, Any]:
    return dict(tool.metadata.get_parameters_dict())


def test_tool_list_schemas_built_once_per_model(client: DashScope, emu: Emulator) -> None:
    spec = DashScopePredictionToolSpec(client, ["emulator/image-maker", "emulator/slow-counter"])
    image, counter = spec.to_tool_list()
    assert [r.path for r in emu.received()] == [
        "/models/emulator/image-maker",
        "/models/emulator/slow-counter",
    ]
    params = _params(image)
    assert image.metadata.name == "emulator_image-maker"
    assert params["required"] == ["prompt"]
    assert list(params["properties"])[:3] == ["prompt", "negative_prompt", "image"]
    assert params["properties"]["scheduler"]["enum"] == list(SCHEDULERS)
    assert params["properties"]["width"]["maximum"] == 1024
    assert '"x-' not in json.dumps(params)
    assert "returns a list of file URLs" in image.metadata.description
    assert _params(counter)["properties"]["steps"]["default"] == 5
    tool = image.metadata.to_openai_tool()
    assert tool["function"]["parameters"]["properties"]["num_outputs"]["minimum"] == 1


def test_sync_and_async_calls(client: DashScope, emu: Emulator) -> None:
    tool = DashScopePredictionToolSpec(client).to_tool("emulator/hello-world", name="hello")
    out = tool.call(text="world")
    assert out.content == "hello world" and not out.is_error
    assert isinstance(out.raw_output, ToolResult)
    assert out.raw_output.output == "hello world" and out.raw_output.job.status == "succeeded"
    assert asyncio.run(tool.acall(text="async")).content == "hello async"
    assert [r.json["input"] for r in emu.received("predictions.create")] == [
        {"text": "world"},
        {"text": "async"},
    ]


def test_async_only_spec(li_server: ServerHandle, emu: Emulator) -> None:
    async def main() -> tuple[str, str]:
        async with AsyncDashScope(api_key=FAKE_KEY, base_url=li_server.base_url) as aclient:
            spec = DashScopePredictionToolSpec(async_client=aclient)
            tool = await spec.ato_tool("emulator/hello-world")
            return (await tool.acall(text="a")).content, tool.call(text="s").content

    assert asyncio.run(main()) == ("hello a", "hello s")


def test_bad_arguments_fail_before_any_request(client: DashScope, emu: Emulator) -> None:
    with pytest.raises(ValueError, match="client"):
        DashScopePredictionToolSpec()
    with pytest.raises(ValueError, match="interval"):
        DashScopePredictionToolSpec(client, interval=-1)
    with pytest.raises(TypeError, match="models"):
        DashScopePredictionToolSpec(client, "emulator/hello-world")
    with pytest.raises(ValueError, match="model"):
        DashScopePredictionToolSpec(client).to_tool("emulator:abc")
    tool = DashScopePredictionToolSpec(client).to_tool("emulator/image-maker")
    emu.reset()
    with pytest.raises(ValidationError):
        tool.call(prompt="p", width=5, scheduler="FAST")
    with pytest.raises(ValidationError):
        asyncio.run(tool.acall(width=64))
    assert emu.received() == []


def test_progress_outputs_and_files(client: DashScope, emu: Emulator, tmp_path: Path) -> None:
    events: list[tuple[str, dict[str, Any]]] = []

    def record(name: str, data: dict[str, Any]) -> None:
        events.append((name, data))

    spec = DashScopePredictionToolSpec(client, wait=False, interval=0.05, progress=record)
    counter = spec.to_tool("emulator/slow-counter")
    assert counter.call(steps=4, seconds=0.4).content == "4"
    assert {name for name, _ in events} == {"prediction_progress"}
    assert events[-1][1]["status"] == "succeeded" and events[-1][1]["current"] == 4
    path = tmp_path / "in.png"
    path.write_bytes(PNG)
    image = spec.to_tool("emulator/image-maker")
    urls = image.call(prompt="cat", num_outputs=2, image=str(path)).content.splitlines()
    assert len(urls) == 2 and all("/outputs/" in u for u in urls)
    sent = emu.received("predictions.create")[-1].json["input"]["image"]
    assert sent.startswith("data:image/png;base64,")
    lm = DashScopePredictionToolSpec(client, max_output_chars=10).to_tool("emulator/streaming-lm")
    text = lm.call(prompt="hi").content
    assert text.startswith("You asked") and "[truncated " in text


def test_failures_raise_actionable_errors(client: DashScope, emu: Emulator) -> None:
    spec = DashScopePredictionToolSpec(client, timeout=0.3, wait=False, interval=0.05)
    fails = spec.to_tool("emulator/always-fails")
    with pytest.raises(PredictionToolError, match="out of memory") as info:
        fails.call(message="out of memory")
    assert "Change the inputs" in str(info.value) and info.value.cause.prediction_id
    slow = spec.to_tool("emulator/slow-counter")
    with pytest.raises(PredictionToolError, match="stopped before it finished"):
        asyncio.run(slow.acall(steps=10, seconds=30))
    assert len(emu.received("predictions.cancel")) == 1


def test_sync_call_cancelled_mid_way_by_the_spec_event(client: DashScope, emu: Emulator) -> None:
    event = threading.Event()
    ids: list[str] = []

    def progress(name: str, data: dict[str, Any]) -> None:
        ids.append(data["id"])
        event.set()  # the prediction exists: stop it

    spec = DashScopePredictionToolSpec(client, wait=False, interval=0.05, progress=progress,
                                       cancel_event=event)  # fmt: skip
    with pytest.raises(PredictionToolError, match="cancelled on request"):
        spec.to_tool("emulator/slow-counter").call(steps=10, seconds=30)
    assert [r.path for r in emu.received("predictions.cancel")] == [f"/predictions/{ids[0]}/cancel"]
    assert emu.received("predictions.get") == []
    with pytest.raises(TypeError, match="cancel_event"):
        DashScopePredictionToolSpec(client, cancel_event=True)  # type: ignore[arg-type]


async def test_function_agent_calls_the_prediction_tool(
    client: DashScope, llm: DashScopeLLM, emu: Emulator
) -> None:
    tool = await DashScopePredictionToolSpec(client).ato_tool(
        "emulator/hello-world", name="hello_world"
    )
    agent = FunctionAgent(tools=[tool], llm=llm, system_prompt="Use tools to greet people.")
    emu.script.generation(tool_calls=[{"name": "hello_world", "arguments": {"text": "Ada"},
                                       "id": "call_hello"}])  # fmt: skip
    handler = agent.run(user_msg="Greet Ada with the hello-world model; what did it say?")
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    output = await handler
    assert [(r.tool_name, r.tool_output.content) for r in results] == [("hello_world", "hello Ada")]
    assert "hello Ada" in str(output.response.content)
    assert [r.json["input"] for r in emu.received("predictions.create")] == [{"text": "Ada"}]
    second = emu.received("generation")[1].json["input"]["messages"]
    assert {"role": "tool", "tool_call_id": "call_hello"}.items() <= next(
        m for m in second if m["role"] == "tool"
    ).items()


async def test_function_agent_sees_failures_as_tool_errors(
    client: DashScope, llm: DashScopeLLM, emu: Emulator
) -> None:
    tool = DashScopePredictionToolSpec(client).to_tool("emulator/always-fails", name="flaky")
    agent = FunctionAgent(tools=[tool], llm=llm)
    emu.script.generation(tool_calls=[{"name": "flaky", "arguments": {"message": "disk full"}}])
    handler = agent.run(user_msg="Run flaky.")
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    await handler
    assert results[0].tool_output.is_error and "disk full" in results[0].tool_output.content
