"""Fault injection, observed on the wire."""

from __future__ import annotations

import json

import httpx
import pytest
from emulator_helpers import EMB, GEN, SSE, body, decode

from dashscope_core.emulator import AbortConnection, Emulator, create_app

STREAM = body("Tell me a long story about the sea", incremental_output=True)
EMBED = {"model": "text-embedding-v3", "input": {"texts": ["hello"]}}


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("throttle", 429, "Throttling"), ("429", 429, "Throttling"),
     ("server_error", 500, "InternalError"), ("unavailable", 503, "ServiceUnavailable")],
)  # fmt: skip
def test_status_faults(
    client: httpx.Client, emu: Emulator, kind: str, status: int, code: str
) -> None:
    emu.faults.queue(kind, retry_after=2)
    response = client.post(GEN, json=body())
    assert response.status_code == status
    data = response.json()
    assert data["code"] == code and data["request_id"] == response.headers["x-request-id"]
    assert (response.headers.get("retry-after") == "2") is (status == 429)
    assert client.post(GEN, json=body()).status_code == 200  # one fault per queued item
    assert emu.faults.total == 1


def test_drop_before_any_byte(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(GEN, json=body())
    assert client.post(GEN, json=body()).status_code == 200
    assert emu.faults.injected["drop"] == 1


def test_cut_stream_after_n_events(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("cut", after=2)
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", GEN, json=STREAM, headers=SSE) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            received += chunk
    events = decode(received)
    assert len(events) == 2
    assert all(json.loads(e.data)["output"]["finish_reason"] == "null" for e in events)


def test_error_event_mid_stream(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("error_event", after=3)
    response = client.post(GEN, json=STREAM, headers=SSE)
    assert response.status_code == 200
    events = decode(response.content)
    assert [e.event for e in events] == ["result"] * 3 + ["error"]
    error = events[-1]
    assert error.status == 429 and error.id == "4"
    data = json.loads(error.data)
    assert data["code"] == "Throttling.RateQuota"
    assert data["request_id"] == response.headers["x-request-id"]
    assert b":HTTP_STATUS/429\n" in response.content


def test_missing_final_frame_is_clean_eof(client: httpx.Client, emu: Emulator) -> None:
    full = decode(client.post(GEN, json=STREAM, headers=SSE).content)
    emu.faults.queue("missing_final")
    cut = decode(client.post(GEN, json=STREAM, headers=SSE).content)
    assert len(cut) == len(full) - 1
    assert json.loads(full[-1].data)["output"]["finish_reason"] == "stop"
    assert all(json.loads(e.data)["output"]["finish_reason"] == "null" for e in cut)


def test_slow_first_byte(server_url: str, emu: Emulator) -> None:
    emu.faults.queue("slow", delay=0.5)
    with httpx.Client(base_url=server_url, headers={"Authorization": "Bearer k"}) as http:
        with pytest.raises(httpx.ReadTimeout):
            http.post(GEN, json=body(), timeout=httpx.Timeout(5, read=0.1))
        assert emu.faults.injected["slow_first_byte"] == 1


def test_stall_between_events(server_url: str, emu: Emulator) -> None:
    emu.faults.queue("stall", after=2, delay=0.5)
    received = b""
    timeout = httpx.Timeout(5, read=0.2)
    with (
        httpx.Client(base_url=server_url, headers={"Authorization": "Bearer k"}) as http,
        pytest.raises(httpx.ReadTimeout),
        http.stream("POST", GEN, json=STREAM, headers=SSE, timeout=timeout) as r,
    ):
        for chunk in r.iter_bytes():
            received += chunk
    assert len(decode(received)) == 2


def test_faults_on_json_replies(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("cut_stream")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(EMB, json=EMBED)
    emu.faults.queue("error_event")
    response = client.post(EMB, json=EMBED)
    assert (response.status_code, response.json()["code"]) == (429, "Throttling.RateQuota")


def test_route_specific_and_repeated_faults(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("unavailable", route="embeddings", times=2)
    assert client.post(GEN, json=body()).status_code == 200
    assert [client.post(EMB, json=EMBED).status_code for _ in range(3)] == [503, 503, 200]
    assert emu.faults.injected == {"unavailable": 2}


def test_fault_rate_is_seeded(client: httpx.Client, emu: Emulator) -> None:
    def run() -> list[int]:
        emu.faults.set_rate(0.3, kinds=["throttle", "server_error"], seed=1)
        return [client.post(EMB, json=EMBED).status_code for _ in range(30)]

    first = run()
    emu.faults.reset()
    assert run() == first
    failures = [s for s in first if s != 200]
    assert 0 < len(failures) < 30 and set(failures) <= {429, 500}
    emu.faults.set_rate(1.0, kinds=["drop"], routes=["generation"])
    assert client.post(EMB, json=EMBED).status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(GEN, json=body())
    emu.faults.clear()
    assert client.post(GEN, json=body()).status_code == 200


def test_unknown_fault_kind_and_bad_rate(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="kind"):
        emu.faults.queue("meteor")
    with pytest.raises(ValueError, match="rate"):
        emu.faults.set_rate(1.5)


def test_faults_apply_after_auth(client: httpx.Client, emu: Emulator) -> None:
    emu.faults.queue("throttle")
    bad = client.post(GEN, json=body(), headers={"Authorization": "Bearer invalid"})
    assert bad.status_code == 401
    assert client.post(GEN, json=body()).status_code == 429


async def test_drop_through_asgi_transport_raises() -> None:
    emu = Emulator()
    emu.faults.queue("drop")
    transport = httpx.ASGITransport(app=create_app(emu))
    async with httpx.AsyncClient(transport=transport, base_url="http://t/api/v1") as http:
        with pytest.raises(AbortConnection):
            await http.post(GEN, json=body(), headers={"Authorization": "Bearer k"})
