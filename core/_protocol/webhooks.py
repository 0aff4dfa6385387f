"""Webhook signatures (PROTOCOL.md "Webhooks"): pure, the clock is an argument.

Rules of this module:
- The signed content is ``"{webhook-id}.{webhook-timestamp}.{raw body}"``; the key is the
  base64-decoded part of the secret after ``whsec_``; signatures are ``v1,<base64 HMAC-SHA256>``.
- ``webhook-signature`` may carry several space-separated signatures; any match is enough.
- Comparison is constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["check_webhook", "sign_webhook"]

_PREFIX = "whsec_"


def _key(secret: str) -> bytes:
    if not isinstance(secret, str) or not secret:
        raise ValueError("secret: expected the webhook signing secret 'whsec_...'")
    raw = secret[len(_PREFIX) :] if secret.startswith(_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("secret: not valid base64 after 'whsec_'") from exc


def _body(body: bytes | str) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(
        f"body: expected the raw request body as bytes or str, got {type(body).__name__}"
    )


def sign_webhook(msg_id: str, timestamp: int | str, body: bytes | str, secret: str) -> str:
    """The ``v1,<base64>`` signature of one delivery (the emulator signs with this)."""
    content = f"{msg_id}.{timestamp}.".encode() + _body(body)
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def check_webhook(
    headers: Mapping[str, str],
    body: bytes | str,
    secret: str,
    *,
    tolerance: float | None,
    now: float,
) -> str | None:
    """None when the delivery is authentic and fresh, else the reason it is not."""
    msg_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature header"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return f"webhook-timestamp is not an integer: {timestamp!r}"
    if tolerance is not None and abs(now - sent_at) > tolerance:
        return f"webhook-timestamp {sent_at} is more than {tolerance:g} s away from now"
    expected = sign_webhook(msg_id, timestamp, body, secret).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return None
    return "no signature matches"
