"""SSEDecoder / encode_event: h11-style split tests, WHATWG examples, recorded DashScope streams."""

from __future__ import annotations

from pathlib import Path

import pytest
from _recorded import RECORDED
from hypothesis import given
from hypothesis import strategies as st

from dashscope_core._protocol.sse import SSEDecoder, SSEEvent, encode_comment, encode_event

BOM = b"\xef\xbb\xbf"
SSE_BODIES = sorted(RECORDED.glob("*-sse.response.body.txt"))


def load_body(path: Path) -> bytes:
    """A recorded body without the BOM added when the file was saved."""
    data = path.read_bytes()
    return data[len(BOM) :] if data.startswith(BOM) else data


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


def byte_by_byte(data: bytes) -> list[SSEEvent]:
    return decode(*(data[i : i + 1] for i in range(len(data))))


def test_recorded_sse_bodies_exist() -> None:
    assert len(SSE_BODIES) >= 4


def frames(data: bytes) -> list[bytes]:
    """``data`` cut before every line that starts with ``id:`` (each recorded frame opens so)."""
    starts = [0] + [i + 1 for i in range(len(data) - 3) if data[i : i + 4] == b"\nid:"]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


@pytest.mark.parametrize("path", SSE_BODIES, ids=lambda p: p.name.split(".")[0])
def test_recorded_stream_whole_and_byte_by_byte(path: Path) -> None:
    data = load_body(path)
    whole = decode(data)
    assert whole, "a recorded stream decodes to events"
    assert all(e.event in ("result", "error") and e.data.startswith("{") for e in whole)
    assert all(e.status == 200 for e in whole)
    assert byte_by_byte(data) == whole
    assert decode(BOM + data) == whole


@pytest.mark.parametrize("path", SSE_BODIES, ids=lambda p: p.name.split(".")[0])
def test_recorded_stream_split_at_every_offset(path: Path) -> None:
    # Every recorded frame opens with "id:" and carries its own event/status/data lines, so the
    # decoder state at a frame start holds nothing a later frame needs (only the event to
    # dispatch). Splitting frame by frame at each of its offsets therefore covers every offset
    # of the file in O(n * frame) rather than O(n^2) (the application recording is 137 kB);
    # the whole-file and byte-by-byte checks above cover how frames follow each other.
    data = load_body(path)
    parts = frames(data)
    assert b"".join(parts) == data
    assert [e for part in parts for e in decode(part)] == decode(data)
    for index, frame in enumerate(parts):
        wanted = decode(frame)
        assert len(wanted) == 1
        for k in range(len(frame) + 1):
            decoder = SSEDecoder()
            got = decoder.feed(frame[:k]) + decoder.feed(frame[k:]) + decoder.close()
            assert got == wanted, (index, k)


@pytest.mark.parametrize("path", SSE_BODIES, ids=lambda p: p.name.split(".")[0])
def test_recorded_stream_ids_are_sequential(path: Path) -> None:
    # some recordings have no blank line between frames: a new id: dispatches the pending one
    events = decode(load_body(path))
    assert [e.id for e in events] == [str(i) for i in range(1, len(events) + 1)]


# WHATWG HTML "Server-sent events" examples, in the style of httpx-sse's test_event_source.py
def test_whatwg_stock_ticker() -> None:
    data = b"data: YHOO\ndata: +2\ndata: 10\n\n"
    assert decode(data) == [SSEEvent(data="YHOO\n+2\n10")]


def test_whatwg_comment_and_ids() -> None:
    data = (
        b": test stream\n\ndata: first event\nid: 1\n\n"
        b"data:second event\nid\n\ndata:  third event\n\n"
    )
    events = decode(data)
    assert [(e.data, e.id) for e in events] == [
        ("first event", "1"),
        ("second event", ""),
        (" third event", ""),
    ]


def test_whatwg_empty_data_lines() -> None:
    assert decode(b"data\n\ndata\ndata\n\ndata:\n") == [
        SSEEvent(data=""),
        SSEEvent(data="\n"),
        SSEEvent(data=""),
    ]


