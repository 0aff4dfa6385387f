"""Image edit and video synthesis tasks over raw HTTP: refusals, timelines, outputs, recordings."""

from __future__ import annotations

import json
import struct
from typing import Any

import httpx
import pytest
from _recorded import EXTRA, recording_text
from emulator_helpers import covers, shape

from dashscope_core.emulator import Emulator
from dashscope_core.emulator.mp4 import FPS, make_mp4
from dashscope_core.emulator.png import PNG_SIGNATURE

EDIT = "/services/aigc/image2image/image-synthesis"
VIDEO = "/services/aigc/video-generation/video-synthesis"
KEYFRAMES = "/services/aigc/image2video/video-synthesis"
T2I = "/services/aigc/text2image/image-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}
IMG = "https://example.com/in.png"


def _edit(function: str = "stylization_all", **params: Any) -> dict[str, Any]:
    inputs = {"function": function, "prompt": "make it warm", "base_image_url": IMG}
    return {"model": "wanx2.1-imageedit", "input": inputs, "parameters": params}


def _video(model: str = "wan2.2-t2v-plus", **params: Any) -> dict[str, Any]:
    return {"model": model, "input": {"prompt": "a cat runs"}, "parameters": params}


def _finished(client: httpx.Client, emu: Emulator, submit: httpx.Response) -> dict[str, Any]:
    assert submit.status_code == 200, submit.text
    emu.clock.advance(3600)  # jump past the task's timeline
    body: dict[str, Any] = client.get(f"/tasks/{submit.json()['output']['task_id']}").json()
    return body


@pytest.mark.parametrize(
    ("path", "payload", "status", "code", "mention"),
    [
        (EDIT, _edit(), 403, "AccessDenied", "synchronous"),
        (EDIT, {**_edit(), "input": None}, 400, "BadRequest.EmptyInput", "input"),
        (EDIT, _edit("paint"), 400, "InvalidParameter", "input.function"),
        (EDIT, _edit("description_edit_with_mask"), 400, "InvalidParameter", "mask_image_url"),
        (EDIT, {**_edit(), "input": {"function": "expand", "prompt": "x"}}, 400,
         "InvalidParameter", "base_image_url"),
        (EDIT, {**_edit(), "input": {"function": "expand", "prompt": "x",
                                     "base_image_url": "/tmp/a.png"}}, 400,
         "InvalidParameter", "base_image_url"),
        (EDIT, _edit(n=5), 400, "InvalidParameter", "parameters.n"),
        (EDIT, _edit(strength=1.5), 400, "InvalidParameter", "parameters.strength"),
        (EDIT, _edit("expand", top_scale=3), 400, "InvalidParameter", "top_scale"),
        (EDIT, _edit("super_resolution", upscale_factor=8), 400, "InvalidParameter", "upscale"),
        (EDIT, _edit(seed=-1), 400, "InvalidParameter", "parameters.seed"),
        (EDIT, {**_edit(), "model": "wan2.2-t2v-plus"}, 400, "InvalidParameter", "url error"),
        (EDIT, {**_edit(), "model": "qwen-plus"}, 404, "Model.NotExist", "not exist"),
        (EDIT, {"model": "wan2.5-i2i-preview", "input": {"prompt": "x", "images": []}}, 400,
         "InvalidParameter", "input.images"),
        (VIDEO, {**_video(), "input": {}}, 400, "InvalidParameter", "input.prompt"),
        (VIDEO, {**_video(), "input": {"prompt": "x" * 801}}, 400, "InvalidParameter", "800"),
        (VIDEO, _video(duration=0), 400, "InvalidParameter", "parameters.duration"),
        (VIDEO, _video(duration=5.5), 400, "InvalidParameter", "parameters.duration"),
        (VIDEO, _video(size="1280x720"), 400, "InvalidParameter", "parameters.size"),
        (VIDEO, _video(resolution="4K"), 400, "InvalidParameter", "parameters.resolution"),
        (VIDEO, _video(prompt_extend="yes"), 400, "InvalidParameter", "prompt_extend"),
        (VIDEO, _video("wanx2.1-i2v-turbo"), 400, "InvalidParameter", "input.img_url"),
        (VIDEO, _video("wanx2.1-t2i-turbo"), 400, "InvalidParameter", "url error"),
        (KEYFRAMES, _video("wan2.2-t2v-plus"), 400, "InvalidParameter", "url error"),
        (KEYFRAMES, _video("wanx2.1-kf2v-plus"), 400, "InvalidParameter", "first_frame_url"),
        (T2I, {**_edit(), "input": {"prompt": "x"}}, 400, "InvalidParameter", "url error"),
    ],
)  # fmt: skip
def test_refusals(
    client: httpx.Client, emu: Emulator, path: str, payload: Any, status: int, code: str,
    mention: str,
) -> None:  # fmt: skip
    headers = {} if code == "AccessDenied" else ASYNC
    response = client.post(path, json=payload, headers=headers)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and mention in body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert emu.counters["tasks_submitted"] == 0


