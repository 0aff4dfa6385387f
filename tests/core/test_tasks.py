"""DashScope async tasks and image synthesis: recorded fixtures, wait outcomes, deadline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _prediction_fakes import DS, ds
from _recorded import recording_bytes

from dashscope_core import DeadlineExceededError, JobCancelledError, Task
from dashscope_core.errors import (
    InternalServerError,
    NotFoundError,
    TaskFailedError,
)
from dashscope_core.resources.images import build_generate
from dashscope_core.resources.tasks import build_submit

__all__ = ["ds"]

SYNTH = "/services/aigc/text2image/image-synthesis"
TASK_ID = "9e2b6ef6-285d-4efa-8651-4dbda7d571fa"


def load(name: str, part: str) -> Any:
    raw = recording_bytes(f"{name}.{part}")
    return json.loads(raw) if part.endswith(("json", "body.txt")) else raw.decode()


SUBMIT = load("image-synthesis-nosse", "response.body.txt")
RUNNING = load("get-task-running-nosse", "response.body.txt")
SUCCESS = load("get-task-image-synthesis-success-nosse", "response.body.txt")


def _task(status: str, **output: Any) -> dict[str, Any]:
    return {"request_id": "r", "output": {"task_id": TASK_ID, "task_status": status, **output}}


def test_build_generate_reproduces_the_recorded_request() -> None:
    recorded = load("image-synthesis-nosse", "request.body.json")
    spec = build_generate(
        "wanx-v1", "一只奔跑的猫", style="<sketch>", size="1024*1024", n=4, seed=42
    )
    assert spec.json == recorded
    assert spec.path == SYNTH and spec.method == "POST"
    assert dict(spec.headers) == {"X-DashScope-Async": "enable"}
    assert "X-DashScope-Async: enable" in load("image-synthesis-nosse", "request.header.txt")
    assert spec.replay_safe is False


def test_recorded_answers_parse() -> None:
    submitted = Task.model_validate(SUBMIT)
    assert (submitted.task_id, submitted.status) == (TASK_ID, "PENDING")
    assert submitted.request_id == "33da8e6b-1309-9a44-be83-352165959608"
    running = Task.model_validate(RUNNING)
    assert running.status == "RUNNING" and running.output.task_metrics == {
        "TOTAL": 4,
        "SUCCEEDED": 0,
        "FAILED": 0,
    }
    done = Task.model_validate(SUCCESS)
    assert done.status == "SUCCEEDED" and done.usage is not None and done.usage.image_count == 4
    assert done.output.results is not None and len(done.output.results) == 4
    assert done.output.results[0].url == SUCCESS["output"]["results"][0]["url"]
    assert done.output.end_time == "2024-03-01 17:38:55.565"


def test_images_generate_replays_the_recording(ds: DS) -> None:
    ds.api.expect("POST", SYNTH, SUBMIT)
    ds.api.expect("GET", f"/tasks/{TASK_ID}", RUNNING)
    ds.api.expect("GET", f"/tasks/{TASK_ID}", SUCCESS)
    seen: list[str] = []
    task = ds.run(
        ds.client.images.generate(
            "wanx-v1",
            "一只奔跑的猫",
            style="<sketch>",
            size="1024*1024",
            n=4,
            seed=42,
            progress=lambda t: seen.append(t.status),
        )
    )
    assert ds.api.json(0) == load("image-synthesis-nosse", "request.body.json")
    assert ds.api.requests[0].headers["x-dashscope-async"] == "enable"
    assert "x-dashscope-async" not in ds.api.requests[1].headers
    assert [r.url for r in task.output.results][:1] == [SUCCESS["output"]["results"][0]["url"]]
    assert seen == ["PENDING", "RUNNING", "SUCCEEDED"]
    assert ds.clock.sleeps == [1.0]


def test_submit_get_cancel_list(ds: DS) -> None:
    ds.api.expect("POST", "/services/aigc/video-generation/video-synthesis", SUBMIT)
    ds.api.expect("GET", f"/tasks/{TASK_ID}", RUNNING)
    ds.api.expect("POST", f"/tasks/{TASK_ID}/cancel", {"request_id": "c"})
    ds.api.expect(
        "GET",
        "/tasks?page_no=2&page_size=5&status=RUNNING&model_name=wanx-v1",
        {"request_id": "l", "data": [RUNNING["output"]], "total": 6, "page_no": 2},
    )
    sub = ds.run(
        ds.client.tasks.submit(
            "/services/aigc/video-generation/video-synthesis",
            model="wanx-v1",
            input={"prompt": "x"},
        )
    )
    assert sub.task_id == TASK_ID
    assert ds.api.json(0) == {"model": "wanx-v1", "input": {"prompt": "x"}}
    assert ds.run(ds.client.tasks.get(TASK_ID)).status == "RUNNING"
    assert ds.run(ds.client.tasks.cancel(TASK_ID)) == {"request_id": "c"}
    page = ds.run(ds.client.tasks.list(page_no=2, page_size=5, status="RUNNING", model="wanx-v1"))
    assert page.total == 6 and page.data[0]["task_status"] == "RUNNING"


def test_submit_is_not_replayed_on_500(ds: DS) -> None:
    ds.api.expect("POST", SYNTH, {"code": "InternalError", "message": "x"}, status=500)
    with pytest.raises(InternalServerError):
        ds.run(ds.client.images.submit("wanx-v1", "cat"))
    assert len(ds.api.requests) == 1


def test_failed_task_raises_with_code(ds: DS) -> None:
    ds.api.expect(
        "GET",
        f"/tasks/{TASK_ID}",
        _task(
            "FAILED",
            code="DataInspectionFailed",
            message="Input data may contain inappropriate content.",
        ),
    )
    with pytest.raises(TaskFailedError, match="inappropriate") as info:
        ds.run(ds.client.tasks.wait(TASK_ID))
    assert info.value.code == "DataInspectionFailed" and info.value.request_id == "r"
    assert info.value.task.output.task_id == TASK_ID


def test_unknown_task_raises_not_found(ds: DS) -> None:
    ds.api.expect(
        "GET",
        "/tasks/nope",
        {"request_id": "r", "output": {"task_id": "nope", "task_status": "UNKNOWN"}},
    )
    with pytest.raises(NotFoundError, match="UNKNOWN"):
        ds.run(ds.client.tasks.wait("nope"))


def test_canceled_task_raises(ds: DS) -> None:
    ds.api.expect("GET", f"/tasks/{TASK_ID}", _task("CANCELED"))
    with pytest.raises(JobCancelledError, match="cancelled by the server"):
        ds.run(ds.client.tasks.wait(TASK_ID))


def test_deadline_cancels_and_reports_a_refused_cancel(ds: DS) -> None:
    for _ in range(3):
        ds.api.expect("GET", f"/tasks/{TASK_ID}", RUNNING)
    ds.api.expect(
        "POST",
        f"/tasks/{TASK_ID}/cancel",
        {"code": "UnsupportedOperation", "message": "not PENDING"},
        status=400,
    )
    with pytest.raises(DeadlineExceededError, match="server-side cancel failed") as info:
        ds.run(ds.client.tasks.wait(TASK_ID, interval=2.0, timeout=3.0))
    assert info.value.reason == "deadline"
    assert ds.clock.sleeps == [2.0, 1.0]


def test_deadline_on_pending_task_cancels(ds: DS) -> None:
    ds.api.expect("GET", f"/tasks/{TASK_ID}", _task("PENDING"))
    ds.api.expect("GET", f"/tasks/{TASK_ID}", _task("PENDING"))  # the poll at the deadline
    ds.api.expect("POST", f"/tasks/{TASK_ID}/cancel", {"request_id": "c"})
    with pytest.raises(DeadlineExceededError) as info:
        ds.run(ds.client.tasks.wait(TASK_ID, interval=5.0, timeout=0.5))
    assert info.value.item.status == "CANCELED"
    assert ds.clock.sleeps == [0.5]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "x", "n": 9}, "n"),
        ({"prompt": "x", "size": "1024x1024"}, "size"),
        ({"prompt": "x", "timeout": 0}, "timeout"),
    ],
)
def test_generate_validates_before_sending(ds: DS, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ds.run(ds.client.images.generate("wanx-v1", **kwargs))
    assert ds.api.requests == []


def test_submit_validates_route_and_model() -> None:
    with pytest.raises(ValueError, match="route"):
        build_submit("https://evil.example/x", model="m", input={})
    with pytest.raises(ValueError, match="model"):
        build_submit(SYNTH, model="", input={})
    with pytest.raises(TypeError, match="input"):
        build_submit(SYNTH, model="m", input=["x"])  # type: ignore[arg-type]
