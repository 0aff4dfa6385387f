"""DashScopePredictionTool / DashScopeImageSynthesisTool against the emulator over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import ToolMessage
from langchain_core.tools import ToolException
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ValidationError

from dashscope_core import AsyncDashScope, DashScope
from dashscope_core.emulator._serve import ServerHandle
from dashscope_core.emulator.prediction_builtins import SCHEDULERS
from dashscope_core.emulator.state import Emulator
from langchain_dashscope_ext.tools import DashScopeImageSynthesisTool, DashScopePredictionTool

KEY = "sk-test-prediction-tool-0123"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 8


@pytest.fixture
def client(server: ServerHandle, emu: Emulator) -> Iterator[DashScope]:
    with DashScope(api_key=KEY, base_url=server.base_url, max_retries=0) as c:
        yield c


def _call(tool: Any, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call_1", "name": tool.name, "args": args}


def _created(emu: Emulator) -> list[Any]:
    return emu.received("predictions.create")


def test_from_model_fetches_the_model_once_and_pins_the_version(
    client: DashScope, emu: Emulator
) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/hello-world")
    assert [r.path for r in emu.received()] == ["/models/emulator/hello-world"]
    version = client.models.get("emulator", "hello-world").latest_version
    assert version is not None and tool.identifier == f"emulator/hello-world:{version.id}"
    assert tool.name == "emulator_hello-world"
    assert tool.description.startswith("A tiny model that says hello. Runs emulator/hello-world")
    for _ in range(2):
        tool.invoke({"text": "x"})
    assert [r.json["version"] for r in _created(emu)] == [version.id, version.id]
    assert len(emu.received("models.get")) == 2  # the fetch above and ours, none per run


def test_schema_for_each_emulator_model(client: DashScope) -> None:
    image = DashScopePredictionTool.from_model(client, "emulator/image-maker", name="draw")
    fn = convert_to_openai_tool(image)["function"]
    props = fn["parameters"]["properties"]
    assert fn["name"] == "draw" and fn["parameters"]["required"] == ["prompt"]
    assert list(props)[:4] == ["prompt", "negative_prompt", "image", "width"]
    assert props["scheduler"]["enum"] == list(SCHEDULERS)
    assert props["num_outputs"]["minimum"] == 1 and props["num_outputs"]["maximum"] == 4
    assert '"x-' not in json.dumps(fn)
    counter = DashScopePredictionTool.from_model(client, "emulator/slow-counter")
    assert counter.args == {**counter.args, "steps": counter.args["steps"]}
    assert counter.args["steps"]["default"] == 5
    lm = DashScopePredictionTool.from_model(client, "emulator/streaming-lm")
    assert lm.iterator_output and "joined" in lm.description
    fails = DashScopePredictionTool.from_model(client, "emulator/always-fails")
    assert list(fails.args) == ["message"]


def test_bad_identifier_and_bad_arguments_fail_before_any_request(
    client: DashScope, emu: Emulator
) -> None:
    for bad in ("owner:abc", "/model:abc", ":abc", "emulator"):
        with pytest.raises(ValueError, match="model"):
            DashScopePredictionTool.from_model(client, bad)
    with pytest.raises(ValueError, match="wait"):
        DashScopePredictionTool.from_model(client, "emulator/hello-world", wait=600)
    tool = DashScopePredictionTool.from_model(client, "emulator/image-maker")
    emu.reset()
    bad = [{"width": 8}, {"scheduler": "FAST"}, {"colour": "red"}, {"image": "/no/such.png"}]
    for args in [{}, *({"prompt": "p", **b} for b in bad)]:
        with pytest.raises(ValidationError):
            tool.invoke(args)
    assert emu.received() == []


def test_sync_and_async_runs_return_content_and_artifact(client: DashScope, emu: Emulator) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/hello-world")
    message = tool.invoke(_call(tool, {"text": "world"}))
    assert isinstance(message, ToolMessage) and message.content == "hello world"
    assert message.artifact["output"] == "hello world"
    assert message.artifact["status"] == "succeeded" and message.artifact["id"]
    async_message = asyncio.run(tool.ainvoke(_call(tool, {"text": "async"})))
    assert async_message.content == "hello async"
    bodies = [r.json for r in _created(emu)]
    assert [b["input"] for b in bodies] == [{"text": "world"}, {"text": "async"}]


def test_async_only_tool_with_afrom_model(server: ServerHandle, emu: Emulator) -> None:
    async def main() -> Any:
        async with AsyncDashScope(api_key=KEY, base_url=server.base_url) as aclient:
            tool = await DashScopePredictionTool.afrom_model(aclient, "emulator/hello-world")
            return await tool.ainvoke({"text": "a"}), tool.invoke({"text": "s"})

    assert asyncio.run(main()) == ("hello a", "hello s")


def test_long_iterator_output_is_joined_and_truncated(client: DashScope) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/streaming-lm", max_output_chars=20)
    message = tool.invoke(_call(tool, {"prompt": "hi"}))
    full = "".join(message.artifact["output"])
    assert full.startswith("You asked: hi\nHere is a streamed answer")
    assert message.content == f"{full[:20]}\n[truncated {len(full) - 20} chars]"


def test_file_outputs_as_urls_and_local_files_sent_as_data_uris(
    client: DashScope, emu: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "start.png"
    path.write_bytes(PNG)
    tool = DashScopePredictionTool.from_model(client, "emulator/image-maker")
    message = tool.invoke(_call(tool, {"prompt": "cat", "num_outputs": 2, "image": str(path)}))
    urls = str(message.content).splitlines()
    assert len(urls) == 2 and all(u.startswith(client.base_url + "/outputs/") for u in urls)
    assert message.artifact["output"][0].read().startswith(b"\x89PNG")
    sent = _created(emu)[0].json["input"]["image"]
    assert sent == "data:image/png;base64," + base64.b64encode(PNG).decode()


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


def _check_progress(events: list[dict[str, Any]]) -> None:
    assert len(events) >= 2
    assert events[-1]["status"] == "succeeded" and events[-1]["percentage"] == 1.0
    shown = [e["current"] for e in events if "current" in e]
    assert shown == sorted(shown) and shown[-1] == 4
    assert all(e["kind"] == "prediction" and e["id"] == events[0]["id"] for e in events)


def test_progress_through_callbacks_sync(client: DashScope) -> None:
    tool = DashScopePredictionTool.from_model(
        client, "emulator/slow-counter", wait=False, interval=0.05
    )
    handler = _Events()
    assert tool.invoke({"steps": 4, "seconds": 0.4}, config={"callbacks": [handler]}) == "4"
    assert {name for name, _ in handler.events} == {"prediction_progress"}
    _check_progress([data for _, data in handler.events])


def test_progress_visible_in_astream_events(client: DashScope) -> None:
    tool = DashScopePredictionTool.from_model(
        client, "emulator/slow-counter", wait=False, interval=0.05
    )

    async def collect() -> list[dict[str, Any]]:
        events = tool.astream_events({"steps": 4, "seconds": 0.4}, version="v2")
        return [e async for e in events]

    events = asyncio.run(collect())
    progress = [e["data"] for e in events if e["event"] == "on_custom_event"]
    assert all(
        e["name"] == "prediction_progress" for e in events if e["event"] == "on_custom_event"
    )
    _check_progress(progress)
    kinds = [e["event"] for e in events]
    assert (
        kinds.index("on_tool_start") < kinds.index("on_custom_event") < kinds.index("on_tool_end")
    )


def test_failed_prediction_becomes_an_actionable_tool_error(client: DashScope) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/always-fails")
    message = tool.invoke(_call(tool, {"message": "CUDA out of memory"}))
    assert message.status == "error"
    assert "failed" in message.content and "CUDA out of memory" in message.content
    assert "Change the inputs" in message.content
    strict = DashScopePredictionTool.from_model(client, "emulator/always-fails",
                                                handle_tool_error=False)  # fmt: skip
    with pytest.raises(ToolException, match="CUDA"):
        strict.invoke({"message": "CUDA"})
    with pytest.raises(ToolException, match="CUDA"):
        asyncio.run(strict.ainvoke({"message": "CUDA"}))


def test_http_errors_become_tool_errors(client: DashScope, emu: Emulator) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/hello-world")
    emu.script.error(429, "Throttling", "slow down", kind="predictions.create")
    message = tool.invoke(_call(tool, {"text": "x"}))
    assert message.status == "error" and "busy" in message.content
    assert "slow down" in message.content and "request_id=" in message.content


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_deadline_cancels_server_side(client: DashScope, emu: Emulator, mode: str) -> None:
    tool = DashScopePredictionTool.from_model(
        client, "emulator/slow-counter", timeout=0.3, wait=False, interval=0.05
    )
    call = _call(tool, {"steps": 10, "seconds": 30})
    message = tool.invoke(call) if mode == "sync" else asyncio.run(tool.ainvoke(call))
    assert message.status == "error" and "stopped before it finished" in message.content
    assert "deadline" in message.content
    cancelled = emu.received("predictions.cancel")
    assert len(cancelled) == 1 and _created(emu)[0].path != cancelled[0].path


def test_async_task_cancellation_cancels_the_prediction(client: DashScope, emu: Emulator) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/slow-counter", wait=False,
                                              interval=0.05)  # fmt: skip

    async def main() -> None:
        running = asyncio.Event()

        class Started(AsyncCallbackHandler):
            async def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                running.set()

        config: Any = {"callbacks": [Started()]}
        task = asyncio.ensure_future(tool.ainvoke({"steps": 10, "seconds": 30}, config))
        await running.wait()  # the prediction exists: its first progress event arrived
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert len(emu.received("predictions.cancel")) == 1


class _CancelOnProgress(BaseCallbackHandler):
    """Sets ``event`` on the first progress event: the prediction exists and is running."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.ids: list[str] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.ids.append(data["id"])
        self.event.set()