def test_image_edit_task_lifecycle_and_pngs(client: httpx.Client, emu: Emulator) -> None:
    submit = client.post(EDIT, json=_edit("description_edit", n=3, seed=7), headers=ASYNC)
    pending = submit.json()
    assert pending["output"]["task_status"] == "PENDING" and pending["request_id"]
    early = client.get(f"/tasks/{pending['output']['task_id']}").json()["output"]
    assert early["task_status"] in ("PENDING", "RUNNING") and "results" not in early
    done = _finished(client, emu, submit)
    out = done["output"]
    assert out["task_status"] == "SUCCEEDED" and done["usage"] == {"image_count": 3}
    assert out["task_metrics"] == {"TOTAL": 3, "SUCCEEDED": 3, "FAILED": 0}
    urls = [r["url"] for r in out["results"]]
    assert len(set(urls)) == 3
    image = httpx.get(urls[0])  # no Authorization: like the service's signed result links
    assert image.headers["content-type"] == "image/png" and image.content.startswith(PNG_SIGNATURE)
    again = _finished(client, emu, client.post(EDIT, json=_edit("description_edit", n=3, seed=7),
                                                headers=ASYNC))  # fmt: skip
    assert [r["url"] for r in again["output"]["results"]] == urls  # deterministic


def test_wan25_i2i_and_defaults(client: httpx.Client, emu: Emulator) -> None:
    payload = {"model": "wan2.5-i2i-preview", "input": {"prompt": "merge", "images": [IMG, IMG]}}
    done = _finished(client, emu, client.post(EDIT, json=payload, headers=ASYNC))
    assert len(done["output"]["results"]) == 4  # n defaults to 4 here, to 1 for wanx2.1-imageedit
    single = _finished(client, emu, client.post(EDIT, json=_edit(), headers=ASYNC))
    assert len(single["output"]["results"]) == 1


def test_scripted_failure(client: httpx.Client, emu: Emulator) -> None:
    emu.script.reply("image_edit", code="InvalidURL", message="Download the media resource failed.")
    out = _finished(client, emu, client.post(EDIT, json=_edit(), headers=ASYNC))["output"]
    assert (out["task_status"], out["code"]) == ("FAILED", "InvalidURL")
    assert out["task_metrics"]["FAILED"] == 1 and "results" not in out


def _boxes(data: bytes) -> dict[bytes, bytes]:
    """Top-level and nested MP4 boxes by type (the first of each type)."""
    found: dict[bytes, bytes] = {}
    containers = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}

    def walk(chunk: bytes) -> None:
        at = 0
        while at + 8 <= len(chunk):
            size, kind = struct.unpack(">I4s", chunk[at : at + 8])
            assert size >= 8 and at + size <= len(chunk), kind
            found.setdefault(kind, chunk[at + 8 : at + size])
            if kind in containers:
                walk(chunk[at + 8 : at + size])
            at += size
        assert at == len(chunk)

    walk(data)
    return found


