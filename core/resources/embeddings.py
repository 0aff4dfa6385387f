"""Text embeddings: ``client.embeddings.call(model=..., texts=[...])``.

Long inputs are split into batches of the server's per-call limit (PROTOCOL.md "Embeddings":
10 texts for text-embedding-v3/v4, 25 for v1/v2) and merged back in input order, ``text_index``
renumbered to the global position and usage summed. The async twin sends up to
``MAX_CONCURRENCY`` batches at once.

``batch`` submits DashScope's async batch embedding task (same path, ``X-DashScope-Async:
enable``, ``input.url``: a text file with one text per line); ``client.tasks.wait(task)`` then
returns the finished task whose ``output.url`` is the result file.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.errors import APIResponseValidationError
from dashscope_core.profiles import get_profile
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace, bounded_gather
from dashscope_core.resources._generation_checks import check_model
from dashscope_core.resources.tasks import build_submit, parse_task
from dashscope_core.types.embeddings import EmbeddingResponse, EmbeddingUsage
from dashscope_core.types.tasks import Task

__all__ = [
    "EMBEDDINGS_PATH",
    "MAX_CONCURRENCY",
    "AsyncEmbeddings",
    "Embeddings",
    "batch_limit",
    "build_batch",
    "build_calls",
    "merge_responses",
    "parse_call",
]

EMBEDDINGS_PATH = "/services/embeddings/text-embedding/text-embedding"
MAX_CONCURRENCY = 4
_DEFAULT_LIMIT = 10
_TEXT_TYPES = ("query", "document")


def batch_limit(model: str) -> int:
    """Texts per request the server accepts for ``model`` (its profile; 10 when unknown)."""
    return get_profile(model).max_inputs or _DEFAULT_LIMIT


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts: expected a list of strings, got a single str (use texts=[text])")
    if not isinstance(texts, Sequence):
        raise TypeError(f"texts: expected a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ValueError("texts: must not be empty")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}]: expected a string, got {type(text).__name__}")
        if not text:
            raise ValueError(f"texts[{i}]: must not be empty")
    return list(texts)


def _check_options(text_type: Any, dimension: Any, output_type: Any, batch_size: Any) -> None:
    if text_type is not None and text_type not in _TEXT_TYPES:
        raise ValueError(f"text_type: expected 'query' or 'document', got {text_type!r}")
    for name, value in (("dimension", dimension), ("batch_size", batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):  # fmt: skip
            raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    if output_type is not None and not isinstance(output_type, str):
        raise TypeError(f"output_type: expected a string, got {type(output_type).__name__}")


def build_calls(
    *,
    model: str,
    texts: Sequence[str],
    text_type: str | None = None,
    dimension: int | None = None,
    output_type: str | None = None,
    batch_size: int | None = None,
    **parameters: Any,
) -> list[RequestSpec]:
    """One request per batch of ``texts``; bad arguments raise here."""
    check_model(model)
    items = _check_texts(texts)
    _check_options(text_type, dimension, output_type, batch_size)
    params = {k: v for k, v in parameters.items() if v is not None}
    params.update(text_type=text_type, dimension=dimension, output_type=output_type)
    params = {k: v for k, v in params.items() if v is not None}
    size = batch_size or batch_limit(model)
    bodies = [
        {"model": model, "input": {"texts": items[i : i + size]}, "parameters": params}
        for i in range(0, len(items), size)
    ]
    return [RequestSpec("POST", EMBEDDINGS_PATH, json=body) for body in bodies]


def build_batch(
    *, model: str, url: str, text_type: str | None = None, **parameters: Any
) -> RequestSpec:
    """The async batch task for the texts in the file at ``url``; bad arguments raise here."""
    check_model(model)
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
        raise ValueError(f"url: expected an http(s) URL of a text file (one text per line), "
                         f"got {url!r}")  # fmt: skip
    _check_options(text_type, parameters.get("dimension"), None, None)
    params = {k: v for k, v in {**parameters, "text_type": text_type}.items() if v is not None}
    return build_submit(EMBEDDINGS_PATH, model=model, input={"url": url}, parameters=params)


@response_parser
def parse_call(raw: RawResponse) -> EmbeddingResponse:
    """Parse one embeddings answer."""
    return EmbeddingResponse.model_validate_json(raw.content)


def merge_responses(
    responses: Sequence[EmbeddingResponse], specs: Sequence[RequestSpec]
) -> EmbeddingResponse:
    """Merge per-batch answers in order; a batch with missing vectors raises."""
    offset = 0
    vectors = []
    total: int | None = None
    for response, spec in zip(responses, specs, strict=True):
        sent = len(spec.json["input"]["texts"])
        got = response.output.embeddings
        if len(got) != sent:
            raise APIResponseValidationError(
                f"sent {sent} texts but got {len(got)} embeddings",
                status_code=200,
                request_id=response.request_id,
            )
        for item in got:
            item.text_index += offset
        vectors.extend(got)
        offset += sent
        if response.usage.total_tokens is not None:
            total = (total or 0) + response.usage.total_tokens
    if len(responses) == 1:
        return responses[0]
    merged = responses[0].model_copy()
    merged.output = responses[0].output.model_copy(update={"embeddings": vectors})
    merged.usage = EmbeddingUsage(total_tokens=total)
    return merged


class Embeddings(SyncNamespace):
    """Text embeddings."""

    def call(
        self,
        *,
        model: str,
        texts: Sequence[str],
        text_type: str | None = None,
        dimension: int | None = None,
        output_type: str | None = None,
        batch_size: int | None = None,
        **parameters: Any,
    ) -> EmbeddingResponse:
        """Embed ``texts`` (split into batches as needed); vectors come back in input order."""
        specs = build_calls(model=model, texts=texts, text_type=text_type,
                            dimension=dimension, output_type=output_type,
                            batch_size=batch_size, **parameters)  # fmt: skip
        return merge_responses([parse_call(self._client._send(s)) for s in specs], specs)

    def batch(self, *, model: str, url: str, text_type: str | None = None,
              **parameters: Any) -> Task:  # fmt: skip
        """Submit a batch embedding task (PENDING); ``client.tasks.wait`` it for ``output.url``."""
        spec = build_batch(model=model, url=url, text_type=text_type, **parameters)
        return parse_task(self._client._send(spec))


class AsyncEmbeddings(AsyncNamespace):
    """Text embeddings (async; batches are sent concurrently)."""

    async def call(
        self,
        *,
        model: str,
        texts: Sequence[str],
        text_type: str | None = None,
        dimension: int | None = None,
        output_type: str | None = None,
        batch_size: int | None = None,
        **parameters: Any,
    ) -> EmbeddingResponse:
        """Embed ``texts`` (split into batches as needed); vectors come back in input order."""
        specs = build_calls(model=model, texts=texts, text_type=text_type,
                            dimension=dimension, output_type=output_type,
                            batch_size=batch_size, **parameters)  # fmt: skip
        raws = await bounded_gather(self._client._send, specs, MAX_CONCURRENCY)
        return merge_responses([parse_call(raw) for raw in raws], specs)

    async def batch(self, *, model: str, url: str, text_type: str | None = None,
                    **parameters: Any) -> Task:  # fmt: skip
        """Submit a batch embedding task (PENDING); ``client.tasks.wait`` it for ``output.url``."""
        spec = build_batch(model=model, url=url, text_type=text_type, **parameters)
        return parse_task(await self._client._send(spec))
