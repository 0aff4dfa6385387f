"""Helpers shared by the emulator tests (plain httpx, no client library)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from dashscope_core._protocol.sse import SSEDecoder, SSEEvent

GEN = "/services/aigc/text-generation/generation"
EMB = "/services/embeddings/text-embedding/text-embedding"
SSE = {"X-DashScope-SSE": "enable"}


def body(
    content: str | None = "Hello there",
    *,
    model: str = "qwen-plus",
    messages: list[dict[str, Any]] | None = None,
    **parameters: Any,
) -> dict[str, Any]:
    """A generation request body with one user message (or ``messages``)."""
    msgs = messages if messages is not None else [{"role": "user", "content": content}]
    return {"model": model, "input": {"messages": msgs}, "parameters": parameters}


def decode(raw: bytes) -> list[SSEEvent]:
    """All SSE events of a complete body."""
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


def frames(response: httpx.Response) -> list[dict[str, Any]]:
    """The JSON data of every event of a streamed response."""
    return [json.loads(e.data) for e in decode(response.content)]


def stream_text(chunks: list[dict[str, Any]], incremental: bool) -> str:
    """The whole content of a message-format stream."""
    contents = [c["output"]["choices"][0]["message"]["content"] for c in chunks]
    return "".join(contents) if incremental else contents[-1]


def check_schema(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> None:
    """A small JSON-schema validator (jsonschema is not installed): raise on mismatch."""
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        schema = target
    if "enum" in schema:
        assert value in schema["enum"], (value, schema["enum"])
        return
    kind = schema.get("type", "object" if "properties" in schema else None)
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
             "number": (int, float)}  # fmt: skip
    if kind is not None:
        assert isinstance(value, types[kind]), (value, kind)
    if kind == "object":
        for name in schema.get("required", []):
            assert name in value, (name, value)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check_schema(value[name], sub, root)
    if kind == "array":
        assert len(value) >= schema.get("minItems", 0)
        for item in value:
            check_schema(item, schema.get("items", {}), root)
    if kind in ("integer", "number"):
        assert schema.get("minimum", value) <= value <= schema.get("maximum", value)


def shape(value: Any) -> Any:
    """``value`` with every leaf replaced by its JSON type name (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


def covers(ours: Any, recorded: Any, where: str = "$") -> None:
    """Every field of ``recorded`` exists in ``ours`` with the same JSON type."""
    if isinstance(recorded, dict):
        assert isinstance(ours, dict), where
        for key, value in recorded.items():
            assert key in ours, f"{where}.{key} missing"
            covers(ours[key], value, f"{where}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(ours, list), where
        if recorded and ours:
            covers(ours[0], recorded[0], f"{where}[0]")
    else:
        assert ours == recorded, f"{where}: {ours} != {recorded}"