def test_whatwg_space_after_colon_is_optional() -> None:
    assert decode(b"data:test\n\ndata: test\n\n") == [SSEEvent(data="test")] * 2


def test_event_name_retry_and_unknown_fields() -> None:
    events = decode(b"event: add\nretry: 300\nfoo: bar\ndata: 73857293\n\nretry: x\ndata: y\n\n")
    assert events[0] == SSEEvent(event="add", data="73857293", retry=300)
    assert events[1].retry is None


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_line_endings(eol: bytes) -> None:
    data = eol.join([b"id:1", b"event:result", b":HTTP_STATUS/200", b"data:{}", b"", b""])
    expected = [SSEEvent(event="result", data="{}", id="1", status=200)]
    assert decode(data) == expected
    assert byte_by_byte(data) == expected


def test_crlf_split_between_chunks() -> None:
    assert decode(b"data:a\r", b"\n\r", b"\ndata:b\r\n\r\n") == [
        SSEEvent(data="a"),
        SSEEvent(data="b"),
    ]


def test_utf8_split_across_chunks() -> None:
    data = "data:你好，世界 🌏\n\n".encode()
    for offset in range(len(data) + 1):
        assert decode(data[:offset], data[offset:]) == [SSEEvent(data="你好，世界 🌏")]


def test_bom_dropped_whole_and_split() -> None:
    data = BOM + b"data:x\n\n"
    for offset in range(len(data) + 1):
        assert decode(data[:offset], data[offset:]) == [SSEEvent(data="x")]
    assert byte_by_byte(data) == [SSEEvent(data="x")]


def test_only_a_leading_bom_is_dropped() -> None:
    # mid-stream the BOM is part of the field name ("\ufeffdata"), an unknown field
    assert decode(b"data:a\n\n" + BOM + b"data:b\n\n") == [SSEEvent(data="a")]


def test_http_status_comment_and_error_event() -> None:
    data = (
        b'id:1\nevent:error\n:HTTP_STATUS/429\ndata:{"code":"Throttling.RateQuota",'
        b'"message":"Requests rate limit exceeded","request_id":"r1"}\n\n'
    )
    (event,) = decode(data)
    assert (event.event, event.status, event.id) == ("error", 429, "1")
    assert '"Throttling.RateQuota"' in event.data


def test_other_comments_ignored() -> None:
    assert decode(b": keep-alive\n\n:HTTP_STATUS/abc\ndata:x\n\n") == [SSEEvent(data="x")]


def test_id_without_blank_line_dispatches_pending_event() -> None:
    data = b"id:1\nevent:result\ndata:a\nid:2\nevent:result\ndata:b\n"
    events = decode(data)
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("2", "b")]
    assert byte_by_byte(data) == events


def test_field_name_split_anywhere() -> None:
    data = b"event:output\ndata:hello\ndata:world\n\n"
    for offset in range(len(data) + 1):
        assert decode(data[:offset], data[offset:]) == [
            SSEEvent(event="output", data="hello\nworld")
        ]


def test_unterminated_last_event_dispatched_at_close() -> None:
    assert decode(b"event:done\ndata:{}") == [SSEEvent(event="done", data="{}")]


def test_event_without_data_but_with_name_is_dispatched() -> None:
    assert decode(b"event:done\n\n") == [SSEEvent(event="done")]


def test_last_event_id_persists() -> None:
    events = decode(b"id:7\ndata:a\n\ndata:b\n\n")
    assert [e.id for e in events] == ["7", "7"]


def test_encode_comment() -> None:
    assert decode(encode_comment("ping") + b"data:x\n\n") == [SSEEvent(data="x")]


def test_encode_event_dashscope_layout() -> None:
    raw = encode_event('{"a":1}', event="result", id="3", status=200)
    assert raw == b'id:3\nevent:result\n:HTTP_STATUS/200\ndata:{"a":1}\n\n'


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"))
_name = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters=":"))


