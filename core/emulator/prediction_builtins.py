"""The emulator's built-in prediction models (owner ``emulator``), deployments and collections.

- ``emulator/hello-world``: text in, ``"hello {text}"`` out.
- ``emulator/image-maker``: an image model (enum scheduler via ``allOf $ref``, ``format: uri``
  image input, width/height bounds); outputs PNG file URLs served by the emulator.
- ``emulator/streaming-lm``: a language model whose output is an iterator of tokens.
- ``emulator/slow-counter``: counts to ``steps`` over ``seconds``, logging tqdm progress lines.
- ``emulator/always-fails``: logs a traceback and fails.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from dashscope_core.emulator.prediction_models import Plan, RunContext
from dashscope_core.emulator.prediction_schema import Prop, iterator_output

if TYPE_CHECKING:
    from dashscope_core.emulator.prediction_models import Registry

__all__ = ["SCHEDULERS", "install", "tqdm_line", "word_tokens"]

SCHEDULERS = ("DDIM", "K_EULER", "DPMSolverMultistep", "K_EULER_ANCESTRAL", "PNDM", "KLMS")
_TOKEN = re.compile(r"\s*\S+")
_BAR_WIDTH = 10


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"


def tqdm_line(done: int, total: int, seconds_per_step: float) -> str:
    """A tqdm progress line, e.g. `` 40%|████      | 2/5 [00:01<00:01, 2.00it/s]``."""
    filled = _BAR_WIDTH * done // total
    bar = "█" * filled + " " * (_BAR_WIDTH - filled)
    rate = 1.0 / seconds_per_step if seconds_per_step > 0 else 0.0
    elapsed, left = done * seconds_per_step, (total - done) * seconds_per_step
    timing = f"[{_clock(elapsed)}<{_clock(left)}, {rate:.2f}it/s]"
    return f"{100 * done // total:3d}%|{bar}| {done}/{total} {timing}"


def word_tokens(text: str) -> list[str]:
    """``text`` cut into tokens, leading whitespace (newlines too) kept with the next word."""
    return _TOKEN.findall(text)


def _hello(inputs: dict[str, Any], ctx: RunContext) -> Plan:
    return Plan(output=f"hello {inputs['text']}", logs=[f"prefixing {inputs['text']!r}"])


def _image(inputs: dict[str, Any], ctx: RunContext) -> Plan:
    seed = inputs.get("seed")
    if seed is None:
        seed = int(hashlib.sha256(ctx.run_id.encode()).hexdigest()[:6], 16)
    steps, count = int(inputs["num_inference_steps"]), int(inputs["num_outputs"])
    key = f"{inputs['prompt']}|{seed}|{inputs['width']}x{inputs['height']}|{inputs['scheduler']}"
    names = [hashlib.sha256(f"{key}|{i}".encode()).hexdigest()[:24] + ".png" for i in range(count)]
    logs = [f"Using seed: {seed}", *(tqdm_line(i, steps, 0.05) for i in range(steps + 1))]
    return Plan(output=[ctx.file_url(name) for name in names], logs=logs)


def _stream_lm(inputs: dict[str, Any], ctx: RunContext) -> Plan:
    prompt = str(inputs["prompt"])
    text = f"You asked: {prompt}\nHere is a streamed answer from the emulator, one token at a time."
    tokens = word_tokens(text)[: int(inputs["max_new_tokens"])]
    return Plan(tokens=tokens, logs=[f"Generating up to {inputs['max_new_tokens']} tokens"])


def _count(inputs: dict[str, Any], ctx: RunContext) -> Plan:
    steps, seconds = int(inputs["steps"]), float(inputs["seconds"])
    lines = [tqdm_line(i, steps, seconds / steps) for i in range(steps + 1)]
    return Plan(output=steps, logs=lines, duration=seconds)


def _fail(inputs: dict[str, Any], ctx: RunContext) -> Plan:
    message = str(inputs["message"])
    logs = ["Loading model...", "Traceback (most recent call last):", f"RuntimeError: {message}"]
    return Plan(logs=logs, error=message)


_PROMPT = Prop("prompt", description="Input prompt", required=True)
_SIZE: dict[str, Any] = {"type": "integer", "default": 512, "minimum": 64, "maximum": 1024}
_IMAGE_INPUTS = [
    _PROMPT,
    Prop("negative_prompt", description="Things you do not want to see", default=""),
    Prop("image", format="uri", description="Optional input image for img2img"),
    Prop("width", description="Width of the output image", **_SIZE),
    Prop("height", description="Height of the output image", **_SIZE),
    Prop("scheduler", enum=SCHEDULERS, default="K_EULER", description="Scheduler"),
    Prop("num_outputs", "integer", "Number of images", default=1, minimum=1, maximum=4),
    Prop("num_inference_steps", "integer", "Denoising steps", default=4, minimum=1, maximum=50),
    Prop("seed", "integer", "Random seed; leave blank to randomize"),
]
_LM_INPUTS = [
    _PROMPT,
    Prop("system_prompt", description="System prompt", default="You are a helpful assistant."),
    Prop(
        "max_new_tokens",
        "integer",
        "Maximum tokens to generate",
        default=128,
        minimum=1,
        maximum=4096,
    ),
    Prop("temperature", "number", "Sampling temperature", default=0.7, minimum=0.01, maximum=5),
]
_COUNTER_INPUTS = [
    Prop("steps", "integer", "How far to count", default=5, minimum=1, maximum=1000),
    Prop("seconds", "number", "How long the run takes", default=0.5, minimum=0, maximum=600),
]
_FILE_LIST = {"type": "array", "items": {"type": "string", "format": "uri"}}


def install(registry: Registry) -> None:
    """Register the built-in models, deployments and collections."""
    _install_models(registry)
    registry.register_deployment("emulator/hello-deployment", "emulator/hello-world")
    registry.register_deployment("emulator/image-deployment", "emulator/image-maker")
    registry.register_collection(
        "text-to-image", "Text to image", "Models that make images", ["emulator/image-maker"]
    )
    registry.register_collection(
        "language-models",
        "Language models",
        "Models that write text",
        ["emulator/streaming-lm", "emulator/hello-world"],
    )


def _install_models(registry: Registry) -> None:
    add = registry.register_model
    add(
        "emulator/hello-world",
        [Prop("text", description="Text to prefix with 'hello '", required=True)],
        _hello,
        description="A tiny model that says hello",
    )
    add(
        "emulator/image-maker",
        _IMAGE_INPUTS,
        _image,
        output=_FILE_LIST,
        description="Makes small deterministic PNG images from a prompt",
    )
    add(
        "emulator/streaming-lm",
        _LM_INPUTS,
        _stream_lm,
        output=iterator_output(),
        description="A language model that streams its answer token by token",
    )
    add(
        "emulator/slow-counter",
        _COUNTER_INPUTS,
        _count,
        output={"type": "integer"},
        description="Counts slowly and reports tqdm progress in its logs",
    )
    add(
        "emulator/always-fails",
        [Prop("message", description="The error to raise", default="emulated failure")],
        _fail,
        description="Fails every time",
    )
