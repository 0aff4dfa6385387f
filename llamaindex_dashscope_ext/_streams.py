"""Generators that turn core chunks into LlamaIndex responses, one per twin (no logic of their own).

``ChatStream`` (``_convert``) does the merging; these loops only drive it sync or async.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from functools import partial
from typing import Any, TypeVar

from llama_index.core.base.llms.types import (
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
)
from llama_index.core.program.streaming_utils import process_streaming_content_incremental
from pydantic import BaseModel

from dashscope_core.types.generation import GenerationResponse
from llamaindex_dashscope_ext._convert import ChatStream

__all__ = [
    "achat_gen",
    "acompletion_gen",
    "aeach",
    "apartial_objects",
    "chat_gen",
    "completion_gen",
    "each",
    "partial_objects",
]

Model = TypeVar("Model", bound=BaseModel)
In = TypeVar("In")
Out = TypeVar("Out")


def each(items: Iterator[In], convert: Callable[[In], Out]) -> Generator[Out, None, None]:
    """``convert(item)`` for each item, lazily (the sync driver of a stream stage)."""
    for item in items:
        yield convert(item)


async def aeach(
    items: AsyncIterator[In], convert: Callable[[In], Out]
) -> AsyncGenerator[Out, None]:
    """Async ``each``."""
    async for item in items:
        yield convert(item)


def chat_gen(chunks: Iterator[GenerationResponse]) -> ChatResponseGen:
    """One ``ChatResponse`` per core chunk (message so far + delta)."""
    return each(chunks, ChatStream().feed)


def achat_gen(chunks: AsyncIterator[GenerationResponse]) -> ChatResponseAsyncGen:
    """Async ``chat_gen``."""
    return aeach(chunks, ChatStream().feed)


def _completion(stream: ChatStream, chunk: GenerationResponse) -> CompletionResponse:
    # what to_completion_response(stream.feed(chunk)) gives, without the chat message's models
    delta, kwargs, raw = stream.absorb(chunk)
    return CompletionResponse(text=stream.text, delta=delta, raw=raw, additional_kwargs=kwargs)


def completion_gen(chunks: Iterator[GenerationResponse]) -> CompletionResponseGen:
    """One ``CompletionResponse`` per core chunk (text so far + delta)."""
    return each(chunks, partial(_completion, ChatStream()))


def acompletion_gen(chunks: AsyncIterator[GenerationResponse]) -> CompletionResponseAsyncGen:
    """Async ``completion_gen``."""
    return aeach(chunks, partial(_completion, ChatStream()))


def partial_objects(
    responses: ChatResponseGen, output_cls: type[Model]
) -> Generator[Any, None, None]:
    """The partial ``output_cls`` object parsed so far, once per streamed response."""
    current = None
    for response in responses:
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current


async def apartial_objects(
    responses: ChatResponseAsyncGen, output_cls: type[Model]
) -> AsyncGenerator[Any, None]:
    """Async ``partial_objects``."""
    current = None
    async for response in responses:
        current = process_streaming_content_incremental(response, output_cls, current)
        yield current
