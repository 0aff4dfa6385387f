"""The prediction API and async tasks against the emulator over real loopback HTTP.

One emulator per module; every test body runs with ``DashScope`` and ``AsyncDashScope``.
Runs are short (the emulator's ``Settings`` are shrunk), so nothing here waits long.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from _twin import Twin

from dashscope_core import (
    DeadlineExceededError,
    FileOutput,
    Prediction,
    parse_progress,
)
from dashscope_core.emulator import Emulator, ServerHandle, serve
from dashscope_core.emulator.predictions import settings
from dashscope_core.errors import (
    BadRequestError,
    NotFoundError,
    PredictionFailedError,
)

KEY = "sk-prediction-emulator-tests"


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    """A loopback emulator for this module."""
    with serve(Emulator(seed=5)) as handle:
        yield handle


class Client(Twin):
    """A sync or async client on the emulator (it really sleeps between polls)."""

    def __init__(self, mode: str, base_url: str) -> None:
        super().__init__(mode, wait=True, api_key=KEY, base_url=base_url)


@pytest.fixture(params=["sync", "async"])
def em(request: pytest.FixtureRequest, server: ServerHandle) -> Iterator[Client]:
    """A client of either kind; the emulator is reset and its runs made quick."""
    server.emulator.reset()
    knobs = settings(server.emulator)
    knobs.start_delay, knobs.run_time, knobs.page_size = 0.01, 0.05, 2
    wrapper = Client(request.param, server.base_url)
    try:
        yield wrapper
    finally:
        wrapper.close()


def test_run_hello_world(em: Client) -> None:
    assert em.run(em.client.run("emulator/hello-world", input={"text": "you"})) == "hello you"


def test_run_with_polling_reports_progress(em: Client, server: ServerHandle) -> None:
    seen: list[Prediction] = []
    out = em.run(
        em.client.run(
            "emulator/slow-counter",
            input={"steps": 4, "seconds": 0.3},
            wait=False,
            interval=0.05,
            progress=seen.append,
        )
    )
    assert out == 4
    statuses = [p.status for p in seen]
    assert statuses[0] == "starting" and statuses[-1] == "succeeded"
    assert set(statuses[1:-1]) <= {"starting", "processing"}
    assert parse_progress(seen[-1]) is not None and parse_progress(seen[-1]).current == 4  # type: ignore[union-attr]
    kinds = [r.method for r in server.emulator.received()]
    # create + one GET per poll; progress: after create, each running poll, once at the end
    assert kinds.count("POST") == 1 and len(kinds) == len(seen)


def test_failed_prediction(em: Client) -> None:
    with pytest.raises(PredictionFailedError, match="boom") as info:
        em.run(em.client.run("emulator/always-fails", input={"message": "boom"}))
    assert info.value.prediction_id


def test_invalid_input_is_a_typed_problem(em: Client) -> None:
    with pytest.raises(BadRequestError) as info:
        em.run(em.client.run("emulator/slow-counter", input={"steps": 0}))
    assert info.value.status_code == 422


def test_deadline_cancels_on_the_server(em: Client, server: ServerHandle) -> None:
    with pytest.raises(DeadlineExceededError) as info:
        em.run(
            em.client.run(
                "emulator/slow-counter",
                input={"steps": 5, "seconds": 30},
                wait=False,
                interval=0.05,
                timeout=0.2,
            )
        )
    pid = info.value.item.id
    assert em.run(em.client.predictions.get(pid)).status == "canceled"
    assert server.emulator.received()[-2].path == f"/predictions/{pid}/cancel"


def test_cancel_event(em: Client) -> None:
    cancel = threading.Event()
    with pytest.raises(Exception, match="cancelled on request"):
        em.run(
            em.client.run(
                "emulator/slow-counter",
                input={"steps": 5, "seconds": 30},
                wait=False,
                interval=0.05,
                cancel=cancel,
                progress=lambda p: cancel.set(),
            )
        )


def test_stream_with_hostile_chunking(em: Client, server: ServerHandle) -> None:
    settings(server.emulator).sse_chunk_max = 3
    events = em.collect(
        em.client.stream("emulator/streaming-lm", input={"prompt": "hi", "max_new_tokens": 8})
    )
    text = "".join(str(e) for e in events)
    assert text.startswith("You asked: hi")
    pid = server.emulator.received()[0].json  # the create asked for a stream
    assert pid["stream"] is True


def test_file_outputs_download_from_the_emulator(em: Client) -> None:
    out = em.run(
        em.client.run("emulator/image-maker", input={"prompt": "cat", "width": 64, "height": 64})
    )
    assert isinstance(out[0], FileOutput)
    data = em.run(out[0].aread()) if em.mode == "async" else out[0].read()
    assert data.startswith(b"\x89PNG")


def test_paginate_predictions(em: Client) -> None:
    for word in ("a", "b", "c"):
        em.run(em.client.predictions.create(model="emulator/hello-world", input={"text": word}))
    pages = em.collect(em.client.paginate(em.client.predictions.list))
    assert [len(page) for page in pages] == [2, 1]
    assert pages[0].next is not None and pages[0].next.startswith("http://127.0.0.1")


def test_catalog(em: Client) -> None:
    model = em.run(em.client.models.get("emulator", "image-maker"))
    schema = model.latest_version.openapi_schema
    assert "Input" in schema["components"]["schemas"]
    versions = em.run(em.client.models.versions.list("emulator", "image-maker"))
    version = em.run(em.client.models.versions.get("emulator", "image-maker", versions[0].id))
    assert version.id == model.latest_version.id
    assert em.run(em.client.collections.get("text-to-image")).models[0].name == "image-maker"
    assert em.run(em.client.hardware.list())[0].sku
    assert len(em.run(em.client.models.list()).results) >= 1
    with pytest.raises(NotFoundError):
        em.run(em.client.models.get("emulator", "nope"))


def test_deployment_and_version_predictions(em: Client) -> None:
    created = em.run(
        em.client.deployments.predictions.create(
            "emulator", "hello-deployment", input={"text": "d"}, wait=5
        )
    )
    assert em.run(em.client.wait(created)).output == "hello d"
    version = em.run(em.client.models.get("emulator", "hello-world")).latest_version.id
    assert (
        em.run(em.client.run(f"emulator/hello-world:{version}", input={"text": "v"})) == "hello v"
    )


def test_image_synthesis_task(em: Client) -> None:
    seen: list[str] = []
    task = em.run(
        em.client.images.generate(
            "wanx-v1",
            "a cat",
            n=2,
            size="512*512",
            interval=0.05,
            progress=lambda t: seen.append(t.status),
        )
    )
    assert task.status == "SUCCEEDED" and len(task.output.results) == 2
    assert seen[0] == "PENDING" and seen[-1] == "SUCCEEDED"
    listed = em.run(em.client.tasks.list(page_size=10))
    assert any(item.get("task_id") == task.task_id for item in listed.data)


def test_unknown_task(em: Client) -> None:
    assert em.run(em.client.tasks.get("0" * 32)).status == "UNKNOWN"
    with pytest.raises(NotFoundError, match="UNKNOWN"):
        em.run(em.client.tasks.wait("0" * 32))
