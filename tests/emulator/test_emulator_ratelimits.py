"""The emulator's rate limits: the service's 429 codes and bodies, its windows, the counts.

Window logic is checked on ``RateLimits`` with explicit times; the wire (bodies, headers, the
200 + error frame of a refused stream, the stats route, the CLI) over real HTTP.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from emulator_helpers import EMB, GEN, SSE, body, decode

from dashscope_core.emulator import Emulator
from dashscope_core.emulator.cli import build_emulator, build_parser
from dashscope_core.emulator.ratelimits import MESSAGES, ModelLimit, RateLimits, parse_limit

T0 = 1000.0  # a bucket boundary (500 ms buckets)


def _admit_all(limits: RateLimits, times: list[float], model: str = "m") -> list[str | None]:
    refusals = (limits.admit(model, t) for t in times)
    return [None if r is None else r.code for r in refusals]


def test_requests_per_second_and_per_minute() -> None:
    limits = RateLimits().set("m", rpm=120, burst=False)  # 2 a second
    assert _admit_all(limits, [T0, T0 + 0.1, T0 + 0.2]) == [None, None, "Throttling.RateQuota"]
    assert _admit_all(limits, [T0 + 1.0]) == [None]  # the two-bucket second has moved on

    minute = RateLimits().set("m", rpm=5, burst=False)
    times = [T0 + 2 * i for i in range(6)] + [T0 + 60.5]
    assert _admit_all(minute, times) == [None] * 5 + ["Throttling.RateQuota", None]


def test_the_burst_guard_refuses_sudden_growth_not_a_ramp() -> None:
    cold = RateLimits().set("m", rpm=1200)  # 20 a second; a cold start may have 10
    codes = _admit_all(cold, [T0 + i * 0.01 for i in range(12)])
    assert codes[:10] == [None] * 10 and codes[10] == "Throttling.BurstRate"

    ramp = RateLimits().set("m", rpm=1200)
    times, t, per_second = [], T0, 6.0
    while t < T0 + 6:  # 6 a second, growing 1.6x a second up to 19
        times.append(t)
        per_second = min(19.0, per_second * 1.6 ** (1 / per_second))
        t += 1 / per_second
    assert set(_admit_all(ramp, times)) == {None}


def test_tokens_are_booked_when_the_request_was_admitted() -> None:
    limits = RateLimits().set("m", tpm=6000)  # 100 tokens a second
    assert limits.admit("m", T0) is None
    limits.record("m", 150, T0)  # a large answer, booked later but at its admission time
    refusal = limits.admit("m", T0 + 0.4)
    assert refusal is not None and refusal.code == "Throttling.AllocationQuota"
    assert refusal.message == MESSAGES["Throttling.AllocationQuota"]
    assert limits.admit("m", T0 + 1.0) is None  # an empty second takes anything

    minute = RateLimits().set("m", tpm=300)
    for i in range(3):
        assert minute.admit("m", T0 + 2 * i) is None
        minute.record("m", 100, T0 + 2 * i)
    assert minute.admit("m", T0 + 10).code == "Throttling.AllocationQuota"  # type: ignore[union-attr]
    assert minute.admit("m", T0 + 60.1) is None


def test_unlisted_models_use_the_star_limits_and_others_none() -> None:
    limits = RateLimits().set("qwen-plus", rpm=60).set("*", tpm=100)
    assert limits.limit("qwen-plus") == ModelLimit(rpm=60)
    assert limits.limit("qwen-max") == ModelLimit(tpm=100)
    assert RateLimits().limit("qwen-max") is None


def test_counts_and_reset() -> None:
    limits = RateLimits().set("m", rpm=60, burst=False)
    _admit_all(limits, [T0, T0 + 0.1])
    limits.record("m", 42, T0)
    assert limits.snapshot() == {
        "limits": {"m": {"rpm": 60, "tpm": None, "burst": False}},
        "admitted": {"m": 1}, "tokens": {"m": 42}, "throttled": {"Throttling.RateQuota": 1},
        "throttled_total": 1,
    }  # fmt: skip
    limits.reset()
    assert limits.snapshot()["throttled_total"] == 0 and limits.limit("m") is None


@pytest.mark.parametrize(
    ("text", "model", "limit"),
    [("qwen-plus:rpm=600,tpm=100000", "qwen-plus", ModelLimit(600, 100000)),
     ("rpm=60", "*", ModelLimit(rpm=60)),
     ("qwen3.5-plus:tpm=5000,burst=off", "qwen3.5-plus", ModelLimit(tpm=5000, burst=False))],
)  # fmt: skip
def test_parse_limit(text: str, model: str, limit: ModelLimit) -> None:
    assert parse_limit(text) == (model, limit)


@pytest.mark.parametrize("text", ["qwen-plus", "rpm=0", "qwen-plus:rpm=x", "rps=5", "burst=off"])
def test_parse_limit_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_limit(text)


def test_cli_options() -> None:
    args = build_parser().parse_args(
        ["--rate-limit", "qwen-plus:rpm=600,tpm=1000", "--rate-limit", "rpm=60", "--latency", "0.2"]
    )
    emulator = build_emulator(args)
    assert emulator.latency == 0.2
    assert emulator.rate_limits.limit("qwen-plus") == ModelLimit(600, 1000)
    assert emulator.rate_limits.limit("qwen-max") == ModelLimit(rpm=60)


# ------------------------------------------------------------------------------ the wire


def test_a_refusal_is_the_services_429(client: httpx.Client, emu: Emulator) -> None:
    emu.rate_limits.set("qwen-plus", rpm=60, burst=False)
    assert client.post(GEN, json=body()).status_code == 200
    refused = client.post(GEN, json=body())

    assert refused.status_code == 429
    assert refused.json() == {
        "code": "Throttling.RateQuota", "message": MESSAGES["Throttling.RateQuota"],
        "request_id": refused.headers["x-request-id"],
    }  # fmt: skip
    names = {k.lower() for k in refused.headers}
    assert not names & {"retry-after", "x-ratelimit-remaining-requests"}  # none are sent
    assert client.post(GEN, json=body(model="qwen-max")).status_code == 200  # per model
    assert emu.rate_limits.throttled == {"Throttling.RateQuota": 1}


def test_a_refused_stream_is_a_200_with_one_error_frame(
    client: httpx.Client, emu: Emulator
) -> None:
    emu.rate_limits.set("qwen-plus", rpm=60, burst=False)
    client.post(GEN, json=body(), headers=SSE)
    refused = client.post(GEN, json=body(), headers=SSE)

    assert refused.status_code == 200
    [event] = decode(refused.content)
    assert (event.event, event.status) == ("error", 429)
    assert json.loads(event.data)["code"] == "Throttling.RateQuota"


def test_usage_is_booked_against_the_token_limit(client: httpx.Client, emu: Emulator) -> None:
    emu.rate_limits.set("*", tpm=600_000)
    plain = client.post(GEN, json=body("one two three")).json()
    streamed = client.post(GEN, json=body("four five"), headers=SSE)
    last = json.loads(decode(streamed.content)[-1].data)
    vectors = client.post(EMB, json={"model": "text-embedding-v4", "input": {"texts": ["a b"]}})

    counts = emu.rate_limits.snapshot()
    assert counts["tokens"] == {
        "qwen-plus": plain["usage"]["total_tokens"] + last["usage"]["total_tokens"],
        "text-embedding-v4": vectors.json()["usage"]["total_tokens"],
    }
    assert counts["admitted"] == {"qwen-plus": 2, "text-embedding-v4": 1}


def test_the_stats_route_needs_no_key(client: httpx.Client, emu: Emulator) -> None:
    emu.rate_limits.set("qwen-plus", rpm=60, burst=False)
    client.post(GEN, json=body())
    client.post(GEN, json=body())
    stats = httpx.get(f"{client.base_url}emulator/rate-limits").json()
    assert stats["throttled"] == {"Throttling.RateQuota": 1} and stats["admitted"] == {
        "qwen-plus": 1
    }


def test_latency_delays_every_reply(server_url: str) -> None:
    from dashscope_core.emulator import serve

    with serve(Emulator(latency=0.3)) as slow, httpx.Client() as http:
        started = time.monotonic()
        http.get(f"{slow.base_url}/emulator/rate-limits")
        assert time.monotonic() - started >= 0.3
