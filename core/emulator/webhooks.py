"""Webhook delivery for predictions and trainings, signed as PROTOCOL.md describes.

Rules of this module:
- Events ``start`` (on create), ``output``, ``logs`` (whenever they change) and ``completed``
  (terminal) POST the run's JSON, filtered by ``webhook_events_filter`` (default: all).
- Headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64>``: HMAC-SHA256
  keyed by the base64-decoded secret after ``whsec_``, over ``"{id}.{timestamp}.{body}"``
  (``_protocol.webhooks.sign_webhook``, the signing the client verifies).
- Only loopback hosts are accepted (checked at create time); delivery runs in the background,
  never blocks the request, and is not retried. Each attempt is recorded in ``deliveries``.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from dashscope_core._protocol.webhooks import sign_webhook
from dashscope_core.emulator.prediction_http import Problem
from dashscope_core.emulator.prediction_runs import TERMINAL, Delivery, PredictionState, Run

__all__ = ["EVENTS", "check_webhook", "start_sender"]

EVENTS = ("start", "output", "logs", "completed")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_TIMEOUT = 5.0


def check_webhook(url: Any, events: Any) -> tuple[str | None, list[str] | None]:
    """Validated ``(webhook, webhook_events_filter)`` of a create body, else a 422 problem."""
    if url is None:
        if events is not None:
            raise Problem(422, "Invalid webhook", "webhook_events_filter given without webhook")
        return None, None
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem(422, "Invalid webhook", "webhook: expected an http(s) URL")
    if parts.hostname not in _LOOPBACK:
        raise Problem(
            422, "Invalid webhook", "webhook: the emulator only delivers to loopback hosts"
        )
    if events is None:
        return url, None
    if not isinstance(events, list) or any(e not in EVENTS for e in events):
        raise Problem(
            422, "Invalid webhook", f"webhook_events_filter: expected a list of {list(EVENTS)}"
        )
    return url, list(events)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int | None:
    """POST without any proxy (loopback only); the receiver's status, or ``None``."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with opener.open(request, timeout=_TIMEOUT) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, ValueError):
        return None


async def _send(st: PredictionState, run: Run, event: str, payload: dict[str, Any]) -> None:
    assert run.webhook is not None
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    now = st.now()
    msg_id = f"msg_{st.new_id('webhook')}"
    timestamp = str(int(now))
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "user-agent": "dashscope-emulator",
        "webhook-signature": sign_webhook(msg_id, timestamp, body, st.webhook_secret),
    }
    delivery = Delivery(run.webhook, event, run.id, None)
    with st.lock:  # recorded before sending, so a receiver that got it can already see it
        st.deliveries.append(delivery)
    delivery.status = await asyncio.to_thread(_post, run.webhook, body, headers)


def _events(
    previous: tuple[str, Any, int] | None, status: str, output: Any, logs: int
) -> list[str]:
    if previous is None:
        return ["start"] + (["completed"] if status in TERMINAL else [])
    events = []
    if output != previous[1] and status not in TERMINAL:
        events.append("output")
    if logs != previous[2] and status not in TERMINAL:
        events.append("logs")
    if status in TERMINAL:
        events.append("completed")
    return events


async def _watch(st: PredictionState, run: Run, render: Callable[[Run], dict[str, Any]]) -> None:
    wanted: Sequence[str] = run.events_filter if run.events_filter is not None else EVENTS
    previous: tuple[str, Any, int] | None = None
    while True:
        payload = render(run)
        status, output = payload["status"], payload.get("output")
        logs = len(payload.get("logs") or "")
        for event in _events(previous, status, output, logs):
            if event in wanted:
                await _send(st, run, event, payload)
        if status in TERMINAL:
            return
        previous = (status, output, logs)
        await asyncio.sleep(st.settings.poll_interval)


def start_sender(st: PredictionState, run: Run, render: Callable[[Run], dict[str, Any]]) -> None:
    """Deliver ``run``'s webhooks in the background on the running loop."""
    if run.webhook is None:
        return
    task = asyncio.get_running_loop().create_task(_watch(st, run, render))
    st.tasks.add(task)
    task.add_done_callback(st.tasks.discard)
