"""The tower's inbound signature: ``X-CT-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is the hex HMAC-SHA256 of ``"<t>.<raw body>"`` with the system's secret.
Several ``v1=`` values may be sent while a secret is rotated; one match is enough.
A timestamp more than the tolerance away from now is refused (replay protection).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable

HEADER = "X-CT-Signature"

# Only ASCII digits (``"²".isdigit()`` is true, ``int("²")`` fails), no more than a Unix
# time needs; only hex digits in a digest (``compare_digest`` raises on non-ASCII text). A
# digest of the wrong length is not malformed: it simply does not match.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
DIGEST = re.compile(r"[0-9a-fA-F]{1,128}")


class SignatureError(Exception):
    """Why a signature was refused: ``missing``, ``malformed``, ``expired`` or ``mismatch``."""

    MESSAGES = {
        "missing": f"The {HEADER} header is missing.",
        "malformed": f"The {HEADER} header is malformed; expected t=<unix seconds>,v1=<hex>.",
        "expired": f"The {HEADER} timestamp is outside the allowed tolerance.",
        "mismatch": f"The {HEADER} signature does not match the body.",
        "no_secret": "No inbound signing secret is configured for this system.",
    }

    def __init__(self, reason: str) -> None:
        super().__init__(self.MESSAGES[reason])
        self.reason = reason


def compute(secret: str, body: bytes, timestamp: int) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value a sender puts on ``body``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={compute(secret, body, timestamp)}"


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    secrets = list(secrets)
    if not secrets:
        raise SignatureError("no_secret")
    if not header or not header.strip():
        raise SignatureError("missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise SignatureError("malformed")
        if key == "t":
            if not TIMESTAMP.fullmatch(value) or timestamp is not None:
                raise SignatureError("malformed")
            timestamp = int(value)
        elif key == "v1":
            if not DIGEST.fullmatch(value):
                raise SignatureError("malformed")
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise SignatureError("malformed")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("expired")
    expected = [compute(secret, body, timestamp) for secret in secrets]
    if not any(hmac.compare_digest(e, c) for e in expected for c in candidates):
        raise SignatureError("mismatch")
