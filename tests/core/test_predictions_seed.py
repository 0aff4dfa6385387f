"""Acceptance checks ported from the seed clients' own test suites (replicate-javascript
``index.test.ts`` / ``lib/stream`` tests, replicate-python ``tests/``), names adapted to ours.

Independent of the other prediction tests: its own ``httpx.MockTransport`` harness (the
transport is the boundary; nothing of ours is mocked), the seed's bodies and ids. Where we
deliberately differ from the seed's known faults, the test says so: POSTs are not retried on
5xx, an abort raises (and cancels server-side) instead of returning quietly, a stream that
ends without ``done`` raises instead of ending short.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from _twin import Twin

from dashscope_core import ServerSentEvent
from dashscope_core.errors import (
    BadRequestError,
    InternalServerError,
    PredictionFailedError,
)
from dashscope_core.resources._outputs import FileOutput

BASE = "https://api.replicate.example/v1"
TOKEN = "test-token"
VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
PID = "ufawqhfynnddngldkgtslldrkq"
CURSOR = "cD0yMDIyLTAxLTIxKzIzJTNBMTglM0EyNC41MzAzNTclMkIwMCUzQTAw"
STREAM_URL = "https://streaming.replicate.example/v1/streams/abc"


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in exactly these pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


class Seed(Twin):
    """A client over a nock-like script: replies in order, anything unexpected fails."""

    def __init__(self, mode: str) -> None:
        self.script: list[tuple[str, str, httpx.Response]] = []
        self.hooks: dict[int, Any] = {}
        self.requests: list[httpx.Request] = []
        super().__init__(mode, transport=httpx.MockTransport(self._handle), api_key=TOKEN,
                         base_url=BASE)  # fmt: skip

    def reply(self, method: str, url: str, status: int = 200, body: Any = None, **kw: Any) -> Seed:
        """Queue the answer to the next request, which must be ``method url``."""
        full = url if url.startswith("http") else BASE + url
        if "then" in kw:  # called while the request is on the wire (nock's body callback)
            self.hooks[len(self.requests) + len(self.script)] = kw.pop("then")
        if "pieces" in kw:
            response = httpx.Response(status, stream=Body(kw.pop("pieces")), **kw)
        else:
            response = httpx.Response(status, json=body, **kw)
        self.script.append((method, full, response))
        return self

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.script, f"unexpected request {request.method} {request.url}"
        method, url, response = self.script.pop(0)
        assert (request.method, str(request.url)) == (method, url)
        hook = self.hooks.pop(len(self.requests) - 1, None)
        if hook is not None:
            hook()
        return response

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(method, url)`` of every request that reached the wire."""
        return [(r.method, str(r.url)) for r in self.requests]

    def body(self, index: int) -> Any:
        """The JSON body of request ``index``."""
        return json.loads(self.requests[index].content)


@pytest.fixture(params=["sync", "async"])
def seed(request: pytest.FixtureRequest) -> Iterator[Seed]:
    s = Seed(request.param)
    yield s
    assert not s.script, f"expected requests never made: {s.script}"
    s.close()


def _prediction(status: str, **fields: Any) -> dict[str, Any]:
    urls = {"get": f"{BASE}/predictions/{PID}", "cancel": f"{BASE}/predictions/{PID}/cancel"}
    return {"id": PID, "version": VERSION, "status": status, "urls": urls, **fields}


# -- catalog and pagination ---------------------------------------------------------------------


def test_collections_models_and_hardware_routes(seed: Seed) -> None:
    two = [{"slug": "super-resolution"}, {"slug": "image-classification"}]
    seed.reply("GET", "/collections", body={"results": two, "next": None, "previous": None})
    seed.reply("GET", "/collections/super-resolution", body={"name": "Super resolution"})
    seed.reply("GET", "/models/replicate/hello-world", body={"owner": "replicate", "run_count": 1})
    seed.reply("GET", "/hardware", body=[{"name": "CPU", "sku": "cpu"}])
    assert len(seed.run(seed.client.collections.list()).results) == 2
    assert seed.run(seed.client.collections.get("super-resolution")).name == "Super resolution"
    assert seed.run(seed.client.models.get("replicate", "hello-world")).run_count == 1
    assert [h.sku for h in seed.run(seed.client.hardware.list())] == ["cpu"]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seed.requests)


