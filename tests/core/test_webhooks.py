"""Webhook signatures: the PROTOCOL.md vector, several signatures, tolerance, tampering."""

from __future__ import annotations

import pytest

from dashscope_core import WebhookVerificationError, validate_webhook, verify_webhook
from dashscope_core._protocol.webhooks import sign_webhook
from dashscope_core.errors import DashScopeError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
HEADERS = {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": SIGNATURE}


def test_protocol_vector() -> None:
    assert sign_webhook(MSG_ID, TS, BODY, SECRET) == SIGNATURE
    assert validate_webhook(HEADERS, BODY, SECRET) is True  # as the seed clients: no tolerance
    assert validate_webhook(HEADERS, BODY, SECRET, tolerance=300, now=TS) is True
    assert validate_webhook(HEADERS, BODY.encode(), SECRET, tolerance=300, now=TS + 299) is True
    verify_webhook(HEADERS, BODY, SECRET)


def test_header_names_are_case_insensitive_and_several_signatures_accepted() -> None:
    headers = {
        "Webhook-Id": MSG_ID,
        "WEBHOOK-TIMESTAMP": str(TS),
        "Webhook-Signature": f"v1,bm9wZQ== {SIGNATURE} v2,other",
    }
    assert validate_webhook(headers, BODY, SECRET, now=TS)


@pytest.mark.parametrize(
    ("headers", "body", "now", "reason"),
    [
        (HEADERS, '{"test": 2432232315}', TS, "no signature matches"),
        ({**HEADERS, "webhook-id": "msg_other"}, BODY, TS, "no signature matches"),
        ({**HEADERS, "webhook-signature": "v1,AAAA"}, BODY, TS, "no signature matches"),
        (HEADERS, BODY, TS + 301, "away from now"),
        (HEADERS, BODY, TS - 301, "away from now"),
        ({"webhook-id": MSG_ID}, BODY, TS, "missing"),
        ({**HEADERS, "webhook-timestamp": "soon"}, BODY, TS, "not an integer"),
    ],
)
def test_rejections(headers: dict[str, str], body: str, now: int, reason: str) -> None:
    assert validate_webhook(headers, body, SECRET, tolerance=300, now=now) is False
    with pytest.raises(WebhookVerificationError, match=reason) as info:
        verify_webhook(headers, body, SECRET, tolerance=300, now=now)
    assert isinstance(info.value, DashScopeError)


def test_freshness_uses_the_current_time_by_default() -> None:
    from dashscope_core.webhooks import RECOMMENDED_TOLERANCE

    # the vector is from 2021: signature-only passes, a freshness check against now fails
    assert validate_webhook(HEADERS, BODY, SECRET) is True
    assert validate_webhook(HEADERS, BODY, SECRET, tolerance=RECOMMENDED_TOLERANCE) is False


def test_bad_secret_and_body_types() -> None:
    with pytest.raises(ValueError, match="secret"):
        validate_webhook(HEADERS, BODY, "whsec_***", now=TS)
    with pytest.raises(TypeError, match="body"):
        validate_webhook(HEADERS, {"test": 1}, SECRET, now=TS)  # type: ignore[arg-type]


def test_emulator_deliveries_validate() -> None:
    import queue

    from _loopback import QuietHandler, api_url, serve

    from dashscope_core import DashScope
    from dashscope_core.emulator import Emulator
    from dashscope_core.emulator import serve as emulated
    from dashscope_core.emulator.prediction_runs import state

    received: queue.Queue[tuple[dict[str, str], bytes]] = queue.Queue()

    class Hook(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

    with (
        serve(Hook) as hook,
        emulated(Emulator(seed=3)) as server,
        DashScope("sk-x", base_url=server.base_url) as ds,
    ):
        created = ds.predictions.create(
            model="emulator/hello-world",
            input={"text": "w"},
            webhook=api_url(hook, "/hook"),
            webhook_events_filter=["completed"],
        )
        headers, body = received.get(timeout=10)
        secret = state(server.emulator).webhook_secret
        assert validate_webhook(headers, body, secret)
        assert not validate_webhook(headers, body + b" ", secret)
        assert created.id.encode() in body
