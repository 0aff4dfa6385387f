"""``client.files`` / ``client.batches`` and the job layer over real HTTP against the emulator,
sync and async: order, ids, splitting by model, progress, failures, expiry, cancel, timeouts,
resuming in another process, and what reached the wire."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from _twin import Twin

from dashscope_core import BatchJob, ChatCompletion
from dashscope_core.emulator import Emulator, ServerHandle, batch_settings
from dashscope_core.errors import (
    BadRequestError,
    BatchFailedError,
    NotFoundError,
    WaitTimeoutError,
)

KEY = "sk-batch-tests"


class FakeClock:
    """The emulator's batch clock; the client's sleep moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Batcher(Twin):
    """A sync or async client whose sleeps advance the emulator's clock."""

    def __init__(self, mode: str, server: ServerHandle, clock: FakeClock, **options: Any):
        super().__init__(mode, on_sleep=clock.advance, api_key=KEY, base_url=server.base_url,
                         **options)  # fmt: skip
        self.clock = clock
        self.client._clock = clock  # wait's deadline reads the same clock


@pytest.fixture
def clock(emu: Emulator) -> FakeClock:
    fake = FakeClock()
    knobs = batch_settings(emu)
    knobs.clock = fake
    knobs.validating, knobs.per_line, knobs.min_running, knobs.finalizing = 5, 2, 10, 5
    return fake


@pytest.fixture(params=["sync", "async"])
def bx(request: pytest.FixtureRequest, server: ServerHandle, clock: FakeClock) -> Iterator[Batcher]:
    batcher = Batcher(request.param, server, clock)
    yield batcher
    batcher.close()


