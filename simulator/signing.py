"""How a simulated system signs the events it pushes to the tower's inbound API.

The tower publishes one scheme for every sender (README, "Try it: push a signed event")::

    X-CT-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">

with the sending system's secret. This is the sender's side only, written to that
description as another vendor would write it: the simulator stands for systems outside
the tower and shares no code with it, so it does not borrow the tower's verifier.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-CT-Signature"


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-CT-Signature`` value for ``body`` sent at ``timestamp`` (now by default).

    ``body`` must be the exact bytes sent: the tower signs over the raw body, so any
    re-serialisation after signing makes the signature a mismatch.
    """
    timestamp = int(time.time()) if timestamp is None else timestamp
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
