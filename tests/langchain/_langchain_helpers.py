"""What several LangChain test modules share: two tools, a token recorder, one call in any mode."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.tools import tool

MODES = ["invoke", "ainvoke", "stream", "astream"]


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"{city}: sunny, 21 C"


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Tokens(BaseCallbackHandler):
    """Records the tokens ``on_llm_new_token`` reports."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.tokens.append(token)


def joined(chunks: Sequence[Any]) -> Any:
    """The chunks of a stream added up (``chunk + chunk``, as LangChain merges them)."""
    return sum(chunks[1:], start=chunks[0])


async def ask(runnable: Any, mode: str, value: Any, **kwargs: Any) -> Any:
    """``runnable`` called on ``value`` in ``mode`` (one of ``MODES``); streams joined."""
    if mode == "invoke":
        return runnable.invoke(value, **kwargs)
    if mode == "ainvoke":
        return await runnable.ainvoke(value, **kwargs)
    if mode == "stream":
        return joined(list(runnable.stream(value, **kwargs)))
    return joined([c async for c in runnable.astream(value, **kwargs)])
