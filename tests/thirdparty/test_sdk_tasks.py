"""The official SDK's async-task calls against the emulator: text-to-image, image edit, video
synthesis (1.x ``ImageSynthesis`` / ``VideoSynthesis``, 2.x ``Client.images`` / ``.videos``),
and the task API (fetch, wait, cancel, list); result URLs serve a real PNG / MP4."""

from __future__ import annotations

from http import HTTPStatus

import httpx
import pytest

from dashscope_core.emulator import Emulator
from dashscope_core.emulator.png import PNG_SIGNATURE

dashscope = pytest.importorskip("dashscope")

IMAGE = "https://example.com/input.png"


def _download(url: str) -> httpx.Response:
    response = httpx.get(url)  # result links need no key, like the service's OSS links
    assert response.status_code == 200
    return response


def test_text_to_image_call(sdk: str) -> None:
    r = dashscope.ImageSynthesis.call(
        model="wanx2.1-t2i-turbo", prompt="a cat", n=2, size="512*512"
    )
    assert r.status_code == HTTPStatus.OK and r.output.task_status == "SUCCEEDED"
    assert len(r.output.results) == 2 and r.usage.image_count == 2
    assert _download(r.output.results[0].url).content.startswith(PNG_SIGNATURE)


def test_image_edit_call_goes_to_image2image(sdk: str, emu: Emulator) -> None:
    r = dashscope.ImageSynthesis.call(
        model="wanx2.1-imageedit",
        function="description_edit_with_mask",
        prompt="a ceramic rabbit holding a flower",
        base_image_url=IMAGE,
        mask_image_url="https://example.com/mask.png",
        n=1,
    )
    assert r.status_code == HTTPStatus.OK and r.output.task_status == "SUCCEEDED"
    (result,) = r.output.results
    response = _download(result.url)
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)
    (submit,) = emu.received("image_edit")
    assert submit.path == "/services/aigc/image2image/image-synthesis"
    assert submit.json["input"]["function"] == "description_edit_with_mask"
    assert r.output["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 1, "FAILED": 0}


def test_image_edit_refusals(sdk: str) -> None:
    missing_mask = dashscope.ImageSynthesis.async_call(
        model="wanx2.1-imageedit",
        function="description_edit_with_mask",
        prompt="x",
        base_image_url=IMAGE,
    )
    assert (missing_mask.status_code, missing_mask.code) == (400, "InvalidParameter")
    assert "mask_image_url" in missing_mask.message
    bad_function = dashscope.ImageSynthesis.async_call(
        model="wanx2.1-imageedit", function="paint", prompt="x", base_image_url=IMAGE
    )
    assert bad_function.status_code == 400 and "input.function" in bad_function.message
    too_many = dashscope.ImageSynthesis.async_call(
        model="wanx2.1-imageedit",
        function="stylization_all",
        prompt="x",
        base_image_url=IMAGE,
        n=5,
    )
    assert too_many.status_code == 400 and "parameters.n" in too_many.message


def test_async_call_fetch_wait_and_cancel(sdk: str) -> None:
    task = dashscope.ImageSynthesis.async_call(
        model="wanx2.1-imageedit", function="colorization", prompt="colour it", base_image_url=IMAGE
    )
    assert task.status_code == HTTPStatus.OK and task.output.task_status == "PENDING"
    fetched = dashscope.ImageSynthesis.fetch(task)
    assert fetched.output.task_id == task.output.task_id
    assert fetched.output.task_status in ("PENDING", "RUNNING", "SUCCEEDED")
    done = dashscope.ImageSynthesis.wait(task)
    assert done.output.task_status == "SUCCEEDED" and done.output.results[0].url
    late = dashscope.ImageSynthesis.cancel(task)
    assert (late.status_code, late.code) == (400, "UnsupportedOperation")


def test_failed_task_is_reported(sdk: str, emu: Emulator) -> None:
    message = "Input data may contain inappropriate content."
    emu.script.reply("video_synthesis", code="DataInspectionFailed", message=message)
    r = dashscope.VideoSynthesis.call(model="wan2.2-t2v-plus", prompt="something")
    assert r.output.task_status == "FAILED"
    assert (r.output.code, r.output.message) == ("DataInspectionFailed", message)


def test_text_to_video_call(sdk: str) -> None:
    r = dashscope.VideoSynthesis.call(
        model="wan2.2-t2v-plus", prompt="a kitten runs in the moonlight", size="832*480", duration=5
    )
    assert r.status_code == HTTPStatus.OK and r.output.task_status == "SUCCEEDED"
    assert r.output.video_url.endswith(".mp4")
    assert r.usage.video_duration == 5 and r.usage.video_ratio == "832*480"
    video = _download(r.output.video_url)
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp" and b"avc1" in video.content


def test_image_to_video_and_keyframes(sdk: str, emu: Emulator) -> None:
    r = dashscope.VideoSynthesis.call(
        model="wanx2.1-i2v-turbo", img_url=IMAGE, prompt="the cat jumps", resolution="480P"
    )
    assert r.output.task_status == "SUCCEEDED" and r.usage.video_ratio == "832*480"
    kf = dashscope.VideoSynthesis.call(
        model="wanx2.1-kf2v-plus",
        first_frame_url=IMAGE,
        last_frame_url="https://example.com/last.png",
        prompt="morph",
    )
    assert kf.output.task_status == "SUCCEEDED" and kf.output.video_url
    assert emu.received("video_synthesis")[-1].path == "/services/aigc/image2video/video-synthesis"
    missing = dashscope.VideoSynthesis.async_call(model="wanx2.1-i2v-turbo", prompt="no image")
    assert missing.status_code == 400 and "img_url" in missing.message


def test_task_list(sdk: str) -> None:
    dashscope.VideoSynthesis.async_call(model="wan2.2-t2v-plus", prompt="listed")
    page = dashscope.VideoSynthesis.list(page_size=5)
    assert page.status_code == HTTPStatus.OK
    assert page.output["data"][0]["model_name"] == "wan2.2-t2v-plus"


def test_client_images_and_videos(sdk: str) -> None:
    client = dashscope.Client(base_url=sdk)
    job = client.images.generate(model="wanx2.1-t2i-turbo", prompt="a dog", n=1, poll_interval=0.1)
    assert job.succeeded and len(job.image_urls) == 1
    assert _download(job.image_urls[0]).content.startswith(PNG_SIGNATURE)
    video = client.videos.generate(
        model="wanx2.1-i2v-plus", image_url=IMAGE, prompt="waves", poll_interval=0.1
    )
    assert video.succeeded and video.video_url and video.video_url.endswith(".mp4")
    pending = client.videos.jobs.create(model="wan2.2-t2v-plus", prompt="a slow one")
    assert client.videos.jobs.fetch(pending.job_id).job_id == pending.job_id
    assert client.videos.jobs.wait(pending, poll_interval=0.1).succeeded
    client.close()
