"""Our client on the emulator's image edit and video synthesis tasks (sync and async):
``tasks.submit`` / ``tasks.wait`` with the service's inputs, typed refusals and failures."""

from __future__ import annotations

import httpx
import pytest
from _gen_client import GenClient

from dashscope_core.emulator import Emulator
from dashscope_core.emulator.prediction_runs import state
from dashscope_core.errors import BadRequestError, NotFoundError, TaskFailedError

EDIT = "/services/aigc/image2image/image-synthesis"
VIDEO = "/services/aigc/video-generation/video-synthesis"
IMAGE = "https://example.com/in.png"


def test_image_edit_submit_and_wait(gen_ds: GenClient, gen_emu: Emulator) -> None:
    state(gen_emu).settings.time_scale = 0.0
    task = gen_ds.run(gen_ds.client.tasks.submit(
        EDIT, model="wanx2.1-imageedit",
        input={"function": "expand", "prompt": "wider", "base_image_url": IMAGE},
        parameters={"n": 2, "top_scale": 1.5, "bottom_scale": 1.5},
    ))  # fmt: skip
    assert task.status == "PENDING"
    done = gen_ds.run(gen_ds.client.tasks.wait(task, interval=0.01, timeout=10))
    assert done.status == "SUCCEEDED" and len(done.output.results or []) == 2
    with httpx.Client() as http:
        png = http.get(done.output.results[0].url).raise_for_status()
    assert png.headers["content-type"] == "image/png"
    (sent,) = gen_emu.received("image_edit")
    assert sent.headers["x-dashscope-async"] == "enable"
    assert sent.json["parameters"] == {"n": 2, "top_scale": 1.5, "bottom_scale": 1.5}


def test_video_submit_and_wait(gen_ds: GenClient, gen_emu: Emulator) -> None:
    state(gen_emu).settings.time_scale = 0.0
    task = gen_ds.run(gen_ds.client.tasks.submit(
        VIDEO, model="wanx2.1-i2v-plus", input={"img_url": IMAGE, "prompt": "waves"},
        parameters={"resolution": "720P", "duration": 4},
    ))  # fmt: skip
    done = gen_ds.run(gen_ds.client.tasks.wait(task, interval=0.01, timeout=10))
    assert done.status == "SUCCEEDED"
    video_url = done.output.model_extra["video_url"]
    assert video_url.endswith("_4s.mp4") and done.usage.model_extra["video_duration"] == 4
    with httpx.Client() as http:
        assert http.get(video_url).raise_for_status().content[4:8] == b"ftyp"


def test_refusals_and_failures_are_typed(gen_ds: GenClient, gen_emu: Emulator) -> None:
    state(gen_emu).settings.time_scale = 0.0
    with pytest.raises(BadRequestError) as bad:
        edit = {"function": "expand", "prompt": "x"}
        gen_ds.run(gen_ds.client.tasks.submit(EDIT, model="wanx2.1-imageedit", input=edit))
    assert bad.value.code == "InvalidParameter" and "base_image_url" in bad.value.message
    with pytest.raises(NotFoundError):
        gen_ds.run(gen_ds.client.tasks.submit(VIDEO, model="qwen-plus", input={"prompt": "x"}))
    gen_emu.script.reply("video_synthesis", code="DataInspectionFailed", message="Unsafe.")
    submit = gen_ds.client.tasks.submit(VIDEO, model="wan2.2-t2v-plus", input={"prompt": "x"})
    task = gen_ds.run(submit)
    with pytest.raises(TaskFailedError) as failed:
        gen_ds.run(gen_ds.client.tasks.wait(task, interval=0.01, timeout=10))
    assert failed.value.code == "DataInspectionFailed" and "Unsafe." in failed.value.message
