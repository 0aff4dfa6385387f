"""Verify webhook deliveries from the prediction API (PROTOCOL.md "Webhooks").

``validate_webhook`` answers True/False; ``verify_webhook`` raises ``WebhookVerificationError``
(a ``DashScopeError``) saying why. Both accept the raw body (bytes or str, exactly as received:
re-serialised JSON does not verify), headers as any mapping (names case-insensitive), the
``whsec_...`` secret, and ``tolerance`` seconds between ``webhook-timestamp`` and ``now``
(default: the current time); ``tolerance=None`` turns the freshness check off.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from dashscope_core._protocol.webhooks import check_webhook, sign_webhook
from dashscope_core.errors import DashScopeError

__all__ = ["WebhookVerificationError", "sign_webhook", "validate_webhook", "verify_webhook"]

DEFAULT_TOLERANCE = 300.0


class WebhookVerificationError(DashScopeError):
    """A webhook delivery whose signature or timestamp does not check out."""


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    tolerance: float | None = DEFAULT_TOLERANCE,
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
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when the delivery's signature matches and its timestamp is within ``tolerance``."""
    try:
        verify_webhook(headers, body, secret, tolerance, now)
    except WebhookVerificationError:
        return False
    return True