@pytest.mark.parametrize("where", ["config", "field"])
def test_sync_run_cancelled_mid_way_by_an_event(
    client: DashScope, emu: Emulator, where: str
) -> None:
    event = threading.Event()
    fields: Any = {"cancel_event": event} if where == "field" else {}
    tool = DashScopePredictionTool.from_model(client, "emulator/slow-counter", wait=False,
                                              interval=0.05, **fields)  # fmt: skip
    handler = _CancelOnProgress(event)
    config: Any = {"callbacks": [handler]}
    if where == "config":
        config["configurable"] = {"cancel_event": event}
    message = tool.invoke(_call(tool, {"steps": 10, "seconds": 30}), config)
    assert message.status == "error" and "cancelled on request" in message.content
    assert len(_created(emu)) == 1 and handler.ids[:1] != []
    cancels = [r.path for r in emu.received("predictions.cancel")]
    assert cancels == [f"/predictions/{handler.ids[0]}/cancel"]
    assert emu.received("predictions.get") == []  # cancelled before the first poll
    with pytest.raises(TypeError, match="cancel_event"):
        tool.invoke({"steps": 1, "seconds": 0}, {"configurable": {"cancel_event": "yes"}})


def test_secrets_never_leak(client: DashScope) -> None:
    tool = DashScopePredictionTool.from_model(client, "emulator/hello-world")
    dumped = json.dumps(tool.model_dump(), default=str)
    assert KEY not in repr(tool) and KEY not in dumped and "client" not in tool.model_dump()