@given(
    data=_text,
    event=st.one_of(st.none(), _name.filter(bool)),
    id=st.one_of(st.none(), _name),
    status=st.one_of(st.none(), st.integers(100, 599)),
    retry=st.one_of(st.none(), st.integers(0, 10**6)),
    split=st.integers(0, 10**4),
)
def test_encode_event_round_trip(
    data: str, event: str | None, id: str | None, status: int | None, retry: int | None, split: int
) -> None:
    raw = encode_event(data, event=event, id=id, status=status, retry=retry)
    expected = [SSEEvent(event=event or "message", data=data, id=id, retry=retry, status=status)]
    cut = split % (len(raw) + 1)
    assert decode(raw) == expected
    assert decode(raw[:cut], raw[cut:]) == expected


@given(st.lists(_text, min_size=1, max_size=5), st.lists(st.integers(0, 200), max_size=6))
def test_several_events_any_chunking(datas: list[str], cuts: list[int]) -> None:
    raw = b"".join(encode_event(d, event="result", id=str(i)) for i, d in enumerate(datas))
    points = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert decode(*chunks) == decode(raw)
    assert [e.data for e in decode(raw)] == datas


# Lines a frame of the DashScope layout may be followed by, or be made of: the whole-frame fast
# path must give exactly what the line-by-line path gives (1-byte chunks never hold a frame).
_line = st.sampled_from(
    [
        "id:7", "id: 8", "id:", "id:a\x00b", "event:result", "event: error", "event:",
        ":HTTP_STATUS/200", ":HTTP_STATUS/429", ": HTTP_STATUS/500", ":keep-alive",
        'data:{"a":1}', "data: {}", "data:", "data:  two spaces", "retry:5", "other:x", "",
    ]
)  # fmt: skip


@given(
    st.lists(st.one_of(_line, st.just("FRAME")), max_size=24),
    st.lists(st.integers(0, 10**4), max_size=3),
)
def test_whole_frame_path_matches_line_path(lines: list[str], cuts: list[int]) -> None:
    frame = "id:1\nevent:result\n:HTTP_STATUS/200\ndata:{}"
    raw = "\n".join(frame if line == "FRAME" else line for line in lines).encode() + b"\n"
    points = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    reference = byte_by_byte(raw)
    assert decode(raw) == reference
    assert decode(*chunks) == reference
    assert decode(raw + raw) == byte_by_byte(raw + raw)


def test_whole_frames_keep_multi_line_data_and_the_last_id() -> None:
    head = b"event:result\n:HTTP_STATUS/200\n"
    raw = (b"id:1\n" + head + b"data:a\n\n" + b"id:2\n" + head + b"data:b\ndata:c\n\n"
           b"id:3\n" + head + b"data: d\nid:4\nevent:\n:HTTP_STATUS/200\ndata:e\n")  # fmt: skip
    decoder = SSEDecoder()
    events = decoder.feed(raw)
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("2", "b\nc"), ("3", "d")]
    assert [(e.id, e.event, e.data) for e in decoder.close()] == [("4", "message", "e")]


def _big_event(size: int) -> tuple[bytes, str]:
    data = ("x" * 1000 + "é") * (size // 1002)
    return b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + data.encode() + b"\n\n", data


@pytest.mark.parametrize(
    "size",
    [4 * 1024 * 1024, pytest.param(32 * 1024 * 1024, marks=pytest.mark.slow)],
    ids=["4MB", "32MB"],
)
def test_one_huge_event_read_in_small_pieces(size: int) -> None:
    # the decoder searches only new bytes and joins held ones once (linear): the figure for a
    # 32 MB event is in bench/README.md; here, that nothing is lost or split
    frame, data = _big_event(size)
    decoder = SSEDecoder()
    events = [e for i in range(0, len(frame), 16384) for e in decoder.feed(frame[i : i + 16384])]
    events += decoder.close()
    assert events == [SSEEvent("result", data, "1", None, 200)]


def test_an_event_of_many_data_lines_read_in_pieces() -> None:
    lines = [f"line {n} " + "y" * 300 for n in range(20_000)]
    body = "".join(f"data:{line}\n" for line in lines).encode() + b"\n"
    decoder = SSEDecoder()
    events = [e for i in range(0, len(body), 4096) for e in decoder.feed(body[i : i + 4096])]
    assert events == [SSEEvent("message", "\n".join(lines))]