def chat(text: str, model: str = "qwen-plus", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def test_results_come_in_input_order_with_typed_bodies_and_errors(bx: Batcher, emu: Emulator):
    requests = [
        chat("alpha"),
        {"custom_id": "m-1", "body": chat("beta", "qwen-max")},
        chat("gamma"),
        {"custom_id": "bad", "body": chat("delta", temperature=5)},
        chat("epsilon", "qwen-max"),
    ]
    job = bx.run(bx.client.batches.submit(requests))
    assert len(job.ids) == 2  # one model per input file
    assert job.count == 5 and job.custom_ids == ["0", "m-1", "2", "bad", "4"]
    job = bx.run(bx.client.batches.wait(job, interval=10))
    assert job.status == "completed" and job.request_counts.failed == 1
    results = bx.collect(bx.client.batches.results(job))
    assert [r.custom_id for r in results] == ["0", "m-1", "2", "bad", "4"]
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    for result, word in zip(results, ["alpha", "beta", "gamma", None, "epsilon"], strict=True):
        if word is None:
            assert isinstance(result.error, BadRequestError) and result.response is None
            assert result.error.code == "invalid_parameter_error"
            assert "temperature" in result.error.message and result.error.request_id
        else:
            assert result.ok and isinstance(result.response, ChatCompletion)
            assert word in result.response.text
    assert results[1].response.model == "qwen-max"
    uploads = [r for r in emu.received("compatible_files") if r.method == "POST"]
    models = [{json.loads(line)["body"]["model"] for line in _file_lines(r)} for r in uploads]
    assert models == [{"qwen-plus"}, {"qwen-max"}]


def _file_lines(upload: Any) -> list[bytes]:
    head = f"Content-Type: {upload.headers['content-type']}\r\n\r\n".encode()
    form = BytesParser(policy=policy.HTTP).parsebytes(head + upload.body)
    (file,) = [p for p in form.iter_parts() if p.get_filename()]
    return file.get_payload(decode=True).splitlines()


def test_progress_sees_the_counts_grow(bx: Batcher) -> None:
    seen: list[tuple[str, int, int]] = []
    job = bx.run(bx.client.batches.submit([chat(f"q{i}") for i in range(10)]))

    def progress(current: BatchJob) -> None:
        counts = current.request_counts
        seen.append((current.status, counts.completed, counts.total))

    bx.run(bx.client.batches.wait(job, progress=progress, interval=4))
    statuses = [s for s, _, _ in seen]
    assert statuses[0] == "validating" and statuses[-1] == "completed"
    assert "in_progress" in statuses and "finalizing" in statuses
    done = [c for _, c, _ in seen]
    assert (
        done == sorted(done)
        and done[-1] == 10
        and 0 < max(d for s, d, _ in seen if s == "in_progress") < 10
    )
    assert set(bx.sleeps) == {4}


def test_wait_timeout_leaves_the_job_running(bx: Batcher, emu: Emulator) -> None:
    job = bx.run(bx.client.batches.submit([chat("slow")]))
    with pytest.raises(WaitTimeoutError) as caught:
        bx.run(bx.client.batches.wait(job, timeout=7, interval=5))
    assert caught.value.job.status in ("validating", "in_progress")
    assert isinstance(caught.value, TimeoutError)
    assert bx.sleeps == [5, 2]  # the last sleep ends on the deadline
    assert not [r for r in emu.received("batches") if r.path.endswith("/cancel")]
    job = bx.run(bx.client.batches.wait(caught.value.job, interval=5))
    assert job.status == "completed"


def test_a_batch_that_fails_validation_raises_from_wait_and_results(bx: Batcher) -> None:
    job = bx.run(bx.client.batches.submit([chat("x", "not-a-batch-model")]))
    with pytest.raises(BatchFailedError) as caught:
        bx.run(bx.client.batches.wait(job, interval=5))
    error = caught.value
    assert error.code == "model_not_found" and error.batch.status == "failed"
    assert error.errors[0].line == 1 and "not-a-batch-model" in str(error)
    with pytest.raises(BatchFailedError):
        bx.collect(bx.client.batches.results(job))


def test_expired_batch_reports_the_requests_that_never_ran(bx: Batcher, emu: Emulator) -> None:
    batch_settings(emu).per_line = 3600 * 10  # 4 lines: 40 h of work in a 24 h window
    job = bx.run(bx.client.batches.submit([chat(f"q{i}") for i in range(4)]))
    job = bx.run(bx.client.batches.wait(job, interval=3600))
    assert job.status == "expired"
    results = bx.collect(bx.client.batches.results(job))
    assert [r.ok for r in results] == [True, True, False, False]
    assert {r.error.code for r in results if r.error} == {"batch_expired"}


def test_cancel_keeps_what_ran_and_marks_the_rest(bx: Batcher) -> None:
    job = bx.run(bx.client.batches.submit([chat(f"q{i}") for i in range(10)]))
    bx.clock.advance(5 + 9)  # validated, then 4.5 lines' worth of running
    cancelled = bx.run(bx.client.batches.cancel(job.ids[0]))
    assert cancelled.status == "cancelling" and cancelled.cancelling_at is not None
    with pytest.raises(BadRequestError):  # a second cancel: already cancelling
        bx.run(bx.client.batches.cancel(job.ids[0]))
    job = bx.run(bx.client.batches.wait(job, interval=5))
    assert job.status == "cancelled" and job.done
    results = bx.collect(bx.client.batches.results(job))
    assert [r.ok for r in results] == [True] * 4 + [False] * 6
    assert {r.error.code for r in results if r.error} == {"batch_cancelled"}


def test_results_before_the_end_is_a_value_error(bx: Batcher) -> None:
    job = bx.run(bx.client.batches.submit([chat("early")]))
    with pytest.raises(ValueError, match=r"job: .*wait\(job\)"):
        bx.collect(bx.client.batches.results(job))


def test_duplicate_custom_id_fails_before_any_request(bx: Batcher, emu: Emulator) -> None:
    requests = [{"custom_id": "a", "body": chat("1")}, {"custom_id": "a", "body": chat("2")}]
    with pytest.raises(ValueError, match=r"requests\[1\]: duplicate custom_id 'a'"):
        bx.run(bx.client.batches.submit(requests))
    with pytest.raises(ValueError, match="requests: no requests"):
        bx.run(bx.client.batches.submit([]))
    with pytest.raises(TypeError, match="requests"):
        bx.run(bx.client.batches.submit(chat("one dict is not a list")))
    with pytest.raises(ValueError, match="completion_window"):
        bx.run(bx.client.batches.submit([chat("x")], completion_window="2h"))
    assert emu.received() == []


def test_embedding_jobs_return_the_realtime_vectors(bx: Batcher) -> None:
    texts = [["red apple", "green pear"], ["blue sky"]]
    requests = [{"model": "text-embedding-v4", "input": t, "dimensions": 64} for t in texts]
    job = bx.run(bx.client.batches.submit(requests, endpoint="/v1/embeddings"))
    job = bx.run(bx.client.batches.wait(job, interval=5))
    vectors = [v for r in bx.collect(bx.client.batches.results(job)) for v in r.response.embeddings]
    flat = ["red apple", "green pear", "blue sky"]
    direct = bx.run(bx.client.embeddings.call(model="text-embedding-v4", dimension=64, texts=flat))
    assert len(vectors) == 3
    for got, want in zip(vectors, direct.embeddings, strict=True):
        assert got == pytest.approx(want)


async def _agen(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def test_async_submit_takes_an_async_iterable(server: ServerHandle, clock: FakeClock) -> None:
    batcher = Batcher("async", server, clock)
    try:
        job = batcher.run(batcher.client.batches.submit(_agen([chat("a"), chat("b")])))
        job = batcher.run(batcher.client.batches.wait(job, interval=5))
        assert [r.ok for r in batcher.collect(batcher.client.batches.results(job))] == [True] * 2
    finally:
        batcher.close()


def test_job_resumes_in_another_process(bx: Batcher, server: ServerHandle) -> None:
    job = bx.run(bx.client.batches.submit([{"custom_id": "z", "body": chat("far away")},
                                           chat("second")]))  # fmt: skip
    text = job.to_json()
    assert KEY not in text
    job = bx.run(bx.client.batches.wait(BatchJob.from_json(text), interval=5))
    script = (
        "import sys; from dashscope_core import DashScope, BatchJob\n"
        "job = BatchJob.from_json(sys.stdin.read())\n"
        f"client = DashScope(api_key={KEY!r}, base_url={server.base_url!r})\n"
        "for r in client.batches.results(job): print(r.custom_id, r.response.text)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], input=BatchJob.from_json(text).to_json(),
                         capture_output=True, text=True, timeout=60, check=True).stdout  # fmt: skip
    lines = out.splitlines()
    assert lines[0].startswith("z ") and "far away" in lines[0]
    assert lines[1].startswith("1 ") and "second" in lines[1]


def test_files_resource_round_trip(bx: Batcher, tmp_path: Path) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    files = bx.client.files
    from_path = bx.run(files.create(path))
    from_bytes = bx.run(files.create(b"raw bytes", "file-extract", filename="notes.txt"))
    from_io = bx.run(files.create(io.BytesIO(b"from io")))
    assert (from_path.filename, from_path.bytes, from_path.purpose) == ("input.jsonl", 9, "batch")
    assert from_path.id.startswith("file-batch-") and from_bytes.id.startswith("file-fe-")
    assert bx.run(files.content(from_bytes.id)) == b"raw bytes"
    assert b"".join(bx.collect(files.iter_content(from_io.id))) == b"from io"
    assert bx.run(files.get(from_path.id)) == from_path
    first = bx.run(files.list(limit=2))
    assert [f.id for f in first] == [from_io.id, from_bytes.id] and first.has_more
    rest = bx.run(files.list(limit=2, after=first.last_id))
    assert [f.id for f in rest] == [from_path.id] and not rest.has_more
    assert [f.id for f in bx.run(files.list(purpose="file-extract"))] == [from_bytes.id]
    gone = bx.run(files.delete(from_path.id))
    assert gone.deleted and gone.id == from_path.id
    with pytest.raises(NotFoundError) as caught:
        bx.run(files.get(from_path.id))
    assert caught.value.status_code == 404 and caught.value.request_id


@pytest.mark.parametrize(
    ("file", "error", "match"),
    [(Path("/no/such/file.jsonl"), ValueError, "file: no such file"),
     (io.StringIO("text"), TypeError, "file: expected a binary file object"),
     (3, TypeError, "file: expected a path")],
)  # fmt: skip
def test_bad_uploads_fail_before_any_request(
    bx: Batcher, emu: Emulator, file: Any, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        bx.run(bx.client.files.create(file))
    with pytest.raises(ValueError, match="purpose"):
        bx.run(bx.client.files.create(b"x", ""))
    assert emu.received() == []


def test_list_batches_filters_reach_the_wire(bx: Batcher, emu: Emulator) -> None:
    page = bx.run(bx.client.batches.list(status=["completed", "failed"], input_file_ids=["f1"],
                                         limit=5, ds_name="nightly"))  # fmt: skip
    assert page.data == [] and not page.has_more
    (sent,) = emu.received("batches")
    assert sent.path == "/batches"
    job = bx.run(bx.client.batches.submit([chat("x")], metadata={"ds_name": "nightly"}))
    found = bx.run(bx.client.batches.list(ds_name="nightly"))
    assert [b.id for b in found] == job.ids
    assert bx.run(bx.client.batches.list(ds_name="other")).data == []


def test_workspace_and_key_reach_the_compatible_routes(
    server: ServerHandle, clock: FakeClock, emu: Emulator
) -> None:
    batcher = Batcher("sync", server, clock, workspace="ws-42")
    try:
        batcher.client.files.create(b"x")
    finally:
        batcher.close()
    (upload,) = emu.received("compatible_files")
    assert upload.headers["x-dashscope-workspace"] == "ws-42"
    assert upload.headers["authorization"] == f"Bearer {KEY}"
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
