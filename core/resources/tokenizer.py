"""The service's tokenizer: ``client.tokenizer.tokenize(...)`` and ``.count(...)``.

``POST /tokenizer`` with the generation envelope (recorded ``tokenization-nosse``:
``{"model", "input": {"messages": [...]}, "parameters": {...}}``) answers the token ids the
model itself uses, so counts are exact for every model the service tokenizes (Qwen3.5 and
later have a new vocabulary; hosted DeepSeek/Kimi/GLM models have their own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashscope_core._protocol.request import RawResponse, RequestSpec, response_parser
from dashscope_core.resources._base import AsyncNamespace, SyncNamespace
from dashscope_core.resources._generation_checks import check_messages, check_model, check_prompt
from dashscope_core.types.tokenizer import TokenizationResponse

__all__ = ["TOKENIZER_PATH", "AsyncTokenizer", "Tokenizer", "build_tokenize", "parse_tokenize"]

TOKENIZER_PATH = "/tokenizer"


def build_tokenize(
    *,
    model: str,
    messages: Sequence[Mapping[str, Any]] | None = None,
    prompt: str | None = None,
    **parameters: Any,
) -> RequestSpec:
    """The tokenizer request for ``messages`` or ``prompt``; bad arguments raise here."""
    check_model(model)
    if (messages is None) == (prompt is None):
        raise ValueError("messages/prompt: pass exactly one of messages= or prompt=")
    if prompt is not None:
        check_prompt(prompt)
        inp: dict[str, Any] = {"prompt": prompt}
    else:
        inp = {"messages": check_messages(messages)[0]}
    params = {k: v for k, v in parameters.items() if v is not None}
    return RequestSpec("POST", TOKENIZER_PATH,
                       json={"model": model, "input": inp, "parameters": params})  # fmt: skip


@response_parser
def parse_tokenize(raw: RawResponse) -> TokenizationResponse:
    """Parse a tokenizer answer."""
    return TokenizationResponse.model_validate_json(raw.content)


class Tokenizer(SyncNamespace):
    """The service's tokenizer."""

    def tokenize(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        **parameters: Any,
    ) -> TokenizationResponse:
        """Token ids (``.token_ids``) and count (``.count``) of ``messages`` or ``prompt``."""
        spec = build_tokenize(model=model, messages=messages, prompt=prompt, **parameters)
        return parse_tokenize(self._client._send(spec))

    def count(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
    ) -> int:
        """The number of tokens ``model`` reads for ``messages`` or ``prompt``."""
        return self.tokenize(model=model, messages=messages, prompt=prompt).count


class AsyncTokenizer(AsyncNamespace):
    """The service's tokenizer (async)."""

    async def tokenize(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
        **parameters: Any,
    ) -> TokenizationResponse:
        """Token ids (``.token_ids``) and count (``.count``) of ``messages`` or ``prompt``."""
        spec = build_tokenize(model=model, messages=messages, prompt=prompt, **parameters)
        return parse_tokenize(await self._client._send(spec))

    async def count(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]] | None = None,
        prompt: str | None = None,
    ) -> int:
        """The number of tokens ``model`` reads for ``messages`` or ``prompt``."""
        return (await self.tokenize(model=model, messages=messages, prompt=prompt)).count
