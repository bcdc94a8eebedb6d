"""Building and sending signed canonical events, as a connected system would."""

from __future__ import annotations

import json
import time
from itertools import count
from typing import Any

from integrations.signatures import sign

_ids = count(1)


def customer_event(
    number: str = "C-9001",
    *,
    version: int = 1,
    name: str | None = None,
    legal_entity: str = "US01",
    currency: str = "USD",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "customer.upserted",
        "id": event_id or f"evt-{next(_ids)}-{time.monotonic_ns()}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": version,
        "data": {
            "number": number,
            "name": name or f"Customer {number} v{version}",
            "legal_entity": legal_entity,
            "currency": currency,
        },
    }


def legal_entity_event(code: str, *, version: int = 1, name: str | None = None) -> dict[str, Any]:
    return {
        "type": "legal_entity.upserted",
        "id": f"evt-le-{next(_ids)}-{time.monotonic_ns()}",
        "occurred_at": "2026-11-02T09:30:00+01:00",
        "version": version,
        "data": {
            "code": code,
            "name": name or f"Entity {code}",
            "country": "FR",
            "currency": "EUR",
        },
    }


def signed_post(
    client: Any,
    system: str,
    body: Any,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    header = (
        signature
        if signature is not None
        else sign(secret or f"demo-{system}-secret", raw, timestamp=timestamp)
    )
    headers = {"HTTP_X_CT_SIGNATURE": header} if header else {}
    return client.generic(
        "POST", f"/api/v1/inbound/{system}/", raw, content_type="application/json", **headers
    )
