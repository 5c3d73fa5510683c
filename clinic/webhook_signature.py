"""How a webhook is signed, and how a receiver checks it (docs/api.md shows the same check).

Headers: `Moodline-Webhook-Id` (the delivery, the same on every retry), `Moodline-Timestamp`
(Unix seconds when this attempt was signed) and `Moodline-Signature: v1=<hex>`, the
HMAC-SHA256 under the endpoint's secret of `<timestamp>.<body>`. A receiver recomputes it,
compares in constant time, and refuses timestamps outside its window, so a captured delivery
cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

ID_HEADER = "Moodline-Webhook-Id"
TIMESTAMP_HEADER = "Moodline-Timestamp"
SIGNATURE_HEADER = "Moodline-Signature"
VERSION = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{VERSION}={mac.hexdigest()}"


def signed_headers(
    secret: str, delivery_id: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        "Content-Type": "application/json",
    }


def signature_is_valid(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = 300,
    now: float | None = None,
) -> bool:
    """True when `body` was signed with `secret` within `tolerance_s` of `now`."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        timestamp = int(lowered[TIMESTAMP_HEADER.lower()])
        presented = lowered[SIGNATURE_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(presented, signature(secret, timestamp, body))