@pytest.mark.parametrize("namespace", ["models", "predictions"])
def test_paginate_follows_absolute_next_urls(seed: Seed, namespace: str) -> None:
    nxt = f"{BASE}/{namespace}?cursor={CURSOR}"
    seed.reply("GET", f"/{namespace}", body={"results": [{"id": "a", "url": "1"}], "next": nxt})
    seed.reply("GET", nxt, body={"results": [{"id": "b", "url": "2"}], "next": None})
    pages = seed.collect(seed.client.paginate(getattr(seed.client, namespace).list))
    ids = [getattr(item, "id", None) or item.url for page in pages for item in page]
    assert ids in (["a", "b"], ["1", "2"])
    assert seed.calls == [("GET", f"{BASE}/{namespace}"), ("GET", nxt)]


# -- predictions.create/get/cancel/list -----------------------------------------------------------


def test_create_sends_the_seed_payload(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("starting", input={"text": "Alice"}))
    prediction = seed.run(
        seed.client.predictions.create(
            version=VERSION,
            input={"text": "Alice"},
            webhook="http://test.host/webhook",
            webhook_events_filter=["output", "completed"],
        )
    )
    assert prediction.id == PID
    assert seed.body(0) == {
        "version": VERSION,
        "input": {"text": "Alice"},
        "webhook": "http://test.host/webhook",
        "webhook_events_filter": ["output", "completed"],
    }
    assert seed.requests[0].headers["content-type"] == "application/json"


def test_create_passes_stream_and_model_routes(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("starting"))
    seed.reply("POST", "/models/meta/llama-2-70b/predictions", 201, _prediction("starting"))
    seed.reply("POST", "/deployments/acme/my-app/predictions", 201, _prediction("starting"))
    seed.run(seed.client.predictions.create(version=VERSION, input={"p": "story"}, stream=True))
    seed.run(seed.client.predictions.create(model="meta/llama-2-70b", input={"p": "x"}))
    seed.run(seed.client.deployments.predictions.create("acme", "my-app", input={"p": "y"}))
    assert seed.body(0) == {"version": VERSION, "input": {"p": "story"}, "stream": True}
    assert seed.body(1) == {"input": {"p": "x"}}
    assert seed.body(2) == {"input": {"p": "y"}}


@pytest.mark.parametrize("webhook", ["invalid-url", "ftp://x/hook", "/relative"])
def test_invalid_webhook_url_fails_before_any_request(seed: Seed, webhook: str) -> None:
    with pytest.raises(ValueError, match="webhook"):
        seed.run(seed.client.predictions.create(version=VERSION, input={}, webhook=webhook))
    assert seed.requests == []


def test_rfc7807_error_detail_reaches_the_exception(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 400, {"status": 400, "detail": "Invalid input"})
    with pytest.raises(BadRequestError, match="Invalid input") as info:
        seed.run(seed.client.predictions.create(version=VERSION, input={"text": None}))
    assert info.value.status_code == 400
    assert seed.body(0) == {"version": VERSION, "input": {}}  # no null keys


def test_post_retries_429_with_retry_after_but_never_500(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 429, {"detail": "Too many"}, headers={"Retry-After": "1"})
    seed.reply("POST", "/predictions", 201, {"id": PID})
    assert seed.run(seed.client.predictions.create(version=VERSION, input={})).id == PID
    assert seed.sleeps == [1.0]
    seed.reply("POST", "/predictions", 500, {"detail": "Internal server error"})
    with pytest.raises(InternalServerError):
        seed.run(seed.client.predictions.create(version=VERSION, input={}))
    assert [m for m, _ in seed.calls] == ["POST"] * 3  # the 500 was not replayed


@pytest.mark.parametrize("status", [429, 500])
def test_get_retries_429_and_500(seed: Seed, status: int) -> None:
    seed.reply("GET", f"/predictions/{PID}", status, {"detail": "busy"})
    seed.reply("GET", f"/predictions/{PID}", 200, {"id": PID})
    assert seed.run(seed.client.predictions.get(PID)).id == PID
    assert len(seed.requests) == 2


def test_cancel_and_list(seed: Seed) -> None:
    seed.reply("POST", f"/predictions/{PID}/cancel", body=_prediction("canceled"))
    nxt = f"{BASE}/predictions?cursor={CURSOR}"
    seed.reply(
        "GET", "/predictions", body={"next": nxt, "previous": None, "results": [{"id": "j"}]}
    )
    assert seed.run(seed.client.predictions.cancel(PID)).status == "canceled"
    page = seed.run(seed.client.predictions.list())
    assert (len(page.results), page.results[0].id, page.next) == (1, "j", nxt)