@pytest.mark.parametrize(("model", "params", "seconds", "ratio"), [
    ("wan2.2-t2v-plus", {}, 5, "1280*720"),
    ("wan2.2-t2v-plus", {"size": "832*480", "duration": 3}, 3, "832*480"),
    ("wanx2.1-t2v-turbo", {"size": "960*960", "prompt_extend": False}, 5, "960*960"),
])  # fmt: skip
def test_text_to_video(
    client: httpx.Client, emu: Emulator, model: str, params: dict[str, Any], seconds: int,
    ratio: str,
) -> None:  # fmt: skip
    done = _finished(client, emu, client.post(VIDEO, json=_video(model, **params), headers=ASYNC))
    out = done["output"]
    assert out["task_status"] == "SUCCEEDED" and "task_metrics" not in out and "results" not in out
    assert done["usage"] == {"video_duration": seconds, "video_ratio": ratio, "video_count": 1}
    assert out["orig_prompt"] == "a cat runs"
    assert ("actual_prompt" in out) is (params.get("prompt_extend") is not False)
    video = httpx.get(out["video_url"])
    assert video.headers["content-type"] == "video/mp4"
    boxes = _boxes(video.content)
    assert video.content[4:8] == b"ftyp" and b"avcC" in boxes[b"stsd"] and b"mdat" in boxes
    timescale, duration = struct.unpack(">II", boxes[b"mvhd"][12:20])
    assert duration / timescale == seconds
    width, height = struct.unpack(">II", boxes[b"tkhd"][-8:])
    w, h = map(int, ratio.split("*"))
    assert abs((width >> 16) / (height >> 16) - w / h) < 0.35  # the aspect ratio, roughly
    frames = struct.unpack(">I", boxes[b"stsz"][8:12])[0]
    assert frames == seconds * FPS


def test_image_to_video_inputs(client: httpx.Client, emu: Emulator) -> None:
    def video_url(path: str, payload: dict[str, Any]) -> str:
        done = _finished(client, emu, client.post(path, json=payload, headers=ASYNC))
        assert done["output"]["task_status"] == "SUCCEEDED", done
        url: str = done["output"]["video_url"]
        return url

    i2v = {"model": "wanx2.1-i2v-turbo", "input": {"img_url": IMG}}
    out = _finished(client, emu, client.post(VIDEO, json=i2v, headers=ASYNC))
    assert out["usage"]["video_ratio"] == "1280*720" and out["output"]["orig_prompt"] == ""
    low = _finished(
        client,
        emu,
        client.post(VIDEO, json={**i2v, "parameters": {"resolution": "480p"}}, headers=ASYNC),
    )
    assert low["usage"]["video_ratio"] == "832*480"
    assert video_url(
        VIDEO, {"model": "wan2.7-i2v", "input": {"media": [{"type": "first_frame", "url": IMG}]}}
    )
    kf_input = {"first_frame_url": IMG, "last_frame_url": IMG, "prompt": "go"}
    for path in (KEYFRAMES, VIDEO):  # the 2.x SDK sends keyframe models to video-generation
        assert video_url(path, {"model": "wanx2.1-kf2v-plus", "input": kf_input}).endswith(".mp4")


def test_make_mp4_rejects_bad_sizes() -> None:
    with pytest.raises(ValueError, match="width/height"):
        make_mp4(20, 16, 1, (1, 2, 3))
    with pytest.raises(ValueError, match="seconds"):
        make_mp4(16, 16, 0, (1, 2, 3))
    assert make_mp4(16, 16, 1, (1, 2, 3)) == make_mp4(16, 16, 1, (1, 2, 3))


def _recorded(name: str) -> Any:
    return json.loads(recording_text(f"{name}.response.body.txt", EXTRA))


def test_recorded_shapes(client: httpx.Client, emu: Emulator) -> None:
    submit = client.post(EDIT, json=_edit(), headers=ASYNC)
    covers(shape(submit.json()), shape(_recorded("image2image-synthesis-translation-nosse")))
    task_id = submit.json()["output"]["task_id"]
    _finished(client, emu, submit)
    refused = client.post(f"/tasks/{task_id}/cancel")
    assert refused.status_code == 400
    assert refused.json() | {"request_id": ""} == _recorded("cancel-completed-task-nosse") | {
        "request_id": ""
    }
    unknown = client.get("/tasks/1111").json()
    assert unknown | {"request_id": ""} == _recorded("get-task-unknown-nosse") | {"request_id": ""}
