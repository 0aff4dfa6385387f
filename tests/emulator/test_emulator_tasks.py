"""The emulator's DashScope async tasks (image synthesis), checked against recorded traffic."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from _recorded import RECORDED, recording_text

from dashscope_core.emulator import Emulator, create_app
from dashscope_core.emulator.prediction_http import after_handler_faults

SUBMIT = "/services/aigc/text2image/image-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")


def recorded(name: str) -> Any:
    path = RECORDED / name
    if not path.exists():
        pytest.skip(f"recorded fixture {name} not available")
    return json.loads(recording_text(name))


class Clock:
    """A wall clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_709_285_904.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(emu: Emulator) -> Iterator[Clock]:
    fake = Clock()
    emu.clock.source = fake
    yield fake


def submit(client: httpx.Client, body: dict[str, Any] | None = None) -> dict[str, Any]:
    body = body or recorded("image-synthesis-nosse.request.body.json")
    response = client.post(SUBMIT, json=body, headers=ASYNC)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert data["request_id"] == response.headers["x-request-id"]
    return data


def keys(value: Any) -> Any:
    """The shape of a JSON value: dict keys (recursively), first list item."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items() if k != "request_id"}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return type(value).__name__


def test_submit_matches_recorded_shape(client: httpx.Client, emu: Emulator) -> None:
    data = submit(client)
    want = recorded("image-synthesis-nosse.response.body.txt")
    assert keys(data) == keys(want) and list(data) == list(want)
    assert data["output"]["task_status"] == "PENDING"
    assert re.fullmatch(r"[0-9a-f-]{36}", data["output"]["task_id"])
    assert emu.counters["tasks_submitted"] == 1


def test_synchronous_call_is_refused(client: httpx.Client, emu: Emulator) -> None:
    response = client.post(SUBMIT, json=recorded("image-synthesis-nosse.request.body.json"))
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "AccessDenied"
    assert body["message"] == "current user api does not support synchronous calls"
    assert emu.counters["tasks_submitted"] == 0


def test_lifecycle_matches_recorded_shapes(client: httpx.Client, clock: Clock) -> None:
    task_id = submit(client)["output"]["task_id"]
    pending = client.get(f"/tasks/{task_id}").json()
    assert pending["output"]["task_status"] == "PENDING"
    clock.now += 0.1
    running = client.get(f"/tasks/{task_id}")
    assert running.headers["x-request-id"] == running.json()["request_id"]
    assert keys(running.json()) == keys(recorded("get-task-running-nosse.response.body.txt"))
    clock.now += 1
    done = client.get(f"/tasks/{task_id}").json()
    want = recorded("get-task-image-synthesis-success-nosse.response.body.txt")
    assert keys(done) == keys(want) and list(done["output"]) == list(want["output"])
    out = done["output"]
    assert out["task_status"] == "SUCCEEDED" and len(out["results"]) == 4
    assert out["task_metrics"] == {"TOTAL": 4, "SUCCEEDED": 4, "FAILED": 0}
    assert done["usage"] == {"image_count": 4}
    assert all(TIME.match(out[k]) for k in ("submit_time", "scheduled_time", "end_time"))
    assert out["submit_time"] < out["scheduled_time"] < out["end_time"]


def test_unknown_task_is_200_unknown(client: httpx.Client) -> None:
    response = client.get("/tasks/1111")
    assert response.status_code == 200
    body = response.json()
    assert body["output"] == {"task_id": "1111", "task_status": "UNKNOWN"}
    assert body["request_id"] == response.headers["x-request-id"]


def test_cancel_only_while_pending(client: httpx.Client, clock: Clock) -> None:
    first = submit(client)["output"]["task_id"]
    canceled = client.post(f"/tasks/{first}/cancel")
    assert canceled.status_code == 200 and canceled.json()["request_id"]
    assert client.get(f"/tasks/{first}").json()["output"]["task_status"] == "CANCELED"
    second = submit(client)["output"]["task_id"]
    clock.now += 0.1
    refused = client.post(f"/tasks/{second}/cancel")
    assert refused.status_code == 400 and refused.json()["code"] == "UnsupportedOperation"
    assert client.post("/tasks/nope/cancel").status_code == 400


def test_scripted_failure(client: httpx.Client, emu: Emulator, clock: Clock) -> None:
    emu.script.reply(
        "image_synthesis",
        code="DataInspectionFailed",
        message="Input data may contain inappropriate content.",
    )
    task_id = submit(client)["output"]["task_id"]
    clock.now += 5
    out = client.get(f"/tasks/{task_id}").json()["output"]
    assert out["task_status"] == "FAILED" and out["code"] == "DataInspectionFailed"
    assert out["message"].startswith("Input data") and "results" not in out


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"model": "wanx-v1", "input": {}}, 400, "InvalidParameter"),
        ({"input": {"prompt": "cat"}}, 400, "InvalidParameter"),
        ({"model": "qwen-nope", "input": {"prompt": "cat"}}, 404, "Model.NotExist"),
        (
            {"model": "wanx-v1", "input": {"prompt": "c"}, "parameters": {"n": 9}},
            400,
            "InvalidParameter",
        ),
        (
            {"model": "wanx-v1", "input": {"prompt": "c"}, "parameters": {"size": "big"}},
            400,
            "InvalidParameter",
        ),
    ],
)
def test_bad_submissions(
    client: httpx.Client, emu: Emulator, body: dict[str, Any], status: int, code: str
) -> None:
    response = client.post(SUBMIT, json=body, headers=ASYNC)
    assert response.status_code == status and response.json()["code"] == code
    assert emu.counters["tasks_submitted"] == 0


def test_list_pages_and_filters(client: httpx.Client, clock: Clock) -> None:
    ids = [
        submit(client, {"model": "wanx-v1", "input": {"prompt": f"p{i}"}})["output"]["task_id"]
        for i in range(3)
    ]
    other = submit(client, {"model": "flux-schnell", "input": {"prompt": "x"}})["output"]["task_id"]
    page = client.get("/tasks", params={"page_no": 1, "page_size": 3}).json()
    assert (page["total"], page["total_page"], page["page_no"], page["page_size"]) == (4, 2, 1, 3)
    assert [t["task_id"] for t in page["data"]] == [other, *ids[::-1][:2]]
    second = client.get("/tasks", params={"page_no": 2, "page_size": 3}).json()
    assert [t["task_id"] for t in second["data"]] == [ids[0]]
    flux = client.get("/tasks", params={"model_name": "flux-schnell"}).json()
    assert [t["task_id"] for t in flux["data"]] == [other] and flux["total"] == 1
    assert client.get("/tasks", params={"status": "SUCCEEDED"}).json()["total"] == 0
    assert client.get("/tasks", params={"page_size": 0}).status_code == 400


def _png_parts(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, width, height, idat = 8, 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + chunk) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert (depth, colour) == (8, 2)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_result_urls_serve_real_deterministic_pngs(client: httpx.Client, clock: Clock) -> None:
    body = {"model": "wanx-v1", "input": {"prompt": "a red fox"}, "parameters": {"n": 1}}
    task_id = submit(client, body)["output"]["task_id"]
    clock.now += 5
    url = client.get(f"/tasks/{task_id}").json()["output"]["results"][0]["url"]
    image = httpx.get(url)  # no Authorization: like a signed OSS link
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    width, height, pixels = _png_parts(image.content)
    assert len(pixels) == height * (1 + 3 * width)
    again = submit(client, body)["output"]["task_id"]
    clock.now += 5
    same = client.get(f"/tasks/{again}").json()["output"]["results"][0]["url"]
    assert same == url
    other = submit(client, {**body, "input": {"prompt": "a blue whale"}})["output"]["task_id"]
    clock.now += 5
    other_url = client.get(f"/tasks/{other}").json()["output"]["results"][0]["url"]
    assert _png_parts(httpx.get(other_url).content)[2] != pixels
    assert client.get("/outputs/nothing.gif").status_code == 404


def test_faults_and_counters(client: httpx.Client, emu: Emulator) -> None:
    body = recorded("image-synthesis-nosse.request.body.json")
    emu.faults.queue("throttle", route="image_synthesis")
    assert client.post(SUBMIT, json=body, headers=ASYNC).status_code == 429
    assert emu.counters["tasks_submitted"] == 0
    after_handler_faults(emu).queue("error_after_handler", route="image_synthesis")
    failed = client.post(SUBMIT, json=body, headers=ASYNC)
    assert failed.status_code == 500 and failed.json()["code"] == "InternalError"
    assert emu.counters["tasks_submitted"] == 1
    assert client.get("/tasks").json()["total"] == 1


@pytest.fixture
async def asgi() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(Emulator(seed=5)))
    base = "http://emulator.test/api/v1"
    headers = {"Authorization": "Bearer sk-test", **ASYNC}
    async with httpx.AsyncClient(transport=transport, base_url=base, headers=headers) as http:
        yield http


async def test_in_process_submit_and_get(asgi: httpx.AsyncClient) -> None:
    body = {"model": "wanx-v1", "input": {"prompt": "async cat"}, "parameters": {"n": 2}}
    task = (await asgi.post(SUBMIT, json=body)).json()["output"]
    got = (await asgi.get(f"/tasks/{task['task_id']}")).json()["output"]
    assert got["task_id"] == task["task_id"] and got["task_status"] in ("PENDING", "RUNNING")
    assert got["task_metrics"]["TOTAL"] == 2
