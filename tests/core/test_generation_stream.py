"""The generation stream stage and the accumulator (pure: SSE events in, chunks out)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashscope_core import GenerationAccumulator, GenerationResponse, accumulate
from dashscope_core._protocol.generation_stream import GenerationStream
from dashscope_core._protocol.sse import SSEDecoder, SSEEvent
from dashscope_core.errors import APIResponseValidationError, IncompleteStreamError

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded"


def frame(output: dict[str, Any], n: int = 1, rid: str = "rid-1") -> SSEEvent:
    usage = {"input_tokens": 5, "output_tokens": n, "total_tokens": 5 + n}
    data = {"output": output, "usage": usage, "request_id": rid}
    return SSEEvent(event="result", data=json.dumps(data), id=str(n), status=200)


def msg(content: str | None = None, finish: str = "null", index: int | None = 0,
        **message: Any) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"role": "assistant", **message}
    if content is not None:
        body["content"] = content
    choice: dict[str, Any] = {"message": body, "finish_reason": finish}
    if index is not None:
        choice["index"] = index
    return {"choices": [choice]}


def call(index: int, args: str, id: str = "", name: str | None = None) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": args}
    if name is not None:
        function["name"] = name
    return {"index": index, "id": id, "type": "function", "function": function}


def run(events: list[SSEEvent], *, incremental: bool = True) -> list[GenerationResponse]:
    stage = GenerationStream(incremental=incremental)
    chunks = [chunk for event in events for chunk in stage.feed(event)]
    return chunks + stage.close()


def recorded_events(name: str) -> list[SSEEvent]:
    raw = (RECORDED / f"{name}.response.body.txt").read_bytes()
    decoder = SSEDecoder()
    return decoder.feed(raw) + decoder.close()


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("single-generation-text-sse", "1+1等于2。"),
        ("single-generation-message-sse",
         "1+1 等于 2。这是最基本的数学加法之一，在十进制计数体系中，"
         "任何情况下 1 加上另一个 1 的结果都是 2。"),
    ],
)  # fmt: skip
def test_recorded_streams_are_deltas_until_the_final_frame(name: str, text: str) -> None:
    chunks = run(recorded_events(name))
    assert "".join(c.text for c in chunks) == text
    assert [c.finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    assert accumulate(chunks).text == text


def test_a_stream_without_its_final_frame_raises_with_the_request_id() -> None:
    stage = GenerationStream()
    for event in recorded_events("single-generation-message-sse")[:-1]:
        stage.feed(event)
    assert not stage.complete
    with pytest.raises(IncompleteStreamError) as info:
        stage.close()
    assert info.value.request_id == "d272255f-82d7-9cc7-93c5-17ff77024349"


def test_an_empty_stream_is_incomplete() -> None:
    with pytest.raises(IncompleteStreamError):
        run([])


def test_every_choice_must_finish() -> None:
    events = [frame(msg("a", index=0)), frame(msg("b", index=1)),
              frame(msg("", "stop", index=0))]  # fmt: skip
    with pytest.raises(IncompleteStreamError):
        run(events)
    chunks = run([*events, frame(msg("", "length", index=1))])
    result = accumulate(chunks)
    assert [c.message.content for c in result.output.choices or []] == ["a", "b"]
    assert [c.finish_reason for c in result.output.choices or []] == ["stop", "length"]


def test_events_without_data_are_skipped_and_bad_frames_raise() -> None:
    stage = GenerationStream()
    assert stage.feed(SSEEvent(data="")) == []
    with pytest.raises(APIResponseValidationError):
        stage.feed(SSEEvent(data="{not json"))


def test_tool_call_fragments_stay_raw_and_merge_by_index() -> None:
    events = [
        frame(msg("", tool_calls=[call(0, '{"city": "New', "call_a", "get_weather")])),
        frame(msg("", tool_calls=[call(1, '{"city"', "call_b", "get_weather")])),
        frame(msg("", tool_calls=[call(0, ' York"}')])),
        frame(msg("", tool_calls=[call(1, ': " Paris "}')])),
        frame(msg("", "tool_calls")),
    ]
    chunks = run(events)
    assert chunks[2].tool_calls[0].function.arguments == ' York"}'
    assert chunks[2].tool_calls[0].id == ""
    merged = accumulate(chunks).tool_calls
    assert [(c.index, c.id, c.function.name) for c in merged] == [
        (0, "call_a", "get_weather"),
        (1, "call_b", "get_weather"),
    ]
    assert json.loads(merged[0].function.arguments) == {"city": "New York"}
    assert merged[1].function.arguments == '{"city": " Paris "}'
    assert accumulate(chunks).finish_reason == "tool_calls"


def test_cumulative_frames_become_deltas() -> None:
    calls = [call(0, '{"city": "New', "call_a", "get_weather")]
    grown = [call(0, '{"city": "New York"}', "call_a", "get_weather")]
    events = [
        frame(msg("", reasoning_content="Let me")),
        frame(msg("", reasoning_content="Let me think.")),
        frame(msg("Hello", reasoning_content="Let me think.")),
        frame(msg("Hello world", reasoning_content="Let me think.")),
        frame(msg("Hello world", reasoning_content="Let me think.", tool_calls=calls)),
        frame(msg("Hello world", reasoning_content="Let me think.", tool_calls=grown)),
        frame(msg("Hello world", "stop", reasoning_content="Let me think.", tool_calls=grown)),
    ]
    chunks = run(events, incremental=False)
    assert [c.text for c in chunks] == ["", "", "Hello", " world", "", "", ""]
    reasoning = [c.message.reasoning_content for c in chunks if c.message]
    assert reasoning == ["Let me", " think.", "", "", "", "", ""]
    fragments = [[(t.id, t.function.arguments) for t in c.tool_calls] for c in chunks]
    assert fragments[4:] == [[("call_a", '{"city": "New')], [("", ' York"}')], []]
    result = accumulate(chunks)
    assert result.text == "Hello world"
    assert result.message is not None and result.message.reasoning_content == "Let me think."
    assert result.tool_calls[0].function.arguments == '{"city": "New York"}'


def test_cumulative_text_format() -> None:
    events = [frame({"text": "1+", "finish_reason": "null"}),
              frame({"text": "1+1=2", "finish_reason": "null"}),
              frame({"text": "1+1=2", "finish_reason": "stop"})]  # fmt: skip
    chunks = run(events, incremental=False)
    assert [c.text for c in chunks] == ["1+", "1=2", ""]
    assert accumulate(chunks).output.text == "1+1=2"


def parts(text: str, finish: str = "null") -> dict[str, Any]:
    message = {"role": "assistant", "content": [{"text": text}]}
    return {"choices": [{"message": message, "finish_reason": finish}]}


def test_multimodal_parts_accumulate_to_parts() -> None:
    result = accumulate(run([frame(parts("A ")), frame(parts("cat", "stop"))]))
    assert result.message is not None and result.message.content == [{"text": "A cat"}]
    assert result.text == "A cat"


def test_accumulator_keeps_last_usage_request_id_and_logprobs() -> None:
    acc = GenerationAccumulator()
    first = msg("a")
    first["choices"][0]["logprobs"] = {"content": [{"token": "a", "logprob": -0.1}]}
    for n, output in enumerate([first, msg("b", "stop")], start=1):
        acc.add(GenerationResponse.model_validate_json(frame(output, n * 3).data))
    result = acc.result()
    assert result.request_id == "rid-1"
    assert (result.usage.output_tokens, result.usage.total_tokens) == (6, 11)
    choice = (result.output.choices or [])[0]
    assert choice.logprobs == {"content": [{"token": "a", "logprob": -0.1}]}
    assert result.text == "ab" and result.finish_reason == "stop"


def test_null_finish_reason_is_none_and_properties_on_empty_bodies() -> None:
    empty = GenerationResponse.model_validate({})
    assert (empty.text, empty.message, empty.finish_reason) == ("", None, None)
    assert empty.tool_calls == []
    parsed = GenerationResponse.model_validate({"output": {"finish_reason": "null", "text": "x"}})
    assert parsed.finish_reason is None and parsed.text == "x"
    assert accumulate([]).text == ""


@pytest.mark.parametrize("name", ["single-generation-message-sse", "single-generation-text-sse"])
def test_chunks_do_not_depend_on_how_the_bytes_are_split(name: str) -> None:
    raw = (RECORDED / f"{name}.response.body.txt").read_bytes()
    expected = [c.model_dump() for c in run(recorded_events(name))]

    def chunks_of(pieces: list[bytes]) -> list[dict[str, Any]]:
        decoder, stage = SSEDecoder(), GenerationStream()
        out = [c for p in pieces for e in decoder.feed(p) for c in stage.feed(e)]
        out += [c for e in decoder.close() for c in stage.feed(e)] + stage.close()
        return [c.model_dump() for c in out]

    assert chunks_of([raw[i : i + 1] for i in range(len(raw))]) == expected
    for cut in range(0, len(raw), 37):
        assert chunks_of([raw[:cut], raw[cut:]]) == expected


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=0, max_size=40),
    args=st.text(min_size=1, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_any_split_of_text_and_arguments_accumulates_back(
    text: str, args: str, cuts: list[int]
) -> None:
    def split(value: str) -> list[str]:
        points = sorted({min(c, len(value)) for c in cuts} | {0, len(value)})
        return [value[a:b] for a, b in itertools.pairwise(points)] or [""]

    events = [frame(msg(piece)) for piece in split(text)]
    pieces = split(args)
    events.append(frame(msg("", tool_calls=[call(0, pieces[0], "call_x", "fn")])))
    events += [frame(msg("", tool_calls=[call(0, piece)])) for piece in pieces[1:]]
    events.append(frame(msg("", "tool_calls")))
    result = accumulate(run(events))
    assert result.text == text
    (merged,) = result.tool_calls
    assert (merged.id, merged.function.name, merged.function.arguments) == ("call_x", "fn", args)
