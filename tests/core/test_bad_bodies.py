"""Values JSON cannot carry are typed errors naming where they are, before any request.

Lone surrogates (not UTF-8), NaN and infinities (not JSON), keys JSON has no form for (tuples),
values of other types, structures that contain themselves, and nesting too deep to encode: a
``ValueError``/``TypeError`` whose message names the argument's path, raised at call time (for
streams too, before iteration; ``bytes``, which may be a local media file the call uploads first,
when the body is sent) by both clients and the framework models; nothing reaches the wire.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from _gen_client import GenClient

from dashscope_core._protocol.body import encode_json
from dashscope_core.emulator import Emulator

MSGS = [{"role": "user", "content": "hi"}]


def _recursive() -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {}}
    schema["properties"]["self"] = schema
    return schema


def _tool(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": parameters}}]


CASES: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "lone surrogate in messages": (
        {"messages": [{"role": "user", "content": "bad \ud800 text"}]},
        ValueError,
        "messages[0].content",
    ),
    "NaN in a tool schema": (
        {"messages": MSGS, "tools": _tool({"type": "number", "maximum": math.nan})},
        ValueError,
        "tools[0].function.parameters.maximum",
    ),
    "infinity in a parameter": ({"messages": MSGS, "temperature": math.inf}, ValueError, ""),
    "tuple keys": (
        {"messages": MSGS, "tools": _tool({"type": "object", "properties": {(1, 2): {}}})},
        TypeError,
        "tools[0].function.parameters.properties",
    ),
    "recursive schema": (
        {"messages": MSGS, "tools": _tool(_recursive())},
        ValueError,
        "tools[0].function.parameters.properties.self",
    ),
    "bytes value": ({"messages": MSGS, "user": b"raw"}, TypeError, "parameters.user"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("what", ["call", "stream"])
def test_generation_refuses_what_json_cannot_carry(
    gen_ds: GenClient, gen_emu: Emulator, case: str, what: str
) -> None:
    arguments, kind, path = CASES[case]
    method = gen_ds.client.generation.call if what == "call" else gen_ds.client.generation.stream
    with pytest.raises(kind) as caught:
        made = method(model="qwen-plus", **arguments)  # a stream raises here, at call time
        gen_ds.run(made) if what == "call" else gen_ds.collect(made)  # (bytes: when iterated)
    assert path in str(caught.value)
    assert gen_emu.received("generation") == []


def test_apps_embeddings_and_predictions_name_their_argument(
    gen_ds: GenClient, gen_emu: Emulator
) -> None:
    client, run = gen_ds.client, gen_ds.run
    with pytest.raises(TypeError, match=r"biz_params\.user_defined_params"):
        run(client.apps.call("app1", "hi", biz_params={"user_defined_params": {(1,): "x"}}))
    with pytest.raises(ValueError, match=r"input\.texts\[1\]"):
        run(client.embeddings.call(model="text-embedding-v4", texts=["ok", "\udcff"]))
    with pytest.raises(ValueError, match=r"input\.scale"):
        run(client.predictions.create(version="v1", input={"scale": math.nan}))
    assert gen_emu.received("generation") == [] and gen_emu.received("embeddings") == []


def test_the_path_is_found_however_deep() -> None:
    deep: list[Any] = []
    cursor = deep
    for _ in range(50_000):  # deeper than Python's recursion limit
        cursor.append([])
        cursor = cursor[0]
    with pytest.raises(ValueError, match="nested too deeply"):
        encode_json({"input": deep})
    assert encode_json({"a": "é", "n": [1, 2.5, None, True]}) == (
        '{"a":"é","n":[1,2.5,null,true]}'.encode()
    )


def test_framework_models_surface_the_same_errors(gen_emu: Emulator, gen_server: Any) -> None:
    from langchain_core.tools import tool
    from llama_index.core.llms import ChatMessage

    from langchain_dashscope_ext import ChatDashScope
    from llamaindex_dashscope_ext import DashScopeLLM

    common = {"api_key": "sk-x", "base_url": gen_server.base_url}

    @tool
    def lookup(query: str) -> str:
        """Look something up."""
        return query

    chat = ChatDashScope(model="qwen-plus", **common)
    with pytest.raises(ValueError, match=r"messages\[0\]\.content"):
        chat.invoke("bad \ud800")
    bound = chat.bind_tools([lookup], tool_choice="auto", temperature=math.nan)
    with pytest.raises(ValueError, match="temperature"):
        bound.invoke("hi")
    llm = DashScopeLLM(model="qwen-plus", **common)
    with pytest.raises(ValueError, match=r"messages\[0\]\.content"):
        llm.chat([ChatMessage(role="user", content="bad \udfff")])
    assert gen_emu.received("generation") == []
