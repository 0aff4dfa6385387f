"""Pure pieces: token units, fragments, hints, schema instances; custom stream routes."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import httpx
from emulator_helpers import check_schema, decode
from hypothesis import given
from hypothesis import strategies as st

from dashscope_core.emulator import Emulator, EmulatorApp, Request, Response, Route, SSEEvent
from dashscope_core.emulator import StreamResponse as Stream
from dashscope_core.emulator._schema import Hints, instance, select_tools
from dashscope_core.emulator._text import count_tokens, fragments, split_anywhere, units

TEXT = st.text(alphabet=st.sampled_from("ab c\n中文，!  "), max_size=40)


@given(TEXT, st.integers(0, 1000))
def test_units_and_fragments_are_lossless(text: str, key: int) -> None:
    assert "".join(units(text)) == text
    assert "".join(fragments(text, key)) == text
    assert "".join(split_anywhere(text, key)) == text
    assert sum(count_tokens(p) for p in fragments(text, key)) == count_tokens(text)


def test_count_tokens() -> None:
    assert count_tokens("hello big world") == 3
    assert count_tokens("你好 world") == 3


def test_hints() -> None:
    hints = Hints.from_text("What's the weather in New York and 'Los Angeles' on day 3?")
    assert hints.strings == ["Los Angeles", "New York"]
    assert hints.numbers == [3.0]


def test_instance_of_nested_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/definitions/Item"}, "minItems": 2},
            "kind": {"type": ["string", "null"], "enum": ["a", "b"]},
            "size": {"type": "number", "minimum": 5},
        },
        "required": ["items"],
        "definitions": {"Item": {"properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    }
    value = instance(schema, Hints.from_text("nothing useful"))
    check_schema(value, schema)
    assert len(value["items"]) == 2 and value["size"] >= 5


def test_select_tools_cjk_description() -> None:
    tool = {"type": "function", "function": {"name": "get_current_weather",
            "description": "获取现在的天气"}}  # fmt: skip
    assert select_tools([tool], "杭州现在的天气如何？") == [tool]
    assert select_tools([tool], "讲个笑话") == []


async def _events() -> AsyncIterator[SSEEvent | bytes]:
    yield SSEEvent({"n": 1})
    yield b": raw comment\n\n"
    yield SSEEvent("plain text", event="output", id="x")


async def _stream(request: Request, emulator: Emulator) -> Response:
    return Stream(_events(), headers={"x-extra": "1"})


async def test_custom_stream_route_raw_bytes_and_no_auth() -> None:
    app = EmulatorApp(Emulator(), [Route("GET", "/s/{id}", _stream, kind="s", auth=False)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
        response = await http.get("/s/1")
    assert response.headers["x-extra"] == "1"
    events = decode(response.content)
    assert [(e.id, e.event, e.data) for e in events] == [("1", "result", '{"n":1}'),
                                                         ("x", "output", "plain text")]  # fmt: skip


def test_get_or_create_makes_each_state_object_once_until_reset() -> None:
    emu, made = Emulator(), []
    barrier = threading.Barrier(8)

    def make() -> object:
        made.append(1)
        return object()

    def ask() -> None:
        barrier.wait()
        found.append(emu.get_or_create("x", make))

    found: list[object] = []
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and all(f is found[0] for f in found)
    emu.reset()
    assert emu.get_or_create("x", make) is not found[0] and len(made) == 2
