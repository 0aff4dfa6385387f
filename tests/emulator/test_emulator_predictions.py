"""The prediction API over loopback: lifecycle, validation, cancel, wait, pages, faults."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashscope_core.emulator import Emulator, ServerHandle
from dashscope_core.emulator.prediction_http import after_handler_faults
from dashscope_core.emulator.predictions import registry, settings

TQDM = re.compile(r"^\s*(\d+)%\|[█ ]{10}\| (\d+)/(\d+) \[\d\d:\d\d<\d\d:\d\d, [\d.]+it/s\]$")
HELLO = "/models/emulator/hello-world/predictions"
COUNTER = "/models/emulator/slow-counter/predictions"


class Clock:
    """A wall clock a test moves by hand."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(emu: Emulator) -> Iterator[Clock]:
    fake = Clock()
    emu.clock.source = fake
    yield fake


def create(client: httpx.Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_lifecycle_starting_processing_succeeded(
    client: httpx.Client, server: ServerHandle, clock: Clock
) -> None:
    prediction = create(client, HELLO, {"input": {"text": "bob"}})
    assert prediction["status"] == "starting"
    assert prediction["output"] is None and prediction["logs"] == ""
    assert prediction["model"] == "emulator/hello-world"
    assert re.fullmatch(r"[0-9a-f]{64}", prediction["version"])
    get_url = prediction["urls"]["get"]
    assert get_url == f"{server.base_url}/predictions/{prediction['id']}"
    assert prediction["urls"]["cancel"] == get_url + "/cancel"
    assert "stream" not in prediction["urls"]
    clock.advance(0.1)
    processing = client.get(get_url).json()
    assert processing["status"] == "processing" and processing["started_at"]
    clock.advance(1)
    done = client.get(get_url).json()
    assert done["status"] == "succeeded" and done["output"] == "hello bob"
    assert done["completed_at"] > done["started_at"] > done["created_at"]
    assert done["metrics"]["predict_time"] == pytest.approx(0.2)
    assert done["error"] is None


def test_logs_grow_with_tqdm_progress(client: httpx.Client, clock: Clock) -> None:
    prediction = create(client, COUNTER, {"input": {"steps": 5, "seconds": 1}})
    url = prediction["urls"]["get"]
    clock.advance(0.06)
    seen: list[int] = []
    for _ in range(12):
        logs = client.get(url).json()["logs"]
        lines = logs.splitlines()
        assert all(TQDM.match(line) for line in lines)
        seen.append(len(lines))
        clock.advance(0.1)
    assert seen == sorted(seen) and seen[0] >= 1 and seen[-1] == 6
    done = client.get(url).json()
    assert done["status"] == "succeeded" and done["output"] == 5
    match = TQDM.match(done["logs"].splitlines()[-1])
    assert match is not None and match.groups() == ("100", "5", "5")
    assert " 40%|████      | 2/5 [" in done["logs"]


def test_cancel_mid_run_then_again_unchanged(client: httpx.Client, clock: Clock) -> None:
    prediction = create(client, COUNTER, {"input": {"steps": 4, "seconds": 10}})
    clock.advance(3)
    canceled = client.post(prediction["urls"]["cancel"])
    assert canceled.status_code == 200
    body = canceled.json()
    assert body["status"] == "canceled" and body["completed_at"] and body["output"] is None
    logs = body["logs"]
    clock.advance(60)
    again = client.post(prediction["urls"]["cancel"]).json()
    assert again["status"] == "canceled" and again["logs"] == logs
    assert again["completed_at"] == body["completed_at"]


def test_cancel_finished_prediction_returns_it_unchanged(
    client: httpx.Client, clock: Clock
) -> None:
    prediction = create(client, HELLO, {"input": {"text": "x"}})
    clock.advance(5)
    body = client.post(prediction["urls"]["cancel"]).json()
    assert body["status"] == "succeeded" and body["output"] == "hello x"


def test_prefer_wait_returns_terminal_prediction(client: httpx.Client) -> None:
    prediction = create(client, HELLO, {"input": {"text": "ann"}}, Prefer="wait")
    assert prediction["status"] == "succeeded" and prediction["output"] == "hello ann"


def test_prefer_wait_n_returns_when_the_time_is_up(client: httpx.Client, clock: Clock) -> None:
    prediction = create(client, HELLO, {"input": {"text": "ann"}}, Prefer="wait=1")
    assert prediction["status"] == "starting"  # the frozen clock never lets it finish


def test_failed_prediction_carries_error(client: httpx.Client) -> None:
    body = {"input": {"message": "boom"}}
    prediction = create(client, "/models/emulator/always-fails/predictions", body, Prefer="wait")
    assert prediction["status"] == "failed" and prediction["error"] == "boom"
    assert "RuntimeError: boom" in prediction["logs"] and prediction["output"] is None


def test_create_by_version_and_by_owner_name_version(client: httpx.Client, emu: Emulator) -> None:
    version = registry(emu).models["emulator/hello-world"].versions[-1].id
    by_id = create(client, "/predictions", {"version": version, "input": {"text": "a"}})
    ref = f"emulator/hello-world:{version}"
    by_ref = create(client, "/predictions", {"version": ref, "input": {"text": "b"}})
    assert by_id["version"] == by_ref["version"] == version
    wrong = client.post("/predictions", json={"version": f"emulator/other:{version}", "input": {}})
    assert wrong.status_code == 404


def test_deployment_prediction(client: httpx.Client) -> None:
    body = {"input": {"text": "dep"}}
    path = "/deployments/emulator/hello-deployment/predictions"
    prediction = create(client, path, body, Prefer="wait")
    assert prediction["deployment"] == "emulator/hello-deployment"
    assert prediction["model"] == "emulator/hello-world" and prediction["output"] == "hello dep"
    missing = client.post("/deployments/emulator/nope/predictions", json=body)
    assert missing.status_code == 404


def test_validation_is_rfc7807_and_creates_nothing(client: httpx.Client, emu: Emulator) -> None:
    bad = {"input": {"width": 5000, "scheduler": "nope", "num_outputs": "2", "image": "x.png"}}
    response = client.post("/models/emulator/image-maker/predictions", json=bad)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Input validation failed"
    fields = {f["field"]: f["type"] for f in problem["invalid_fields"]}
    assert fields == {
        "input.prompt": "required",
        "input.width": "maximum",
        "input.scheduler": "enum",
        "input.num_outputs": "invalid_type",
        "input.image": "format",
    }
    assert "input.width" in problem["detail"]
    assert emu.counters["predictions_created"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/predictions", {"version": "0" * 64, "input": {}}),
        ("POST", "/models/emulator/missing/predictions", {"input": {}}),
        ("GET", "/predictions/doesnotexist", None),
        ("POST", "/predictions/doesnotexist/cancel", None),
        ("GET", "/models/emulator/missing", None),
    ],
)
def test_unknown_things_are_404_problems(
    client: httpx.Client, method: str, path: str, body: Any
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == 404
    problem = response.json()
    assert problem["status"] == 404 and problem["title"] and problem["detail"]


def test_pagination_walk_newest_first(
    client: httpx.Client, emu: Emulator, server: ServerHandle
) -> None:
    settings(emu).page_size = 2
    ids = [create(client, HELLO, {"input": {"text": str(i)}})["id"] for i in range(5)]
    first = client.get("/predictions").json()
    assert first["previous"] is None
    walked, page, pages = [], first, 0
    while True:
        pages += 1
        walked += [p["id"] for p in page["results"]]
        if page["next"] is None:
            break
        assert page["next"].startswith(f"{server.base_url}/predictions?cursor=")
        page = client.get(page["next"]).json()
        assert page["previous"] is not None
    assert walked == ids[::-1] and pages == 3
    bad = client.get("/predictions", params={"cursor": "garbage!"})
    assert bad.status_code == 400 and bad.json()["status"] == 400


def test_faults_before_handler_create_nothing(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("throttle", route="predictions.create", retry_after=2)
    throttled = client.post(HELLO, json={"input": {"text": "a"}})
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    emu.faults.queue("server_error", route="predictions.create")
    assert client.post(HELLO, json={"input": {"text": "a"}}).status_code == 500
    emu.faults.queue("drop", route="predictions.create")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(HELLO, json={"input": {"text": "a"}})
    assert emu.counters["predictions_created"] == 0
    assert client.get("/predictions").json()["results"] == []


def test_faults_after_handler_create_exactly_one(client: httpx.Client, emu: Emulator) -> None:
    after_handler_faults(emu).queue("error_after_handler", route="predictions.create")
    response = client.post(HELLO, json={"input": {"text": "a"}})
    assert response.status_code == 500 and response.json()["status"] == 500
    after_handler_faults(emu).queue("drop_after_handler")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(HELLO, json={"input": {"text": "b"}})
    assert emu.counters["predictions_created"] == 2
    inputs = [p["input"]["text"] for p in client.get("/predictions").json()["results"]]
    assert inputs == ["b", "a"]
    with pytest.raises(ValueError, match="kind"):
        after_handler_faults(emu).queue("server_error")


def test_run_count_and_registered_model(client: httpx.Client, emu: Emulator) -> None:
    from dashscope_core.emulator.prediction_models import Plan
    from dashscope_core.emulator.prediction_schema import Prop

    def shout(inputs: dict[str, Any], ctx: Any) -> Plan:
        return Plan(output=str(inputs["word"]).upper() * int(inputs["times"]))

    props = [Prop("word", required=True), Prop("times", "integer", default=2, minimum=1)]
    registry(emu).register_model("me/shout", props, shout, description="Shouts")
    prediction = create(
        client, "/models/me/shout/predictions", {"input": {"word": "hi"}}, Prefer="wait"
    )
    assert prediction["output"] == "HIHI"
    model = client.get("/models/me/shout").json()
    assert model["run_count"] == 1 and model["description"] == "Shouts"
    assert model["latest_version"]["id"] == prediction["version"]