def test_image_synthesis_tool_sync_async_and_progress(client: DashScope, emu: Emulator) -> None:
    tool = DashScopeImageSynthesisTool(client=client, interval=0.05, parameters={"seed": 7})
    handler = _Events()
    message = tool.invoke(_call(tool, {"prompt": "a cat", "n": 2}), {"callbacks": [handler]})
    urls = str(message.content).splitlines()
    assert len(urls) == 2 and message.artifact["status"] == "SUCCEEDED"
    assert handler.events[-1][0] == "task_progress"
    assert handler.events[-1][1]["status"] == "SUCCEEDED"
    body = emu.received("image_synthesis")[0].json
    assert body["input"] == {"prompt": "a cat"}
    assert body["parameters"] == {"n": 2, "seed": 7}
    assert asyncio.run(tool.ainvoke({"prompt": "a dog"})).count("\n") == 0
    with pytest.raises(ValidationError):
        tool.invoke({"prompt": "x", "n": 9})


def test_image_synthesis_failure_is_a_tool_error(client: DashScope, emu: Emulator) -> None:
    tool = DashScopeImageSynthesisTool(client=client, interval=0.05)
    emu.script.reply("image_synthesis", code="DataInspectionFailed", message="unsafe prompt")
    message = tool.invoke(_call(tool, {"prompt": "bad"}))
    assert message.status == "error" and "unsafe prompt" in message.content
    assert "Change the inputs" in message.content
