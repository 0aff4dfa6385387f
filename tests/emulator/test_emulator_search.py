"""The emulator's ``enable_search``: search_info, [ref_N] markers, usage.plugins, streams."""

from __future__ import annotations

import json
from typing import Any

import httpx

PATH = "/services/aigc/text-generation/generation"


def _body(**options: Any) -> dict[str, Any]:
    return {"model": "qwen-plus",
            "input": {"messages": [{"role": "user", "content": "Latest news about Mars?"}]},
            "parameters": {"result_format": "message", "enable_search": True,
                           "search_options": options}}  # fmt: skip


def test_sources_and_citations(client: httpx.Client) -> None:
    body = client.post(PATH, json=_body(enable_source=True, enable_citation=True)).json()
    results = body["output"]["search_info"]["search_results"]
    assert [r["index"] for r in results] == [1, 2, 3]
    assert set(results[0]) == {"index", "title", "url", "site_name", "icon"}
    text = body["output"]["choices"][0]["message"]["content"]
    assert "[ref_1]" in text and "[ref_2]" in text
    assert body["usage"]["plugins"] == {"search": {"count": 1, "strategy": "turbo"}}


def test_no_sources_no_markers(client: httpx.Client) -> None:
    body = client.post(PATH, json=_body()).json()
    assert "search_info" not in body["output"]
    assert "[ref_" not in body["output"]["choices"][0]["message"]["content"]


def test_stream_prepends_results_and_repeats_them(client: httpx.Client) -> None:
    payload = _body(enable_source=True, prepend_search_result=True)
    payload["parameters"]["incremental_output"] = True
    response = client.post(PATH, json=payload, headers={"X-DashScope-SSE": "enable"})
    frames = [json.loads(line[5:]) for line in response.text.splitlines()
              if line.startswith("data:")]  # fmt: skip
    assert frames[0]["output"]["choices"][0]["message"]["content"] == ""
    assert all("search_info" in f["output"] for f in frames)
    assert frames[-1]["output"]["choices"][0]["finish_reason"] == "stop"
