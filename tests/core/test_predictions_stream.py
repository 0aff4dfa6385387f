"""Prediction streams over ``urls.stream``: events, hostile chunking, error/done handling."""

from __future__ import annotations

import pytest
from _prediction_fakes import BASE, DS, ds, prediction

from dashscope_core import JobCancelledError, Prediction, ServerSentEvent
from dashscope_core._protocol.prediction_stream import PredictionStreamReader
from dashscope_core._protocol.sse import SSEDecoder
from dashscope_core.errors import BadRequestError, IncompleteStreamError, PredictionFailedError

__all__ = ["ds"]

STREAM_URL = "https://stream.example.net/v1/streams/abc"
BODY = (
    ": keep-alive comment\n\n"
    "event: output\nid: 1\ndata: Once upon\ndata: a time\n\n"
    "event: logs\nid: 2\ndata: step 1 ✓\n\n"
    'event: custom-thing\ndata: {"x": 1}\n\n'
    "event: output\nid: 3\ndata: 终わり\n\n"
    "event: done\ndata: {}\n\n"
).encode()
EXPECTED = [
    ServerSentEvent("output", "Once upon\na time", "1"),
    ServerSentEvent("logs", "step 1 ✓", "2"),
    ServerSentEvent("custom-thing", '{"x": 1}', "2"),
    ServerSentEvent("output", "终わり", "3"),
    ServerSentEvent("done", "{}", "3"),
]


def _streaming(pid: str = "p1") -> dict[str, object]:
    body = prediction(pid)
    body["urls"]["stream"] = STREAM_URL  # type: ignore[index]
    return body


def _events(body: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    """Feed ``body`` cut at ``cuts`` through the decoder and the reader."""
    reader = PredictionStreamReader(Prediction.model_validate(_streaming()))
    decoder, out, start = SSEDecoder(), [], 0
    for end in [*cuts, len(body)]:
        for event in decoder.feed(body[start:end]):
            out += reader.feed(event)
        start = end
    for event in decoder.close():
        out += reader.feed(event)
    out += reader.close()
    return out


def test_whole_bytewise_and_every_split_give_the_same_events() -> None:
    assert _events(BODY, []) == EXPECTED
    assert _events(BODY, list(range(1, len(BODY)))) == EXPECTED
    for cut in range(1, len(BODY)):
        assert _events(BODY, [cut]) == EXPECTED, cut


def test_str_of_an_event_is_its_output_text() -> None:
    assert [str(e) for e in EXPECTED] == ["Once upon\na time", "", "", "终わり", ""]


def test_stream_creates_then_reads_stream_url(ds: DS) -> None:
    ds.api.expect("POST", "/models/acme/llm/predictions", _streaming(), status=201)
    ds.api.expect(
        "GET",
        STREAM_URL,
        chunks=[BODY[i : i + 7] for i in range(0, len(BODY), 7)],
        headers={"content-type": "text/event-stream"},
    )
    events = ds.collect(ds.client.stream("acme/llm", input={"prompt": "hi"}))
    assert events == EXPECTED
    assert ds.api.json(0) == {"input": {"prompt": "hi"}, "stream": True}
    get = ds.api.requests[1]
    assert get.headers["accept"] == "text/event-stream"
    assert "authorization" not in get.headers  # the stream host is not the API host


def test_stream_of_existing_prediction_sends_only_the_get(ds: DS) -> None:
    ds.api.expect("GET", STREAM_URL, chunks=[BODY])
    given = Prediction.model_validate(_streaming())
    assert ds.collect(ds.client.stream(given)) == EXPECTED
    assert len(ds.api.requests) == 1


@pytest.mark.parametrize(
    ("tail", "error", "match"),
    [
        (b'event: error\ndata: {"detail": "model crashed"}\n\n', PredictionFailedError, "crashed"),
        (b'event: error\ndata: {"status": 400, "detail": "bad"}\n\n', BadRequestError, "bad"),
        (b'event: done\ndata: {"reason": "canceled"}\n\n', JobCancelledError, "cancelled"),
        (b"", IncompleteStreamError, "without a 'done'"),
    ],
)
def test_stream_errors_raise(ds: DS, tail: bytes, error: type[Exception], match: str) -> None:
    ds.api.expect("GET", STREAM_URL, chunks=[b"event: output\ndata: partial\n\n", tail])
    seen: list[ServerSentEvent] = []

    async def _agen() -> None:
        async for event in ds.client.stream(Prediction.model_validate(_streaming())):
            seen.append(event)

    with pytest.raises(error, match=match):
        if ds.mode == "async":
            ds.run(_agen())
        else:
            seen.extend(ds.client.stream(Prediction.model_validate(_streaming())))
    assert [e.data for e in seen] == ["partial"] or ds.mode == "sync"


def test_stream_stops_reading_after_done(ds: DS) -> None:
    body = b"event: done\ndata: {}\n\nevent: output\ndata: ignored\n\n"
    ds.api.expect("GET", STREAM_URL, chunks=[body])
    events = ds.collect(ds.client.stream(Prediction.model_validate(_streaming())))
    assert events == [ServerSentEvent("done", "{}", None)]


def test_stream_without_stream_url_raises_value_error(ds: DS) -> None:
    with pytest.raises(ValueError, match=r"urls\.stream"):
        ds.collect(ds.client.stream(Prediction.model_validate(prediction())))


def test_stream_bad_identifier_fails_at_call_time(ds: DS) -> None:
    with pytest.raises(ValueError, match="identifier_or_prediction"):
        ds.client.stream("nope", input={})
    assert BASE and ds.api.requests == []
