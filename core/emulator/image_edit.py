"""Image editing as an async task: ``POST /services/aigc/image2image/image-synthesis``.

Rules of this module (the service's "general image editing" API reference; cnblogs'
``image2image-synthesis-translation-nosse`` for the submit reply; the official SDK's
``ImageSynthesis``, which sends ``*imageedit*`` and ``wan2.5-i2i*`` models here):
- ``image_edit`` models (profile ``task``; ``wanx2.1-imageedit``): ``input.function`` (one of
  ``FUNCTIONS``), ``input.prompt`` and ``input.base_image_url`` are required;
  ``description_edit_with_mask`` also needs ``input.mask_image_url``. Parameters: ``n`` 1..4
  (default 1), ``seed`` 0..2147483647, ``strength`` 0..1,
  ``top_scale``/``bottom_scale``/``left_scale``/``right_scale`` 1..2, ``upscale_factor`` 1..4,
  ``is_sketch`` and ``watermark`` booleans.
- ``image2image`` models (``wan2.5-i2i-preview``): ``input.prompt`` and ``input.images`` (1 to 3
  image URLs) are required; ``n`` 1..4 (default 4), ``size`` ``width*height``.
- Image URLs are never fetched: any http(s), oss or ``data:image/...`` URL is accepted.
- The task ends like text-to-image: ``output.results[].url`` PNGs, ``usage.image_count``.
"""

from __future__ import annotations

from typing import Any

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

__all__ = ["FUNCTIONS", "PATH", "ROUTES", "check_image_url"]

PATH = "/services/aigc/image2image/image-synthesis"
FUNCTIONS = (
    "stylization_all",
    "stylization_local",
    "description_edit",
    "description_edit_with_mask",
    "remove_watermark",
    "expand",
    "super_resolution",
    "colorization",
    "doodle",
    "control_cartoon_feature",
)
_URL_SCHEMES = ("http://", "https://", "oss://", "data:image/")
_SEED_MAX = 2147483647


def check_image_url(value: Any, where: str) -> str:
    """``value`` as a media URL, else 400 naming ``where``."""
    if not isinstance(value, str) or not value.startswith(_URL_SCHEMES):
        raise invalid(f"{where}: expected an http(s), oss or data URL of the input file")
    return value


def _check_imageedit(body: TaskBody) -> int:
    function = body.input.get("function")
    if function not in FUNCTIONS:
        raise invalid(f"input.function: expected one of {', '.join(FUNCTIONS)}")
    body.text("prompt", required=True, limit=800)
    check_image_url(body.input.get("base_image_url"), "input.base_image_url")
    if function == "description_edit_with_mask":
        check_image_url(body.input.get("mask_image_url"), "input.mask_image_url")
    body.number("strength", 0.5, 0.0, 1.0)
    for side in ("top_scale", "bottom_scale", "left_scale", "right_scale"):
        body.number(side, 1.0, 1.0, 2.0)
    body.integer("upscale_factor", 1, 1, 4)
    body.flag("is_sketch")
    return body.integer("n", 1, 1, 4)


def _check_i2i(body: TaskBody) -> int:
    body.text("prompt", required=True, limit=2000)
    images = body.input.get("images")
    if not isinstance(images, list) or not 1 <= len(images) <= 3:
        raise invalid("input.images: expected a list of 1 to 3 image URLs")
    for i, url in enumerate(images):
        check_image_url(url, f"input.images[{i}]")
    body.size("1280*1280", 384, 5000)
    return body.integer("n", 4, 1, 4)


async def submit_image_edit(request: Request, emu: Emulator) -> Response:
    """POST /services/aigc/image2image/image-synthesis (``X-DashScope-Async: enable``)."""
    body = task_body(request)
    check_model(body.model, "image2image")
    n = _check_imageedit(body) if get_profile(body.model).task == "image_edit" else _check_i2i(body)
    body.integer("seed", 0, 0, _SEED_MAX)
    body.flag("watermark")
    key = (body.model, body.input, body.parameters.get("seed"))
    base = api_base(request)
    results = [{"url": f"{base}/outputs/{output_name(key, i)}.png"} for i in range(n)]
    return accept_task(request, emu, body.model, results, {"image_count": n})


ROUTES: list[Route] = [Route("POST", PATH, submit_image_edit, "image_edit")]
