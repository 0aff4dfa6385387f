"""Fidelity: the emulator's answer to each recorded request has the recorded shape."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from _recorded import RECORDED, recording_text
from emulator_helpers import covers, decode, shape

OUR_PATHS = ("/api/v1/services/aigc/text-generation/", "/api/v1/services/embeddings/")


def _read(path: Path) -> str:
    return recording_text(path.name, path.parent)


def _names() -> list[str]:
    names = sorted(
        p.name.removesuffix(".request.body.json") for p in RECORDED.glob("*.request.body.json")
    )
    return [
        n
        for n in names
        if _read(RECORDED / f"{n}.request.header.txt").split()[1].startswith(OUR_PATHS)
    ]


def _recorded_headers(name: str, kind: str) -> tuple[str, int, dict[str, str]]:
    lines = _read(RECORDED / f"{name}.{kind}.header.txt").splitlines()
    first, rest = lines[0], [line for line in lines[1:] if ":" in line]
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in rest)}
    parts = first.split()
    return parts[1], int(parts[1]) if parts[1].isdigit() else 0, headers


def test_the_fixtures_are_there() -> None:
    assert len(_names()) >= 8


@pytest.mark.parametrize("name", _names())
def test_same_shape_as_recorded(client: httpx.Client, name: str) -> None:
    path, _, request_headers = _recorded_headers(name, "request")
    _, status, response_headers = _recorded_headers(name, "response")
    headers = {"accept": request_headers.get("accept", "*/*")}
    if name.startswith("auth-error"):
        headers["authorization"] = "Bearer invalid-key"
    payload = json.loads(_read(RECORDED / f"{name}.request.body.json"))
    response = client.post(path.removeprefix("/api/v1"), json=payload, headers=headers)
    assert response.status_code == status
    if "content-type" in response_headers:
        assert response.headers["content-type"] == response_headers["content-type"]
    recorded_body = _read(RECORDED / f"{name}.response.body.txt")
    if name.endswith("-sse"):
        _check_stream(response, recorded_body)
        return
    ours, recorded = response.json(), json.loads(recorded_body)
    covers(shape(ours), shape(recorded))
    assert ours["request_id"] == response.headers["x-request-id"]
    if "error" in name:
        assert ours["code"] == recorded["code"] and ours["message"] == recorded["message"]
    if name == "single-generation-message-with-tools-nosse":
        ours_call = ours["output"]["choices"][0]["message"]["tool_calls"][0]["function"]
        recorded_call = recorded["output"]["choices"][0]["message"]["tool_calls"][0]["function"]
        assert ours_call == recorded_call  # the example in the parameter's description


def _check_stream(response: httpx.Response, recorded_body: str) -> None:
    ours, recorded = decode(response.content), decode(recorded_body.encode())
    assert [e.id for e in ours] == [str(i) for i in range(1, len(ours) + 1)]
    assert {(e.event, e.status) for e in ours} == {(e.event, e.status) for e in recorded}
    ours_data = [json.loads(e.data) for e in ours]
    recorded_data = [json.loads(e.data) for e in recorded]
    for mine, theirs in ((ours_data[0], recorded_data[0]), (ours_data[-1], recorded_data[-1])):
        covers(shape(mine), shape(theirs))
    assert all(d["request_id"] == response.headers["x-request-id"] for d in ours_data)
    finish = json.dumps(recorded_data[-1]["output"]).count('"stop"')
    assert json.dumps(ours_data[-1]["output"]).count('"stop"') == finish
