"""Verify webhook deliveries from the prediction API (PROTOCOL.md "Webhooks").

``validate_webhook`` answers True/False; ``verify_webhook`` raises ``WebhookVerificationError``
(a ``DashScopeError``) saying why. Both accept the raw body (bytes or str, exactly as received:
re-serialised JSON does not verify), headers as any mapping (names case-insensitive), the
``whsec_...`` secret, and ``tolerance``: the most seconds allowed between ``webhook-timestamp``
and ``now`` (default: the current time). As in the seed clients (replicate-javascript's
``validateWebhook``, replicate-python's ``validate``), the default ``tolerance=None`` checks the
signature only; pass ``tolerance=RECOMMENDED_TOLERANCE`` (300 s) to also reject replayed or
stale deliveries.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from dashscope_core._protocol.webhooks import check_webhook, sign_webhook
from dashscope_core.errors import DashScopeError

__all__ = [
    "RECOMMENDED_TOLERANCE",
    "WebhookVerificationError",
    "sign_webhook",
    "validate_webhook",
    "verify_webhook",
]

RECOMMENDED_TOLERANCE = 300.0
"""Seconds of clock difference worth accepting when checking freshness (Standard Webhooks)."""


class WebhookVerificationError(DashScopeError):
    """A webhook delivery whose signature or timestamp does not check out."""


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    tolerance: float | None = None,
    now: float | None = None,
) -> None:
    """Raise ``WebhookVerificationError`` unless the delivery is authentic and fresh."""
    reason = check_webhook(
        headers, body, secret, tolerance=tolerance, now=time.time() if now is None else now
    )
    if reason is not None:
        raise WebhookVerificationError(f"webhook verification failed: {reason}")


def validate_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    tolerance: float | None = None,
    now: float | None = None,
) -> bool:
    """True when the delivery's signature matches and its timestamp is within ``tolerance``."""
    try:
        verify_webhook(headers, body, secret, tolerance, now)
    except WebhookVerificationError:
        return False
    return True
