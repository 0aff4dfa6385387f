"""What the rate-limit tests run in worker processes (a module, so ``spawn`` can import it)."""

from __future__ import annotations

import asyncio
from typing import Any

from dashscope_core import AsyncDashScope, RateLimit

MODEL = "qwen-plus"


def prompt(i: int) -> list[dict[str, str]]:
    """A user message of 10 to 90 words, different per call."""
    return [{"role": "user", "content": " ".join(["tell me about rate limits"] * (2 + i % 17))}]


def core_calls(
    base_url: str, api_key: str, rate_limit: RateLimit, calls: int, in_flight: int
) -> list[str]:
    """``calls`` generation calls (every third streamed), ``in_flight`` at a time: the errors."""

    async def main() -> list[str]:
        errors: list[str] = []
        queue = list(range(calls))
        async with AsyncDashScope(
            api_key=api_key, base_url=base_url, rate_limit=rate_limit, max_retries=0
        ) as client:

            async def worker() -> None:
                while queue:
                    i = queue.pop()
                    try:
                        if i % 3 == 0:
                            stream = client.generation.stream(model=MODEL, messages=prompt(i))
                            async for _ in stream:
                                pass
                        else:
                            await client.generation.call(model=MODEL, messages=prompt(i))
                    except Exception as exc:
                        errors.append(repr(exc))

            await asyncio.gather(*(worker() for _ in range(in_flight)))
        return errors

    return asyncio.run(main())


def model_calls(model: Any, calls: int) -> list[str]:
    """``calls`` invocations of a (pickled) LangChain chat model: the errors."""

    async def main() -> list[str]:
        results = await asyncio.gather(
            *(model.ainvoke(prompt(i)[0]["content"]) for i in range(calls)),
            return_exceptions=True,
        )
        return [repr(r) for r in results if isinstance(r, BaseException)]

    return asyncio.run(main())
