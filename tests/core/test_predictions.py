"""run / wait / predictions.*: exact request sequences, bodies, headers, progress, errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from _prediction_fakes import DS, ds, prediction

from dashscope_core import DeadlineExceededError, JobCancelledError, Prediction
from dashscope_core.errors import (
    BadRequestError,
    CancelledError,
    InternalServerError,
    PredictionFailedError,
    RateLimitError,
)

__all__ = ["ds"]

VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


def test_run_version_polls_and_reports_progress(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    ds.api.expect("GET", "/predictions/p1", prediction(status="processing"))
    ds.api.expect("GET", "/predictions/p1", prediction(status="succeeded", output="hello"))
    seen: list[str] = []
    out = ds.run(
        ds.client.run(
            f"acme/hello:{VERSION}",
            input={"text": "x", "skip": None},
            progress=lambda p: seen.append(p.status),
        )
    )
    assert out == "hello"
    assert ds.api.calls == [
        ("POST", "/predictions"),
        ("GET", "/predictions/p1"),
        ("GET", "/predictions/p1"),
    ]
    assert ds.api.json(0) == {"version": VERSION, "input": {"text": "x"}}
    assert ds.api.requests[0].headers["prefer"] == "wait"
    assert ds.api.requests[0].headers["authorization"] == "Bearer sk-secret-prediction-key"
    assert seen == ["starting", "processing", "succeeded"]
    assert ds.clock.sleeps == [0.5]  # the first poll goes out at once, then every interval


def test_run_model_uses_model_endpoint_and_wait_modes(ds: DS) -> None:
    ds.api.expect(
        "POST", "/models/acme/hello/predictions", prediction(status="succeeded", output=["a", "b"])
    )
    assert ds.run(ds.client.run("acme/hello", input={"n": 1}, wait=5)) == ["a", "b"]
    assert ds.api.json(0) == {"input": {"n": 1}}
    assert ds.api.requests[0].headers["prefer"] == "wait=5"
    ds.api.expect("POST", "/models/acme/hello/predictions", prediction(status="succeeded"))
    ds.run(ds.client.run("acme/hello", input={}, wait=False))
    assert "prefer" not in ds.api.requests[1].headers


def test_sync_mode_terminal_prediction_makes_one_request(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(status="succeeded", output=42), status=201)
    seen: list[str] = []
    out = ds.run(
        ds.client.run(f"acme/hello:{VERSION}", input={}, progress=lambda p: seen.append(p.status))
    )
    assert out == 42
    assert len(ds.api.requests) == 1
    assert seen == ["succeeded", "succeeded"]  # after create, and once at the end


@pytest.mark.parametrize(
    "identifier", ["owner:abc", "/model:abc", ":abc", "", "owner/", "a/b/c", "owner/name:", "x"]
)
def test_invalid_identifiers_fail_before_any_request(ds: DS, identifier: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        ds.run(ds.client.run(identifier, input={}))
    assert ds.api.requests == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"webhook": "ftp://example.com/x"}, "webhook"),
        ({"webhook": "/relative"}, "webhook"),
        ({"webhook_events_filter": ["start", "bogus"]}, "webhook_events_filter"),
        ({"webhook_events_filter": "start"}, "webhook_events_filter"),
        ({"wait": 0}, "wait"),
        ({"wait": 61}, "wait"),
        ({"timeout": -1}, "timeout"),
        ({"interval": -0.1}, "interval"),
        ({"progress": "not callable"}, "progress"),
        ({"cancel": object()}, "cancel"),
    ],
)
def test_bad_arguments_fail_before_any_request(
    ds: DS, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        ds.run(ds.client.run("acme/hello", input={}, **kwargs))
    assert ds.api.requests == []


def test_webhook_fields_are_sent(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    created = ds.run(
        ds.client.predictions.create(
            version=VERSION,
            input={"a": 1},
            webhook="https://example.com/hook",
            webhook_events_filter=["start", "completed"],
            stream=True,
        )
    )
    assert isinstance(created, Prediction)
    assert ds.api.json(0) == {
        "version": VERSION,
        "input": {"a": 1},
        "stream": True,
        "webhook": "https://example.com/hook",
        "webhook_events_filter": ["start", "completed"],
    }
    assert "prefer" not in ds.api.requests[0].headers


def test_create_needs_exactly_one_target(ds: DS) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        ds.run(ds.client.predictions.create(input={}))
    with pytest.raises(ValueError, match="exactly one"):
        ds.run(ds.client.predictions.create(version=VERSION, model="a/b", input={}))


def test_failed_prediction_raises_with_error_and_id(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    ds.api.expect("GET", "/predictions/p1", prediction(status="failed", error="CUDA out of memory"))
    seen: list[str] = []
    with pytest.raises(PredictionFailedError) as info:
        ds.run(
            ds.client.run(
                f"acme/hello:{VERSION}", input={}, progress=lambda p: seen.append(p.status)
            )
        )
    assert info.value.prediction_id == "p1"
    assert "CUDA out of memory" in str(info.value)
    assert info.value.prediction.error == "CUDA out of memory"
    assert seen == ["starting", "failed"]


def test_deadline_cancels_server_side_and_raises(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    for _ in range(4):
        ds.api.expect("GET", "/predictions/p1", prediction(status="processing"))
    ds.api.expect("POST", "/predictions/p1/cancel", prediction(status="canceled"))
    with pytest.raises(DeadlineExceededError) as info:
        ds.run(ds.client.run(f"acme/hello:{VERSION}", input={}, timeout=1.2))
    assert isinstance(info.value, CancelledError)
    assert info.value.reason == "deadline"
    assert "deadline" in str(info.value) and "timeout=1.2" in str(info.value)
    assert ds.clock.sleeps == pytest.approx([0.5, 0.5, 0.2])
    assert ds.api.calls[-1] == ("POST", "/predictions/p1/cancel")


def test_cancel_event_cancels_server_side(ds: DS) -> None:
    cancel = threading.Event()
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    ds.api.expect("GET", "/predictions/p1", prediction(status="processing"), on_request=cancel.set)
    ds.api.expect("POST", "/predictions/p1/cancel", prediction(status="canceled"))
    seen: list[str] = []
    with pytest.raises(JobCancelledError) as info:
        ds.run(
            ds.client.run(
                f"acme/hello:{VERSION}",
                input={},
                cancel=cancel,
                progress=lambda p: seen.append(p.status),
            )
        )
    assert info.value.reason == "cancel"
    assert "cancelled on request" in str(info.value)
    assert seen == ["starting", "processing", "canceled"]
    assert ds.api.calls == [
        ("POST", "/predictions"),
        ("GET", "/predictions/p1"),
        ("POST", "/predictions/p1/cancel"),
    ]


def test_cancel_event_cuts_the_sleep_short(ds: DS) -> None:
    if ds.mode == "async":
        pytest.skip("sync only: the async twin is test_asyncio_event_cuts_the_sleep_short")
    cancel = threading.Event()
    ds.api.expect("POST", "/predictions", prediction(), status=201)
    ds.api.expect("GET", "/predictions/p1", prediction(status="processing"))
    ds.api.expect("POST", "/predictions/p1/cancel", prediction(status="canceled"))
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    with pytest.raises(JobCancelledError):  # a 1-hour interval: only the event can end it
        ds.client.run(f"acme/hello:{VERSION}", input={}, cancel=cancel, interval=3600.0)
    assert ds.api.calls[-1] == ("POST", "/predictions/p1/cancel")
    assert ds.clock.sleeps == []  # the event's wait replaced the injected sleep


def test_server_side_cancel_raises(ds: DS) -> None:
    ds.api.expect("GET", "/predictions/p9", prediction("p9", status="canceled"))
    with pytest.raises(JobCancelledError, match="cancelled by the server") as info:
        ds.run(ds.client.wait("p9"))
    assert info.value.reason == "server"


def test_wait_on_finished_prediction_sends_nothing(ds: DS) -> None:
    done = Prediction.model_validate(prediction(status="succeeded", output="x"))
    assert ds.run(ds.client.wait(done)).output == "x"
    assert ds.api.requests == []


def test_post_429_then_success_honours_retry_after(ds: DS) -> None:
    ds.api.expect(
        "POST",
        "/predictions",
        {"status": 429, "detail": "slow down"},
        status=429,
        headers={"Retry-After": "2"},
    )
    ds.api.expect("POST", "/predictions", prediction(status="succeeded", output="ok"), status=201)
    assert ds.run(ds.client.run(f"acme/hello:{VERSION}", input={})) == "ok"
    assert len(ds.api.requests) == 2
    assert ds.clock.sleeps == [2.0]


def test_post_is_not_retried_on_500(ds: DS) -> None:
    ds.api.expect("POST", "/predictions", {"status": 500, "detail": "boom"}, status=500)
    with pytest.raises(InternalServerError, match="boom"):
        ds.run(ds.client.run(f"acme/hello:{VERSION}", input={}))
    assert len(ds.api.requests) == 1


def test_cancel_post_is_not_retried_on_500(ds: DS) -> None:
    ds.api.expect("POST", "/predictions/p1/cancel", {"detail": "boom"}, status=500)
    with pytest.raises(InternalServerError):
        ds.run(ds.client.predictions.cancel("p1"))
    assert len(ds.api.requests) == 1


def test_get_is_retried_on_5xx_and_429(ds: DS) -> None:
    ds.api.expect("GET", "/predictions/p1", {"detail": "unavailable"}, status=503)
    ds.api.expect(
        "GET", "/predictions/p1", {"detail": "slow"}, status=429, headers={"Retry-After": "1"}
    )
    ds.api.expect("GET", "/predictions/p1", prediction(status="processing"))
    assert ds.run(ds.client.predictions.get("p1")).status == "processing"
    assert len(ds.api.requests) == 3
    assert ds.clock.sleeps[-1] == 1.0


def test_rfc7807_errors_are_typed(ds: DS) -> None:
    ds.api.expect(
        "POST",
        "/predictions",
        {"status": 400, "detail": "Invalid input"},
        status=400,
        headers={"x-request-id": "req-1"},
    )
    with pytest.raises(BadRequestError, match="Invalid input") as info:
        ds.run(ds.client.predictions.create(version=VERSION, input={}))
    assert info.value.status_code == 400
    assert info.value.request_id == "req-1"
    assert "sk-secret" not in str(info.value) + repr(info.value)


def test_rate_limit_exhausted_raises_rate_limit_error(ds: DS) -> None:
    for _ in range(3):
        ds.api.expect("POST", "/predictions", {"status": 429, "detail": "throttled"}, status=429)
    with pytest.raises(RateLimitError):
        ds.run(ds.client.predictions.create(version=VERSION, input={}))
    assert len(ds.api.requests) == 3


def test_get_cancel_list(ds: DS) -> None:
    ds.api.expect("GET", "/predictions/p1", prediction(status="processing", logs="a\nb"))
    ds.api.expect("POST", "/predictions/p1/cancel", prediction(status="canceled"))
    ds.api.expect(
        "GET", "/predictions", {"previous": None, "next": None, "results": [prediction("p2")]}
    )
    assert ds.run(ds.client.predictions.get("p1")).logs == "a\nb"
    assert ds.run(ds.client.predictions.cancel("p1")).status == "canceled"
    page = ds.run(ds.client.predictions.list())
    assert [p.id for p in page.results] == ["p2"] and len(page) == 1 and page.next is None
    assert ds.api.requests[1].content == b""


def test_minimal_and_unknown_fields_are_accepted() -> None:
    p = Prediction.model_validate({"id": "x", "status": "aborted", "brand_new": 1})
    assert p.status == "aborted" and p.model_extra == {"brand_new": 1}
