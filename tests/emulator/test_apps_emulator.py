"""The emulator's Bailian app endpoint at the HTTP level: registry, retrieval, sessions, streams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from _recorded import recording_text

from dashscope_core._protocol.sse import SSEDecoder
from dashscope_core.emulator import Emulator, create_app
from dashscope_core.emulator.apps import DEMO_APP_ID, registry
from dashscope_core.emulator.cli import build_emulator, build_parser

AUTH = {"Authorization": "Bearer sk-emulator-apps"}
XUNIT = {
    "thie5bysoj": [
        {"doc_id": "file_d129d632800c45aa9e7421b30561f447_10207234",
         "doc_name": "xUnit Test Patterns",
         "title": "xUnit Test Patterns", "tags": ["xUnit"], "metadata": {"docType": "电子书"},
         "text": "Goals of test automation: tests should help us improve quality.\n\n"
                 "Test smells: obscure tests, fragile tests and slow tests."},
    ]
}  # fmt: skip


async def _post(emu: Emulator, app_id: str, body: dict[str, Any], sse: bool = False) -> Any:
    transport = httpx.ASGITransport(app=create_app(emu))
    headers = {**AUTH, **({"X-DashScope-SSE": "enable"} if sse else {})}
    async with httpx.AsyncClient(transport=transport, base_url="http://emu/api/v1") as http:
        r = await http.post(f"/apps/{app_id}/completion", json=body, headers=headers)
    if not sse:
        return r.status_code, r.json()
    decoder = SSEDecoder()
    return r.status_code, [json.loads(e.data) for e in decoder.feed(r.content) + decoder.close()]


async def test_registered_app_answers_from_its_documents() -> None:
    emu = Emulator()
    emu.apps.register("5ccc140108fd4b2ea5e6101fbada7583", name="Books", pipelines=XUNIT)
    body = json.loads(recording_text("application-single-generation-text-nosse.request.body.json"))
    body["input"]["prompt"] = "What are the goals of test automation?"
    status, got = await _post(emu, "5ccc140108fd4b2ea5e6101fbada7583", body)
    recorded = json.loads(
        recording_text("application-single-generation-text-nosse.response.body.txt")
    )
    assert status == 200 and set(got) == set(recorded)
    assert set(got["output"]) == {"text", "finish_reason", "session_id", "doc_references"}
    ref = got["output"]["doc_references"][0]
    assert set(ref) == set(recorded["output"]["doc_references"][0])
    assert ref["doc_id"] == XUNIT["thie5bysoj"][0]["doc_id"] and ref["index_id"] == "1"
    assert "<ref>[1]</ref>" in got["output"]["text"] and "quality" in got["output"]["text"]
    assert set(got["usage"]["models"][0]) == set(recorded["usage"]["models"][0])


async def test_unknown_session_id_starts_fresh_under_that_id() -> None:
    emu = Emulator()
    sid = "0123456789abcdef0123456789abcdef"
    _, got = await _post(emu, DEMO_APP_ID, {"input": {"prompt": "What did I ask first?",
                                                      "session_id": sid}})  # fmt: skip
    assert got["output"]["session_id"] == sid
    assert "first question" in got["output"]["text"]


async def test_unknown_app_and_empty_input() -> None:
    emu = Emulator()
    status, got = await _post(emu, "nope", {"input": {"prompt": "hi"}})
    assert (status, got["code"]) == (400, "InvalidParameter") and "App not found" in got["message"]
    status, got = await _post(emu, DEMO_APP_ID, {"input": {}})
    assert (status, got["code"]) == (400, "BadRequest.EmptyInput")


@pytest.mark.parametrize("incremental", [True, False])
async def test_stream_frames_follow_the_recording(incremental: bool) -> None:
    emu = Emulator()
    body = {"input": {"prompt": "How do I reset the lamp?"},
            "parameters": {"incremental_output": incremental}}  # fmt: skip
    status, frames = await _post(emu, DEMO_APP_ID, body, sse=True)
    assert status == 200 and frames[-1]["output"]["finish_reason"] == "stop"
    assert all(f["output"]["finish_reason"] == "null" for f in frames[:-1])
    texts = [f["output"]["text"] for f in frames]
    whole = "".join(texts) if incremental else texts[-1]
    if not incremental:
        assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    first_ref = next(i for i, f in enumerate(frames) if f["output"].get("doc_references"))
    assert "[1]" in ("".join(texts[: first_ref + 1]) if incremental else texts[first_ref])
    assert frames[-1]["output"]["doc_references"] and "<ref>[1]</ref>" in whole
    assert len({f["output"]["session_id"] for f in frames}) == 1


def test_apps_json_file_on_the_command_line(tmp_path: Path) -> None:
    spec = {"apps": [{"app_id": "books", "name": "Books", "pipelines": XUNIT}]}
    path = tmp_path / "apps.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    emu = build_emulator(build_parser().parse_args(["--apps", str(path)]))
    assert "books" in registry(emu) and DEMO_APP_ID in registry(emu)
    emu.reset()
    assert "books" not in registry(emu) and DEMO_APP_ID in registry(emu)


def test_register_validates_documents() -> None:
    with pytest.raises(ValueError, match=r"document\.text"):
        Emulator().apps.register("x", pipelines={"p": [{"doc_id": "d"}]})
