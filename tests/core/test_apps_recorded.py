"""Recorded production app traffic (shared/fixtures/recorded/application-*) replayed through
httpx.MockTransport: every field parses, and build_call reproduces the recorded request bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from _recorded import RECORDED, recording_text

from dashscope_core import AsyncDashScope, DashScope, accumulate_app
from dashscope_core._protocol.app_stream import AppStreamStage
from dashscope_core._protocol.sse import SSEDecoder
from dashscope_core.resources.apps import build_call

NAMES = sorted(p.name.split(".")[0] for p in RECORDED.glob("application-*.request.body.json"))


def _read(name: str, part: str) -> str:
    return recording_text(f"{name}.{part}")


def _request(name: str) -> tuple[str, dict[str, Any], bool]:
    head = _read(name, "request.header.txt").splitlines()[0]
    app_id = head.split()[1].split("/apps/")[1].split("/")[0]
    return app_id, json.loads(_read(name, "request.body.json")), name.endswith("-sse")


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    params = dict(body["parameters"])
    return {**body["input"], **params}


def _transport(name: str, seen: list[httpx.Request]) -> httpx.MockTransport:
    body = _read(name, "response.body.txt").encode()
    stream = name.endswith("-sse")
    headers = {"content-type": "text/event-stream" if stream else "application/json"}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers=headers, content=body)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("name", NAMES)
def test_build_call_reproduces_the_recorded_body(name: str) -> None:
    app_id, body, stream = _request(name)
    spec = build_call(app_id, stream=stream, **_kwargs(body))
    assert spec.path == f"/apps/{app_id}/completion"
    assert spec.json == {"model": "", **body}


def _expected(name: str) -> dict[str, Any]:
    raw = _read(name, "response.body.txt")
    if not name.endswith("-sse"):
        return json.loads(raw)
    frames = [json.loads(e.data) for e in SSEDecoder().feed(raw.encode()) + SSEDecoder().close()]
    last = frames[-1]
    text = "".join(f["output"]["text"] for f in frames)
    return {**last, "output": {**last["output"], "text": text}}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_recorded_answer_parses_every_field(name: str, mode: str) -> None:
    app_id, body, stream = _request(name)
    seen: list[httpx.Request] = []
    transport = _transport(name, seen)
    kwargs = _kwargs(body)
    if mode == "sync":
        client = DashScope(api_key="sk-x", http_client=httpx.Client(transport=transport))
        got = accumulate_app(client.apps.stream(app_id, **kwargs)) if stream else (
            client.apps.call(app_id, **kwargs))  # fmt: skip
    else:
        aclient = AsyncDashScope(api_key="sk-x", http_client=httpx.AsyncClient(transport=transport))

        async def go() -> Any:
            if stream:
                return accumulate_app([c async for c in aclient.apps.stream(app_id, **kwargs)])
            return await aclient.apps.call(app_id, **kwargs)

        got = asyncio.run(go())
    want = _expected(name)
    out, wout = got.output, want["output"]
    assert got.request_id == want["request_id"]
    assert out.text == wout["text"] and out.session_id == wout["session_id"]
    assert out.finish_reason == wout["finish_reason"] == "stop"
    assert [t.model_dump(exclude_none=True) for t in out.thoughts] == (wout.get("thoughts") or [])
    assert [d.model_dump(exclude_none=True) for d in out.doc_references] == (
        wout.get("doc_references") or []
    )
    assert got.usage.model_dump() == want["usage"]
    assert json.loads(seen[0].content) == {"model": "", **body}
    assert seen[0].url.path == f"/api/v1/apps/{app_id}/completion"


def test_recorded_stream_holds_doc_references_for_the_final_chunk() -> None:
    raw = _read("application-single-generation-text-sse", "response.body.txt").encode()
    decoder, stage = SSEDecoder(), AppStreamStage(incremental=True)
    chunks = [c for e in decoder.feed(raw) + decoder.close() for c in stage.feed(e)]
    chunks += stage.close()
    assert [bool(c.output.doc_references) for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert [d.index_id for d in chunks[-1].output.doc_references] == ["2", "3", "4", "5"]
    assert chunks[-1].usage.models[0].output_tokens == 244
