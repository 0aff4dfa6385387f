"""Scripted replies: FIFO per route kind, rendered through the normal renderers."""

from __future__ import annotations

import json

import httpx
from emulator_helpers import EMB, GEN, SSE, body, frames, stream_text

from dashscope_core.emulator import Emulator

EMBED = {"model": "text-embedding-v3", "input": {"texts": ["hello"]}}


def _content(response: httpx.Response) -> str:
    return str(response.json()["output"]["choices"][0]["message"]["content"])


def test_fifo_and_kind(client: httpx.Client, emu: Emulator) -> None:
    emu.script.generation("first").generation("second")
    assert client.post(EMB, json=EMBED).status_code == 200  # embeddings do not consume them
    assert client.post(GEN, json=body()).json()["output"]["text"] == "first"
    assert _content(client.post(GEN, json=body(result_format="message"))) == "second"
    assert client.post(GEN, json=body()).json()["output"]["text"] != "second"
    assert len(emu.script) == 0


def test_scripted_text_streams_and_limits(client: httpx.Client, emu: Emulator) -> None:
    text = "one two three four five six seven eight"
    emu.script.generation(text)
    chunks = frames(
        client.post(GEN, json=body(incremental_output=True, result_format="message"), headers=SSE)
    )
    assert len(chunks) > 2 and stream_text(chunks, True) == text
    emu.script.generation(text)
    cut = client.post(GEN, json=body(max_tokens=2)).json()
    assert cut["output"] == {"text": "one two", "finish_reason": "length"}
    assert cut["usage"]["output_tokens"] == 2


def test_scripted_parallel_tool_calls(client: httpx.Client, emu: Emulator) -> None:
    emu.script.generation(
        tool_calls=[{"name": "get_weather", "arguments": {"city": "New York"}},
                    {"name": "get_time", "arguments": '{"tz": "UTC"}', "id": "call_fixed"}]
    )  # fmt: skip
    payload = body(result_format="message", incremental_output=True)
    chunks = frames(client.post(GEN, json=payload, headers=SSE))
    merged: dict[int, str] = {}
    ids = []
    for chunk in chunks:
        for fragment in chunk["output"]["choices"][0]["message"].get("tool_calls", []):
            merged[fragment["index"]] = (
                merged.get(fragment["index"], "") + fragment["function"]["arguments"]
            )
            ids.append(fragment["id"])
    assert json.loads(merged[0]) == {"city": "New York"} and json.loads(merged[1]) == {"tz": "UTC"}
    assert "call_fixed" in ids
    assert chunks[-1]["output"]["choices"][0]["finish_reason"] == "tool_calls"


def test_scripted_reasoning_and_usage(client: httpx.Client, emu: Emulator) -> None:
    emu.script.reasoning("Hmm, think.", "Answer.")
    payload = body(model="deepseek-v4-pro", enable_thinking=True)
    message = client.post(GEN, json=payload).json()["output"]["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("Hmm, think.", "Answer.")
    emu.script.generation(
        "x", usage={"input_tokens": 100, "output_tokens": 7}, finish_reason="length"
    )
    data = client.post(GEN, json=body()).json()
    assert data["usage"]["total_tokens"] == 107 and data["output"]["finish_reason"] == "length"


def test_scripted_error_and_json(client: httpx.Client, emu: Emulator) -> None:
    emu.script.error(status=429, code="Throttling", message="slow down", retry_after=1)
    response = client.post(EMB, json=EMBED)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json()["message"] == "slow down"
    emu.script.json({"output": {"anything": True}}, status=200, kind="generation")
    data = client.post(GEN, json={"not": "even valid"}).json()
    assert data["output"] == {"anything": True}
    assert data["request_id"]
    emu.script.error(400, "DataInspectionFailed", "Input data may contain inappropriate content.",
                     kind="generation")  # fmt: skip
    assert client.post(GEN, json=body()).json()["code"] == "DataInspectionFailed"


def test_generic_reply_reaches_handler(client: httpx.Client, emu: Emulator) -> None:
    emu.script.reply("generation", text="generic")
    assert client.post(GEN, json=body()).json()["output"]["text"] == "generic"
