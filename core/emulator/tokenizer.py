"""The tokenizer: ``POST /tokenizer`` (recorded ``tokenization-nosse``).

Same envelope as generation (``model``, ``input.messages`` or ``input.prompt``, ``parameters``);
answers ``{"output": {"token_ids", "tokens"}, "usage": {"input_tokens"}}``. Tokens are the
emulator's token units (``_text.units``: a CJK character or a run of other non-space
characters), the same units its generation ``usage`` counts, and each id is a stable hash of
its unit, so the same text always gets the same ids. The model must be a generation model of
the profile table (else 404 ``Model.NotExist``).
"""

from __future__ import annotations

from typing import Any

from dashscope_core.emulator import _text as tx
from dashscope_core.emulator._genrules import check_model
from dashscope_core.emulator.routing import ApiError, JSONResponse, Request, Response, Route
from dashscope_core.emulator.state import Emulator
from dashscope_core.profiles import get_profile

__all__ = ["PATH", "ROUTES", "handle", "token_id"]

PATH = "/tokenizer"
VOCABULARY = 151_643
"""Ids are below this (the size of Qwen's regular vocabulary)."""


def token_id(unit: str) -> int:
    """The id of one token unit (stable across processes)."""
    return tx.stable_hash("token", unit) % VOCABULARY


def _text(body: Any) -> str:
    inp = body.get("input") if isinstance(body, dict) else None
    if not isinstance(inp, dict):
        raise ApiError(400, "BadRequest.EmptyInput", 'Required parameter "input" missing.')
    messages = inp.get("messages")
    if isinstance(messages, list) and messages:
        return "\n".join(tx.content_text(m.get("content")) for m in messages if isinstance(m, dict))
    prompt = inp.get("prompt")
    if isinstance(prompt, str) and prompt:
        return prompt
    raise ApiError(400, "InvalidParameter", 'Either "input.messages" or "input.prompt" must be '
                   "provided.")  # fmt: skip


async def handle(request: Request, emulator: Emulator) -> Response:
    """Tokenize the prompt or messages of a generation-shaped body."""
    body = request.json
    model = body.get("model") if isinstance(body, dict) else None
    if not isinstance(model, str) or not model.strip():
        raise ApiError(400, "InvalidParameter", 'Required parameter "model" missing from request.')
    check_model(model, kind="chat", endpoint=get_profile(model).endpoint)
    tokens = [u for u in tx.units(_text(body)) if u.strip()]
    output = {"token_ids": [token_id(u) for u in tokens], "tokens": tokens}
    usage = {"input_tokens": len(tokens)}
    return JSONResponse({"output": output, "usage": usage, "request_id": request.request_id})


ROUTES = [Route("POST", PATH, handle, kind="tokenizer")]
