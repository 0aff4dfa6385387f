"""Prediction SSE streams (incl. hostile chunking), webhooks and the in-process ASGI app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from _loopback import QuietHandler, api_url, serve

from dashscope_core._protocol.sse import SSEDecoder, SSEEvent
from dashscope_core.emulator import Emulator, create_app
from dashscope_core.emulator.prediction_models import Plan
from dashscope_core.emulator.prediction_runs import state
from dashscope_core.emulator.prediction_schema import Prop, iterator_output
from dashscope_core.emulator.predictions import registry, settings

LM = "/models/emulator/streaming-lm/predictions"
HELLO = "/models/emulator/hello-world/predictions"
AUTH = {"Authorization": "Bearer sk-emulator-test"}


def open_stream(client: httpx.Client, prompt: str, **body: Any) -> tuple[dict[str, Any], bytes]:
    prediction = client.post(LM, json={"input": {"prompt": prompt}, "stream": True, **body}).json()
    with client.stream(
        "GET", prediction["urls"]["stream"], headers={"Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        raw = response.read()
    return prediction, raw


def decode(raw: bytes, step: int | None = None) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    pieces = [raw] if step is None else [raw[i : i + step] for i in range(0, len(raw), step)]
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def pairs(events: list[SSEEvent]) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in events]


def by_kind(events: list[SSEEvent]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for event in events:
        grouped.setdefault(event.event, []).append(event.data)
    return grouped


def test_stream_events_output_logs_done(client: httpx.Client) -> None:
    prediction, raw = open_stream(client, "hi\nthere")
    assert prediction["urls"]["stream"].endswith(f"/predictions/{prediction['id']}/stream")
    events = decode(raw)
    names = [e.event for e in events]
    assert names[-1] == "done" and events[-1].data == "{}"
    assert set(names) == {"output", "logs", "done"}
    text = "".join(e.data for e in events if e.event == "output")
    assert text.startswith("You asked: hi\nthere\nHere is a streamed answer")
    assert b"data: \ndata: there" in raw  # a multi-line token is several data: lines
    final = client.get(prediction["urls"]["get"]).json()
    assert final["status"] == "succeeded" and "".join(final["output"]) == text
    assert pairs(decode(raw, step=1)) == pairs(events)


def test_hostile_chunking_gives_the_same_events(client: httpx.Client, emu: Emulator) -> None:
    _, plain = open_stream(client, "split me")
    settings(emu).sse_chunk_max = 3
    _, hostile = open_stream(client, "split me")
    # output and logs interleave by timing; each kind's sequence is what must not change
    expected = by_kind(decode(plain))
    assert by_kind(decode(hostile)) == expected
    for step in (1, 2, 5, 7):
        assert pairs(decode(hostile, step)) == pairs(decode(hostile))


def test_hostile_chunks_reach_the_wire_small(client: httpx.Client, emu: Emulator) -> None:
    settings(emu).sse_chunk_max = 4
    prediction = client.post(LM, json={"input": {"prompt": "tiny"}}).json()
    with client.stream("GET", prediction["urls"]["stream"]) as response:
        parts = list(response.iter_raw())  # one part per HTTP chunk the server wrote
    assert len(parts) > 10 and max(len(p) for p in parts) <= 4


def _register_failing_streamer(emu: Emulator) -> None:
    def predictor(inputs: dict[str, Any], ctx: Any) -> Plan:
        return Plan(tokens=["partial", " answer"], logs=["oops"], error="GPU on fire")

    registry(emu).register_model(
        "me/broken-lm", [Prop("prompt", required=True)], predictor, output=iterator_output()
    )


def test_stream_error_event_then_done(client: httpx.Client, emu: Emulator) -> None:
    _register_failing_streamer(emu)
    prediction = client.post("/models/me/broken-lm/predictions", json={"input": {"prompt": "x"}})
    with client.stream("GET", prediction.json()["urls"]["stream"]) as response:
        events = decode(response.read())
    assert [e.event for e in events][-2:] == ["error", "done"]
    assert json.loads(events[-2].data) == {"detail": "GPU on fire"}


def test_stream_of_canceled_prediction_says_why(client: httpx.Client) -> None:
    prediction = client.post(LM, json={"input": {"prompt": "x"}}).json()
    client.post(prediction["urls"]["cancel"])
    with client.stream("GET", prediction["urls"]["stream"]) as response:
        events = decode(response.read())
    assert events[-1].event == "done" and json.loads(events[-1].data) == {"reason": "canceled"}


def test_stream_keepalive_comments(client: httpx.Client, emu: Emulator) -> None:
    ticks = iter(range(10**9))
    knobs = settings(emu)
    # a clock that moves 10 ms per look: the run stays quiet for its first 20 polls whatever
    # the machine's speed
    emu.clock.source = lambda: 1_700_000_000 + next(ticks) * 0.01
    knobs.keepalive, knobs.start_delay, knobs.poll_interval = 0.0, 0.2, 0.001
    _, raw = open_stream(client, "ping me")
    assert b": ping\n\n" in raw
    assert all(e.event != "message" for e in decode(raw))  # comments never become events


def test_no_stream_for_plain_models(client: httpx.Client) -> None:
    prediction = client.post(HELLO, json={"input": {"text": "a"}}).json()
    assert "stream" not in prediction["urls"]
    missing = client.get(f"/predictions/{prediction['id']}/stream")
    assert missing.status_code == 404
    refused = client.post(HELLO, json={"input": {"text": "a"}, "stream": True})
    assert refused.status_code == 422


# --- webhooks -----------------------------------------------------------------------------


class Receiver:
    """A tiny loopback HTTP server recording the webhooks it gets."""

    def __init__(self) -> None:
        self.url = ""
        self.received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()
        received = self.received

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self.handler = Handler

    def until_completed(self) -> list[tuple[dict[str, str], bytes]]:
        got = []
        while True:
            headers, body = self.received.get(timeout=10)
            got.append((headers, body))
            if json.loads(body)["status"] in ("succeeded", "failed", "canceled"):
                return got


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    with serve(hook.handler) as server:
        hook.url = api_url(server, "/hook")
        yield hook


def _valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return headers["webhook-signature"] == f"v1,{expected}"


def test_webhooks_delivered_and_signed(
    client: httpx.Client, emu: Emulator, receiver: Receiver
) -> None:
    secret = client.get("/webhooks/default/secret").json()["key"]
    assert secret.startswith("whsec_")
    created = client.post(HELLO, json={"input": {"text": "hook"}, "webhook": receiver.url})
    deliveries = receiver.until_completed()
    assert all(_valid(secret, h, b) for h, b in deliveries)
    bodies = [json.loads(b) for _, b in deliveries]
    assert {b["id"] for b in bodies} == {created.json()["id"]}
    assert bodies[-1]["output"] == "hello hook"
    events = [d.event for d in state(emu).deliveries]
    assert events[0] == "start" and events[-1] == "completed"
    assert len({h["webhook-id"] for h, _ in deliveries}) == len(deliveries)


def test_webhook_events_filter(client: httpx.Client, emu: Emulator, receiver: Receiver) -> None:
    body = {"input": {"text": "f"}, "webhook": receiver.url, "webhook_events_filter": ["completed"]}
    client.post(HELLO, json=body)
    deliveries = receiver.until_completed()
    assert len(deliveries) == 1 and [d.event for d in state(emu).deliveries] == ["completed"]


@pytest.mark.parametrize(
    "body",
    [
        {"webhook": "http://example.com/hook"},
        {"webhook": "ftp://127.0.0.1/hook"},
        {"webhook": "http://127.0.0.1:9/hook", "webhook_events_filter": ["everything"]},
    ],
)
def test_bad_webhooks_are_refused(
    client: httpx.Client, emu: Emulator, body: dict[str, Any]
) -> None:
    response = client.post(HELLO, json={"input": {"text": "a"}, **body})
    assert response.status_code == 422 and response.json()["title"] == "Invalid webhook"
    assert emu.counters["predictions_created"] == 0


# --- in-process ---------------------------------------------------------------------------


@pytest.fixture
async def asgi() -> AsyncIterator[tuple[httpx.AsyncClient, Emulator]]:
    emu = Emulator(seed=3)
    transport = httpx.ASGITransport(app=create_app(emu))
    base = "http://emulator.test/api/v1"
    async with httpx.AsyncClient(transport=transport, base_url=base, headers=AUTH) as http:
        yield http, emu


async def test_asgi_wait_and_stream(asgi: tuple[httpx.AsyncClient, Emulator]) -> None:
    http, _ = asgi
    created = await http.post(
        LM, json={"input": {"prompt": "in process"}}, headers={"Prefer": "wait"}
    )
    prediction = created.json()
    assert prediction["status"] == "succeeded"
    assert prediction["urls"]["get"].startswith("http://emulator.test/api/v1/predictions/")
    async with http.stream("GET", prediction["urls"]["stream"]) as response:
        events = decode(b"".join([part async for part in response.aiter_raw()]))
    assert "".join(e.data for e in events if e.event == "output") == "".join(prediction["output"])
    listed = (await http.get("/predictions")).json()["results"]
    assert [p["id"] for p in listed] == [prediction["id"]]