def test_trainings_create_route_and_destination(seed: Seed) -> None:
    path = f"/models/owner/model/versions/{VERSION}/trainings"
    seed.reply("POST", path, 201, {"id": "zz4ibbonubfz7carwiefibzgga", "status": "starting"})
    training = seed.run(
        seed.client.trainings.create(
            "owner", "model", VERSION, destination="new_owner/new_model", input={"text": "..."}
        )
    )
    assert training.id == "zz4ibbonubfz7carwiefibzgga"
    assert seed.body(0) == {"destination": "new_owner/new_model", "input": {"text": "..."}}
    with pytest.raises(ValueError, match="destination"):
        seed.run(seed.client.trainings.create("o", "m", VERSION, destination="bad", input={}))
    assert len(seed.requests) == 1


def test_models_create_versions_and_trainings_routes(seed: Seed) -> None:
    seed.reply("POST", "/models", 201, {"owner": "alice", "name": "my-model"})
    seed.reply("GET", "/models/alice/my-model/versions", body={"results": [{"id": VERSION}]})
    seed.reply("GET", f"/models/alice/my-model/versions/{VERSION}", body={"id": VERSION})
    seed.reply("GET", "/trainings/zz4", body={"id": "zz4", "status": "processing"})
    seed.reply("POST", "/trainings/zz4/cancel", body={"id": "zz4", "status": "canceled"})
    seed.reply("GET", "/trainings", body={"results": [{"id": "zz4"}], "next": None})
    created = seed.client.models.create(
        "alice", "my-model", visibility="public", hardware="gpu-a40-large", description="x"
    )
    assert seed.run(created).name == "my-model"
    assert seed.body(0) == {
        "owner": "alice",
        "name": "my-model",
        "visibility": "public",
        "hardware": "gpu-a40-large",
        "description": "x",
    }
    versions = seed.run(seed.client.models.versions.list("alice", "my-model"))
    assert [v.id for v in versions] == [VERSION]
    assert seed.run(seed.client.models.versions.get("alice", "my-model", VERSION)).id == VERSION
    assert seed.run(seed.client.trainings.get("zz4")).status == "processing"
    assert seed.run(seed.client.trainings.cancel("zz4")).status == "canceled"
    assert [t.id for t in seed.run(seed.client.trainings.list())] == ["zz4"]


# -- run: exact request sequences and progress ----------------------------------------------------


def test_run_polls_and_reports_progress_in_order(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("starting"))
    seed.reply("GET", f"/predictions/{PID}", body=_prediction("processing"))
    seed.reply("GET", f"/predictions/{PID}", body=_prediction("succeeded", output="foobar"))
    seen: list[tuple[str, Any]] = []
    output = seed.run(
        seed.client.run(
            f"owner/model:{VERSION}",
            input={"text": "Hello, world!"},
            progress=lambda p: seen.append((p.status, p.output)),
        )
    )
    assert output == "foobar"
    assert seen == [("starting", None), ("processing", None), ("succeeded", "foobar")]
    assert [m for m, _ in seed.calls] == ["POST", "GET", "GET"]
    assert seed.body(0) == {"version": VERSION, "input": {"text": "Hello, world!"}}
    assert seed.requests[0].headers["prefer"] == "wait"
    assert seed.sleeps == [0.5]  # the first poll follows Prefer: wait at once


def test_run_sync_mode_answer_needs_no_poll(seed: Seed) -> None:
    seed.reply("POST", "/models/replicate/hello-world/predictions", 201,
               _prediction("succeeded", output="hello Alice"))  # fmt: skip
    output = seed.run(seed.client.run("replicate/hello-world", input={"text": "Alice"}, wait=10))
    assert output == "hello Alice"
    assert len(seed.requests) == 1
    assert seed.requests[0].headers["prefer"] == "wait=10"
    assert "version" not in seed.body(0)


def test_run_without_wait_polls_only(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("starting"))
    seed.reply("GET", f"/predictions/{PID}", body=_prediction("succeeded", output=["a", "b"]))
    assert seed.run(seed.client.run(f"o/m:{VERSION}", input={}, wait=False)) == ["a", "b"]
    assert "prefer" not in seed.requests[0].headers


