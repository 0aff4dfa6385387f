"""Wire models of the tokenizer (``POST /tokenizer``, recorded ``tokenization-nosse``)."""

from __future__ import annotations

from pydantic import Field

from dashscope_core.types.common import WireModel, null_means_default

__all__ = ["TokenizationResponse", "TokenizerOutput", "TokenizerUsage"]


class TokenizerOutput(WireModel):
    """``output``: the token ids and their text pieces."""

    token_ids: list[int] = Field(default_factory=list)
    tokens: list[str] = Field(default_factory=list)

    _nulls = null_means_default("token_ids", "tokens")


class TokenizerUsage(WireModel):
    """``usage``: ``input_tokens`` is the count."""

    input_tokens: int | None = None


class TokenizationResponse(WireModel):
    """The service's tokenization of a prompt or messages for one model."""

    request_id: str | None = None
    output: TokenizerOutput = Field(default_factory=TokenizerOutput)
    usage: TokenizerUsage = Field(default_factory=TokenizerUsage)

    _nulls = null_means_default("output", "usage")

    @property
    def token_ids(self) -> list[int]:
        """The token ids."""
        return self.output.token_ids

    @property
    def count(self) -> int:
        """The number of tokens (``usage.input_tokens``, else the ids counted)."""
        tokens = self.usage.input_tokens
        return len(self.output.token_ids) if tokens is None else tokens
