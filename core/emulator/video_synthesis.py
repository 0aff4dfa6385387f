"""Video synthesis as an async task: text-to-video, image-to-video and keyframes-to-video.

Rules of this module (the service's Wan video API references; the official SDK's
``VideoSynthesis``, which sends ``*kf2v*`` models to ``/services/aigc/image2video/...`` and the
rest to ``/services/aigc/video-generation/...``):
- The model's profile ``task`` decides its inputs: ``text2video`` needs ``input.prompt``;
  ``image2video`` needs ``input.img_url`` (or a ``first_frame`` item in ``input.media``);
  ``keyframes2video`` needs ``input.first_frame_url``. Prompts hold at most 800 characters.
  Keyframe models are also accepted on the video-generation route (the 2.x SDK sends every model
  there).
- Parameters: ``size`` ``width*height`` (default 1280*720), ``resolution`` 480P/720P/1080P,
  ``duration`` whole seconds 1..15 (default 5), ``seed`` 0..2147483647, ``prompt_extend`` and
  ``watermark`` booleans.
- A SUCCEEDED task carries ``output.video_url`` (a real H.264 MP4 of that duration and aspect
  ratio), ``orig_prompt``, ``actual_prompt`` when the prompt was extended (the default), and
  ``usage {video_duration, video_ratio, video_count}``; no ``results`` or ``task_metrics``.
"""

from __future__ import annotations

from typing import Any

from dashscope_core.emulator.image_edit import check_image_url
from dashscope_core.emulator.prediction_http import api_base
from dashscope_core.emulator.routing import Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.emulator.tasks import (
    TaskBody,
    accept_task,
    check_model,
    invalid,
    output_name,
    task_body,
)
from dashscope_core.profiles import get_profile

__all__ = ["KEYFRAMES_PATH", "PATH", "ROUTES"]

PATH = "/services/aigc/video-generation/video-synthesis"
KEYFRAMES_PATH = "/services/aigc/image2video/video-synthesis"
_RESOLUTIONS = {"480P": (832, 480), "720P": (1280, 720), "1080P": (1920, 1080)}
_EXTENSION = "，画面清晰，光影自然，镜头平稳推进，细节丰富。"


def _first_frame(body: TaskBody) -> Any:
    media = body.input.get("media")
    if isinstance(media, list):
        for item in media:
            if isinstance(item, dict) and item.get("type") == "first_frame":
                return item.get("url")
    return body.input.get("img_url")


def _check_inputs(body: TaskBody) -> str:
    """The prompt ("" when optional and absent), after the model's required inputs."""
    task = get_profile(body.model).task
    if task == "keyframes2video":
        check_image_url(body.input.get("first_frame_url"), "input.first_frame_url")
        if body.input.get("last_frame_url") is not None:
            check_image_url(body.input.get("last_frame_url"), "input.last_frame_url")
    elif task == "image2video":
        check_image_url(_first_frame(body), "input.img_url")
    prompt_required = task == "text2video"
    return body.text("prompt", required=prompt_required, limit=800) or ""


def _frame_size(body: TaskBody) -> tuple[int, int]:
    resolution = body.parameters.get("resolution")
    if resolution is None:
        return body.size("1280*720", 128, 4096)
    if not isinstance(resolution, str) or resolution.upper() not in _RESOLUTIONS:
        raise invalid(f"parameters.resolution: expected one of {', '.join(_RESOLUTIONS)}")
    return _RESOLUTIONS[resolution.upper()]


async def _submit(request: Request, emu: Emulator, *families: str) -> Response:
    body = task_body(request)
    check_model(body.model, *families)
    prompt = _check_inputs(body)
    width, height = _frame_size(body)
    seconds = body.integer("duration", 5, 1, 15)
    body.integer("seed", 0, 0, 2147483647)
    extend = body.flag("prompt_extend") is not False
    body.flag("watermark")
    name = output_name(body.model, body.input, body.parameters.get("seed"))
    url = f"{api_base(request)}/outputs/{name}_{width}x{height}_{seconds}s.mp4"
    extra: dict[str, Any] = {"video_url": url, "orig_prompt": prompt}
    if extend and prompt:
        extra["actual_prompt"] = prompt + _EXTENSION
    usage = {"video_duration": seconds, "video_ratio": f"{width}*{height}", "video_count": 1}
    return accept_task(request, emu, body.model, [], usage, extra)


async def submit_video(request: Request, emu: Emulator) -> Response:
    """POST /services/aigc/video-generation/video-synthesis (``X-DashScope-Async: enable``)."""
    return await _submit(request, emu, "video", "image2video")


async def submit_keyframes_video(request: Request, emu: Emulator) -> Response:
    """POST /services/aigc/image2video/video-synthesis: first/last-frame (kf2v) models."""
    return await _submit(request, emu, "image2video")


ROUTES: list[Route] = [
    Route("POST", PATH, submit_video, "video_synthesis"),
    Route("POST", KEYFRAMES_PATH, submit_keyframes_video, "video_synthesis"),
]
