"""The emulator's explicit cache: four-marker limit, 20-part lookback, longest hit wins."""

from __future__ import annotations

from typing import Any

import httpx

PATH = "/services/aigc/text-generation/generation"
MARK = {"type": "ephemeral"}


def _block(n: int, marker: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"text": " ".join(f"w{n}x{i}" for i in range(600))}
    if marker:
        part["cache_control"] = MARK
    return part


def _call(client: httpx.Client, parts: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": parts}]},
            "parameters": {"result_format": "message"}}  # fmt: skip
    response = client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    details: dict[str, Any] = response.json()["usage"]["prompt_tokens_details"]
    return details


def test_more_than_four_markers_is_400(client: httpx.Client) -> None:
    parts = [_block(i, True) for i in range(5)]
    body = {"model": "qwen-plus", "input": {"messages": [{"role": "user", "content": parts}]}}
    response = client.post(PATH, json=body)
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"


def test_lookback_finds_an_earlier_prefix_and_longest_hit_wins(client: httpx.Client) -> None:
    first = _call(client, [_block(0, False), _block(1, True)])  # 3 + 1,200 tokens cached
    assert first["cache_creation_input_tokens"] == 1203
    later = _call(client, [_block(0, False), _block(1, False), _block(2, True)])
    assert later["cached_tokens"] == 1203  # found 1 part back from the marker
    assert later["cache_creation_input_tokens"] == 600
    again = _call(client, [_block(0, False), _block(1, False), _block(2, True)])
    assert again["cached_tokens"] == 1803 and again["cache_creation_input_tokens"] == 0
