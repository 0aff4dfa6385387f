"""The pure half of rate limiting: ``RateLimit`` checks, pacing, the ramp, adaptation, costs.

Pacing is checked the way a server would see it: many waiters ask a budget on a simulated clock
(``now`` is an argument, nothing sleeps), and every grant is then counted in sliding windows.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashscope_core import RateLimit, estimate_tokens
from dashscope_core._protocol import ratelimit
from dashscope_core._protocol.ratelimit import BudgetState, Decision, Rates, acquire, settle
from dashscope_core._protocol.request_cost import TokenNeed, limited_model, token_need, usage_of

# --------------------------------------------------------------------------- RateLimit


@pytest.mark.parametrize("field", ["rpm", "tpm"])
@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), -0.0])
def test_non_positive_or_non_finite_values_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        RateLimit(**{field: value})


@pytest.mark.parametrize("field", ["rpm", "tpm"])
@pytest.mark.parametrize("value", ["600", True, [600], object()])
def test_non_numeric_values_are_a_value_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: ") as caught:
        RateLimit(**{field: value})  # type: ignore[arg-type]  # the point of the test
    assert isinstance(caught.value, TypeError)  # a wrong type is both


def test_a_rate_limit_needs_requests_or_tokens() -> None:
    with pytest.raises(ValueError, match="rpm/tpm"):
        RateLimit()
    assert RateLimit(tpm=1000).rpm is None
    assert RateLimit(600, 1_000_000) == RateLimit(rpm=600.0, tpm=1e6)


@pytest.mark.parametrize("url", ["http://host:6379", "localhost:6379", "", 6379])
def test_redis_url_must_be_a_redis_url(url: object) -> None:
    with pytest.raises(ValueError, match=r"^redis_url: "):
        RateLimit(rpm=60, redis_url=url)  # type: ignore[arg-type]  # the point of the test


@pytest.mark.parametrize(
    "value",
    [600, "600", {}, {"qwen-plus": 600}, {"rpm": 600}, {"": RateLimit(rpm=1)},
     {1: RateLimit(rpm=1)}, [RateLimit(rpm=1)]],
)  # fmt: skip
def test_a_wrong_rate_limit_argument_names_rate_limit(value: object) -> None:
    with pytest.raises(ValueError, match=r"^rate_limit") as caught:
        RateLimit.per_model(value)
    assert isinstance(caught.value, TypeError)


def test_per_model_forms() -> None:
    one = RateLimit(rpm=60)
    assert RateLimit.per_model(None) is None
    assert RateLimit.per_model(one) == {"*": one}
    assert RateLimit.per_model({"qwen-plus": one}) == {"qwen-plus": one}


# ---------------------------------------------------------------------- the simulation


def _saturate(
    limit: RateLimit, seconds: float, need: TokenNeed | None = None, *, waiters: int = 32,
    late: float = 0.0005, start: float = 1000.0,
) -> list[tuple[float, float]]:  # fmt: skip
    """Grants ``(time, cost)`` of ``waiters`` that always want to go, each waking ``late``."""
    rates, state, grants = Rates.of(limit), BudgetState(), []
    need = need or TokenNeed(0)
    wake = [start] * waiters
    while True:
        i = min(range(waiters), key=wake.__getitem__)
        now = wake[i]
        if now >= start + seconds:
            return grants
        state, decision = acquire(state, rates, need, now)
        if decision.granted:
            grants.append((now, decision.cost))
        else:
            wake[i] = now + decision.wait + late


def _max_in_window(grants: list[tuple[float, float]], width: float, tokens: bool) -> float:
    times = [t for t, _ in grants]
    best = 0.0
    for i, (t, _) in enumerate(grants):
        j = bisect.bisect_left(times, t + width)
        best = max(best, sum(c for _, c in grants[i:j]) if tokens else j - i)
    return best


@pytest.mark.parametrize("rpm", [30, 90, 600, 1200, 6000])
def test_requests_never_exceed_a_sliding_second_or_minute(rpm: float) -> None:
    grants = _saturate(RateLimit(rpm=rpm), 70)

    assert _max_in_window(grants, 1.0, tokens=False) <= math.ceil(rpm / 60)
    assert _max_in_window(grants, 60.0, tokens=False) <= rpm
    steady = [t for t, _ in grants if t >= 1010]
    assert len(steady) / 60 >= 0.93 * rpm / 60  # the pace: HEADROOM less a late wake-up


@pytest.mark.parametrize("cost", [50, 400, 2500])
def test_tokens_never_exceed_a_sliding_second(cost: int) -> None:
    limit = RateLimit(tpm=120_000)  # 2,000 tokens a second
    grants = _saturate(limit, 30, TokenNeed(cost))

    per_second = _max_in_window(grants, 1.0, tokens=True)
    assert per_second <= max(2000, cost)  # a request larger than a second's worth still goes
    pace = 2000 * ratelimit.HEADROOM
    whole_requests = max(1, pace // cost) * cost  # what fits in a second
    assert sum(c for t, c in grants if t >= 1010) / 20 >= 0.95 * min(whole_requests, pace)


def test_a_cold_budget_ramps_instead_of_bursting() -> None:
    grants = [t - 1000 for t, _ in _saturate(RateLimit(rpm=1200), 6)]  # 20 a second
    per_second = [sum(1 for t in grants if k <= t < k + 1) for k in range(6)]

    assert per_second[0] <= 0.5 * 20  # the service's burst guard lets a cold start have half
    for before, after in itertools.pairwise(per_second):
        assert after <= 2 * before  # never more than doubles from one second to the next
    assert per_second[-1] >= 18  # and reaches the pace within a few seconds


def test_an_idle_budget_ramps_again() -> None:
    state, rates = BudgetState(), Rates.of(RateLimit(rpm=1200))
    now = 0.0
    for _ in range(200):  # warm: at full pace
        state, decision = acquire(state, rates, TokenNeed(0), now)
        now += decision.wait
    warm_gap = acquire(state, rates, TokenNeed(0), state.request_at)[1].wait
    cold_gap = acquire(state, rates, TokenNeed(0), now + 30)[1].wait
    assert warm_gap == pytest.approx(1 / (20 * ratelimit.HEADROOM), abs=0.005)
    assert cold_gap > 3 * warm_gap


def test_waiting_changes_nothing() -> None:
    rates = Rates.of(RateLimit(rpm=60, tpm=6000))
    state, first = acquire(BudgetState(), rates, TokenNeed(10), 0.0)
    after, second = acquire(state, rates, TokenNeed(10), 0.1)
    assert first.granted and not second.granted and second.wait > 0
    assert after is state  # a cancelled waiter leaves no trace


# ------------------------------------------------------------------ settle and learn


def test_settling_refunds_or_charges_the_difference() -> None:
    rates = Rates.of(RateLimit(tpm=60_000))
    need = TokenNeed(100, generates=True)
    state, grant = acquire(BudgetState(), rates, need, 0.0)
    assert grant.cost == 100 + ratelimit.OUTPUT_GUESS

    refunded = settle(state, rates, need, grant, (130.0, 30.0), 0.2)
    assert refunded.token_at < state.token_at
    assert refunded.output_tokens == 30  # the first answer sets the expectation
    assert refunded.second == ((0.0, 130.0),)  # corrected where it was charged

    charged = settle(state, rates, need, grant, (2000.0, 1900.0), 0.2)
    assert charged.token_at > state.token_at


def test_learned_output_and_input_bias_shape_the_next_estimate() -> None:
    rates = Rates.of(RateLimit(tpm=6_000_000))
    state = BudgetState()
    for i in range(40):
        need = TokenNeed(200, generates=True)
        state, grant = acquire(state, rates, need, float(i))
        state = settle(state, rates, need, grant, (160.0 + 40.0, 40.0), i + 0.5)
    _, grant = acquire(state, rates, TokenNeed(200, generates=True), 100.0)
    assert grant.cost == pytest.approx(160 + 40, rel=0.05)  # 0.8 of the text estimate + 40
    _, capped = acquire(state, rates, TokenNeed(200, output_cap=10, generates=True), 100.0)
    assert capped.cost == pytest.approx(160 + 10, rel=0.05)


@given(
    st.floats(-1e9, 1e9), st.floats(0, 1e6), st.floats(0, 1),
    st.lists(st.tuples(st.floats(0, 1e9), st.floats(-1e6, 1e6)), max_size=5),
)  # fmt: skip
def test_state_round_trips_through_its_text_form(
    at: float, output: float, scale: float, second: list[tuple[float, float]]
) -> None:
    state = BudgetState(request_at=at, token_at=-math.inf, output_tokens=output,
                        token_scale=scale, second=tuple(second))  # fmt: skip
    assert BudgetState.decode(state.encode()) == state


@pytest.mark.parametrize("text", [None, "", "garbage", "1,2,3", "1;2"])
def test_unreadable_state_starts_fresh(text: str | None) -> None:
    assert BudgetState.decode(text) == BudgetState()


# ------------------------------------------------------------------------ adaptation


def _pace(state: BudgetState, rates: Rates, now: float) -> tuple[float, float]:
    """Seconds between two requests, and tokens per second, that ``state`` allows at ``now``."""
    warm = ratelimit.replace(state, load=5.0, load_at=now, request_at=now, token_at=now)
    after, _ = acquire(warm, rates, TokenNeed(100), now)
    return after.request_at - now, 100 / (after.token_at - now)


@pytest.mark.parametrize(
    ("code", "requests_cut", "tokens_cut"),
    [("Throttling.RateQuota", True, False), ("Throttling.AllocationQuota", False, True),
     ("Throttling", True, True)],
)  # fmt: skip
def test_each_throttling_code_cuts_its_dimension_then_recovers(
    code: str, requests_cut: bool, tokens_cut: bool
) -> None:
    rates = Rates.of(RateLimit(rpm=600, tpm=600_000))
    gap, tps = _pace(BudgetState(), rates, 10.0)
    cut = ratelimit.throttled(BudgetState(), code, 10.0)
    cut_gap, cut_tps = _pace(cut, rates, 10.0)
    assert (cut_gap > gap * 1.2) is requests_cut
    assert (cut_tps < tps / 1.2) is tokens_cut
    assert ratelimit.throttled(cut, code, 10.5) == cut  # one cut per burst of 429s
    assert _pace(cut, rates, 10.0 + 1 / ratelimit.RECOVERY) == pytest.approx((gap, tps))


def test_burst_rate_goes_back_down_the_ramp() -> None:
    warm = BudgetState(load=2.0, load_at=5.0)
    calmer = ratelimit.throttled(warm, "Throttling.BurstRate", 5.0)
    assert calmer.load == pytest.approx(1.0)
    assert calmer.request_scale == warm.request_scale  # the rate itself is not cut


def test_grant_reports_the_next_slot() -> None:
    rates = Rates.of(RateLimit(rpm=60))
    _, decision = acquire(BudgetState(load=5, load_at=0), rates, TokenNeed(0), 0.0)
    slot = 1 / 0.95 - ratelimit.JITTER  # a grant at its slot, less the wake-up allowance
    assert decision == Decision(True, pytest.approx(slot), "requests", 0.0, 0.0)


# ---------------------------------------------------------------------- request cost


def test_models_and_costs_of_request_bodies() -> None:
    chat = {
        "model": "qwen-plus",
        "input": {"messages": [{"role": "user", "content": "a" * 40}]},
        "parameters": {"max_tokens": 64, "tools": [{"function": {"name": "get_weather"}}]},
    }
    words = estimate_tokens("user") + estimate_tokens("a" * 40) + estimate_tokens("get_weather")
    assert limited_model(chat) == "qwen-plus"
    assert token_need(chat, output_limit=8192) == TokenNeed(words, 64.0, True)  # max_tokens wins
    del chat["parameters"]["max_tokens"]
    assert token_need(chat, output_limit=8192).output_cap == 8192  # else the model's limit
    texts = {"model": "text-embedding-v4", "input": {"texts": ["你好世界", "hello"]}}
    assert token_need(texts) == TokenNeed(4 + 2, math.inf, False)  # a token per CJK character
    image = {"model": "qwen-vl-max", "input": {"messages": [{"role": "user", "content": [
        {"image": "https://x.test/cat.png"}, {"image": "data:image/png;base64,AAAA"},
        {"text": "what is it?"}]}]}}  # fmt: skip
    assert token_need(image).input == estimate_tokens("user") + estimate_tokens("what is it?")


@pytest.mark.parametrize("body", [None, {}, {"model": ""}, {"model": None}, [], "qwen"])
def test_bodies_without_a_model_draw_from_no_budget(body: object) -> None:
    assert limited_model(body) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"usage": {"input_tokens": 16, "output_tokens": 14, "total_tokens": 30}}, (30, 14)),
        ({"usage": {"input_tokens": 16, "output_tokens": 14}}, (30, 14)),
        ({"usage": {"total_tokens": 3}}, (3, None)),
        ({"usage": {"prompt_tokens": 5, "completion_tokens": 2}}, (7, 2)),
        ({"usage": {"image_count": 1}}, (None, None)),
        ({"output": {}}, (None, None)),
        (b"not json", (None, None)),
        ('{"usage":{"total_tokens":9}}', (9, None)),
    ],
)
def test_usage_of_bodies_and_frames(body: object, expected: tuple[float | None, ...]) -> None:
    assert usage_of(body) == expected  # type: ignore[arg-type]  # bytes, str, dicts


def test_random_needs_never_overrun_the_token_second() -> None:
    rng = random.Random(3)
    rates = Rates.of(RateLimit(rpm=6000, tpm=60_000))
    state, now, grants = BudgetState(), 0.0, []
    for _ in range(3000):
        need = TokenNeed(rng.randint(1, 900))
        state, decision = acquire(state, rates, need, now)
        if decision.granted:
            grants.append((now, decision.cost))
        else:
            now += decision.wait + rng.uniform(0, 0.003)
    assert _max_in_window(grants, 1.0, tokens=True) <= 1000
