"""Batch request bodies from the arguments of real-time calls (pure).

``chat_completion_body`` takes ``client.generation.call``'s arguments, checks them with the same
code (bad ones raise ``ValueError``/``TypeError`` before anything is written), and converts the
native request into the OpenAI-compatible chat-completions body a batch line carries: native
content parts (``{"text"}``, ``{"image"}``, ``{"video"}``, ``{"audio"}``) become OpenAI parts,
``parameters`` move to the top level, ``result_format``/``incremental_output`` go away.
``embedding_bodies`` does the same for ``client.embeddings.call``: one body per group of texts
the model accepts in one request (10 for text-embedding-v3/v4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashscope_core.resources.embeddings import build_calls
from dashscope_core.resources.generation import build_call

__all__ = ["chat_completion_body", "embedding_bodies"]

_NATIVE_ONLY = frozenset({"result_format", "incremental_output"})


def _part(part: Any) -> Any:
    if not isinstance(part, Mapping):
        return part
    extra = {k: v for k, v in part.items() if k == "cache_control"}
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"], **extra}
    if "image" in part:
        return {"type": "image_url", "image_url": {"url": part["image"]}, **extra}
    if isinstance(part.get("video"), list):
        return {"type": "video", "video": part["video"], **extra}
    if "video" in part:
        return {"type": "video_url", "video_url": {"url": part["video"]}, **extra}
    if "audio" in part:
        return {"type": "input_audio", "input_audio": {"data": part["audio"]}, **extra}
    return dict(part)  # a part this module does not know (doc_url, ...) goes as is


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        return {**message, "content": [_part(p) for p in content]}
    return dict(message)


def chat_completion_body(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: str | Mapping[str, Any] | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """The chat-completions body (for ``client.batches.submit``) of the generation call with
    these arguments; checked like ``client.generation.call``."""
    parameters.pop("result_format", None)
    native = build_call(model=model, messages=messages, tools=tools, tool_choice=tool_choice,
                        result_format="message", **parameters).json  # fmt: skip
    params = {k: v for k, v in native["parameters"].items() if k not in _NATIVE_ONLY}
    wire = [_message(m) for m in native["input"]["messages"]]
    return {"model": model, "messages": wire, **params}


def embedding_bodies(
    *, model: str, texts: Sequence[str], dimension: int | None = None,
    batch_size: int | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """The embeddings bodies (for ``client.batches.submit(..., endpoint="/v1/embeddings")``)
    of these texts: one per group the model takes in a request, in order; checked like
    ``client.embeddings.call``."""
    specs = build_calls(model=model, texts=texts, dimension=dimension, batch_size=batch_size)
    extra = {"dimensions": dimension} if dimension is not None else {}
    return [{"model": model, "input": spec.json["input"]["texts"], "encoding_format": "float",
             **extra} for spec in specs]  # fmt: skip
