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


def contract_event(
    number: str = "K-5001",
    *,
    customer: str = "C-1001",
    legal_entity: str = "US01",
    project_code: str | None = None,
    rate_card: str = "RC-US-STD",
    version: int = 1,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "type": "contract.signed",
        "id": event_id or f"evt-k-{next(_ids)}-{time.monotonic_ns()}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": version,
        "data": {
            "number": number,
            "customer": customer,
            "legal_entity": legal_entity,
            "currency": "USD",
            "billing_model": "time_and_materials",
            "start_date": "2026-11-02",
            "end_date": "2027-06-30",
            "rate_card": rate_card,
            "cap_amount": "250000.00",
            "milestones": [
                {
                    "code": "M1",
                    "name": "Discovery signed off",
                    "due_date": "2026-12-15",
                    "amount": "20000",
                },
                {"code": "M2", "name": "Go-live", "due_date": "2027-05-30", "amount": 45000.5},
            ],
            "project": {"code": project_code or f"P-{number}", "name": f"Delivery for {number}"},
            "signed_at": "2026-11-02T09:00:00Z",
        },
    }


def event(
    event_type: str, data: dict[str, Any], *, version: int = 1, event_id: str | None = None
) -> dict[str, Any]:
    """Any canonical event."""
    return {
        "type": event_type,
        "id": event_id or f"evt-{event_type}-{next(_ids)}-{time.monotonic_ns()}",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": version,
        "data": data,
    }