@pytest.mark.parametrize("identifier", ["owner:abc", "/model:abc", ":abc", "owner/", "a/b:"])
def test_run_rejects_invalid_identifiers_before_any_request(seed: Seed, identifier: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        seed.run(seed.client.run(identifier, input={"text": "Alice"}))
    assert seed.requests == []


def test_run_rejects_an_invalid_webhook_before_any_request(seed: Seed) -> None:
    with pytest.raises(ValueError, match="webhook"):
        seed.run(seed.client.run(f"o/m:{VERSION}", input={}, webhook="invalid-url"))
    assert seed.requests == []


def test_identifier_with_hyphen_and_full_stop(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("succeeded", output="ok"))
    assert seed.run(seed.client.run(f"my-org.ai/my_model-1.5:{VERSION}", input={})) == "ok"


def test_run_failed_prediction_raises_with_its_error_and_id(seed: Seed) -> None:
    seed.reply("POST", "/predictions", 201, _prediction("failed", error="CUDA out of memory"))
    with pytest.raises(PredictionFailedError, match="CUDA out of memory") as info:
        seed.run(seed.client.run(f"o/m:{VERSION}", input={}))
    assert PID in str(info.value)


def test_abort_during_create_cancels_and_raises(seed: Seed) -> None:
    """Seed: abort → create, cancel, no polls; unlike the seed, the caller gets an error."""
    import threading

    from dashscope_core import JobCancelledError

    event: Any = threading.Event() if seed.mode == "sync" else asyncio.Event()
    seed.reply("POST", "/predictions", 201, _prediction("processing"), then=event.set)
    seed.reply("POST", f"/predictions/{PID}/cancel", body=_prediction("canceled"))
    with pytest.raises(JobCancelledError, match="cancelled on request") as info:
        seed.run(seed.client.run(f"o/m:{VERSION}", input={}, cancel=event))
    assert [u.rsplit("/", 1)[-1] for _, u in seed.calls] == ["predictions", "cancel"]
    assert info.value.item.status == "canceled"
    # still set: the next run sends nothing at all (no prediction created just to cancel it)
    with pytest.raises(JobCancelledError, match="nothing was sent"):
        seed.run(seed.client.run(f"o/m:{VERSION}", input={}, cancel=event))
    assert len(seed.requests) == 2


# -- file outputs --------------------------------------------------------------------------------


def test_file_outputs_download_lazily_without_our_token(seed: Seed) -> None:
    url = "https://files.example.com/out.txt"
    seed.reply("POST", "/predictions", 201, _prediction("succeeded", output=url))
    output = seed.run(seed.client.run(f"o/m:{VERSION}", input={}))
    assert isinstance(output, FileOutput) and output == url and output.url == url
    assert len(seed.requests) == 1  # nothing fetched yet
    seed.reply("GET", url, headers={"content-type": "text/plain"}, pieces=[b"Hello, ", b"world!"])
    seed.reply("GET", url, pieces=[b"Hello, world!"])
    if seed.mode == "sync":
        assert output.read() == b"Hello, world!"
        assert b"".join(output) == b"Hello, world!"  # iterating streams bytes (replicate-python)
    else:
        assert seed.run(output.aread()) == b"Hello, world!"
        assert b"".join(seed.collect(output)) == b"Hello, world!"
    assert all("authorization" not in r.headers for r in seed.requests[1:])


def test_data_uri_and_plain_outputs(seed: Seed) -> None:
    uri = "data:text/plain;base64,SGVsbG8sIHdvcmxkIQ=="
    seed.reply("POST", "/predictions", 201, _prediction("succeeded", output=uri))
    seed.reply("POST", "/predictions", 201, _prediction("succeeded", output=uri))
    output = seed.run(seed.client.run(f"o/m:{VERSION}", input={}))
    assert (output.read() if seed.mode == "sync" else seed.run(output.aread())) == b"Hello, world!"
    plain = seed.run(seed.client.run(f"o/m:{VERSION}", input={}, use_file_output=False))
    assert type(plain) is str and plain == uri


# -- prediction streams (seed: lib/stream tests, createReadableStream) ------------------------


def _stream(seed: Seed, pieces: list[bytes]) -> list[ServerSentEvent]:
    created = _prediction("starting", urls={"stream": STREAM_URL})
    seed.reply("POST", "/predictions", 201, created)
    seed.reply("GET", STREAM_URL, headers={"content-type": "text/event-stream"}, pieces=pieces)
    events = seed.collect(seed.client.stream(f"o/m:{VERSION}", input={"prompt": "hi"}))
    assert seed.body(0)["stream"] is True
    assert "authorization" not in seed.requests[1].headers  # a streaming host, not the API
    return events


SEED_STREAM = (
    b"event: output\nid: EVENT_1\ndata: hello,\ndata:  this is a new line,\n"
    b"data: and this is a new line too\n\n"
    b": a comment line\n\n"
    b"event: logs\nid: EVENT_2\ndata: step 1\n\n"
    b"event: something-new\nid: EVENT_3\ndata: {}\n\n"
    b"event: output\nid: EVENT_4\ndata: bye\n\n"
    b"event: done\nid: EVENT_5\ndata: {}\n\n"
)
SEED_EVENTS = [
    ServerSentEvent(
        "output", "hello,\n this is a new line,\nand this is a new line too", "EVENT_1"
    ),
    ServerSentEvent("logs", "step 1", "EVENT_2"),
    ServerSentEvent("something-new", "{}", "EVENT_3"),
    ServerSentEvent("output", "bye", "EVENT_4"),
    ServerSentEvent("done", "{}", "EVENT_5"),
]


@pytest.mark.parametrize("size", [len(SEED_STREAM), 1, 3, 7, 29])
def test_stream_events_survive_any_chunking(seed: Seed, size: int) -> None:
    pieces = [SEED_STREAM[i : i + size] for i in range(0, len(SEED_STREAM), size)]
    assert _stream(seed, pieces) == SEED_EVENTS


def test_stream_in_a_complete_mess(seed: Seed) -> None:
    pieces = [b"eve", b"nt: output\nid: EVENT_1\nda", b"ta: hello,\ndata:", b" world\n",
              b"\nevent: do", b"ne\ndata: {}\n", b"\n"]  # fmt: skip
    events = _stream(seed, pieces)
    assert events == [ServerSentEvent("output", "hello,\nworld", "EVENT_1"),
                      ServerSentEvent("done", "{}", "EVENT_1")]  # fmt: skip


def test_stream_stops_at_done_and_raises_on_error(seed: Seed) -> None:
    after_done = b"event: done\ndata: {}\n\nevent: output\ndata: never read\n\n"
    assert _stream(seed, [after_done]) == [ServerSentEvent("done", "{}", None)]
    seed.requests.clear()
    error = b"event: output\ndata: partial\n\nevent: error\ndata: An unexpected error occurred\n\n"
    with pytest.raises(PredictionFailedError, match="An unexpected error occurred"):
        _stream(seed, [error])


# -- webhooks and progress (pure, from both seeds) -----------------------------------------------


def test_webhook_vector_from_the_seed() -> None:
    from dashscope_core import validate_webhook

    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    body, secret = '{"test": 2432232314}', "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert validate_webhook(headers, body, secret) is True
    assert validate_webhook(headers, body.encode(), secret) is True
    assert validate_webhook(headers, '{"test": 2432232315}', secret) is False
    assert validate_webhook({**headers, "webhook-id": "msg_x"}, body, secret) is False


def test_parse_progress_from_seed_logs() -> None:
    from dashscope_core import parse_progress

    logs = "\n".join(
        [
            "Using seed: 12345",
            "0%|          | 0/5 [00:00<?, ?it/s]",
            "20%|██        | 1/5 [00:00<00:01, 21.38it/s]",
            "40%|████▍     | 2/5 [00:00<00:01, 21.38it/s]",
        ]
    )
    progress = parse_progress(logs)
    assert progress is not None
    assert (progress.percentage, progress.current, progress.total) == (0.4, 2, 5)
    assert parse_progress({"logs": logs}) == progress
    assert parse_progress("Using seed: 12345\nno bar here") is None


# -- minimal bodies (the seed's own expectations) --------------------------------------------------


def test_create_answered_with_the_request_body_echoed_back(seed: Seed) -> None:
    # index.test.ts "Passes stream parameter to API endpoint": the reply is the request body
    echoed = {"version": VERSION, "input": {"prompt": "story"}, "stream": True}
    seed.reply("POST", "/predictions", 201, echoed)
    made = seed.run(seed.client.predictions.create(version=VERSION, input={"prompt": "story"},
                                                   stream=True))  # fmt: skip
    assert (made.id, made.version, made.status, made.input) == (None, VERSION, "starting",
                                                                {"prompt": "story"})  # fmt: skip
    assert made.model_extra == {"stream": True}
    with pytest.raises(ValueError, match=r"prediction: .*no 'id'"):
        seed.run(seed.client.wait(made))  # nothing to poll, and nothing was sent


def test_model_with_empty_latest_version_and_default_example(seed: Seed) -> None:
    # index.test.ts "models.get": latest_version and default_example are {}
    body = {"url": "https://replicate.com/replicate/hello-world", "owner": "replicate",
            "name": "hello-world", "description": "A tiny model that says hello",
            "visibility": "public", "github_url": "https://github.com/replicate/cog-examples",
            "paper_url": None, "license_url": None, "run_count": 12345, "cover_image_url": "",
            "default_example": {}, "latest_version": {}}  # fmt: skip
    seed.reply("GET", "/models/replicate/hello-world", body=body)
    model = seed.run(seed.client.models.get("replicate", "hello-world"))
    assert model.latest_version is not None and model.latest_version.id is None
    assert model.default_example is not None and model.default_example.id is None
    assert (model.run_count, model.paper_url, model.cover_image_url) == (12345, None, "")
