"""Building events and posting them to the tower's inbound door, signed as each system signs.

- ``events_send`` / ``events_run``: canonical events from a connected system, checked accepted;
  the transaction ids, or the transactions once processed.
- ``signed_post``: any body, signed the system's way; the response, for tests of the door.
- ``inbound_post``: any body with exactly the headers given (a vendor's, a broken one, none).
- ``events_post_over_http``: canonical events to a tower served over real HTTP (a live server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from itertools import count
from typing import Any

import httpx
from django.test import Client

from integrations.models import Transaction
from integrations.services.processing import transactions_process
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


def body_of(value: Any) -> bytes:
    """The bytes a test posts: bytes as they are, anything else as JSON."""
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def inbound_post(client: Any, system: str, body: Any, **headers: str) -> Any:
    """Posts ``body`` to ``system``'s inbound door with exactly the headers given: a vendor's own
    signature headers, a broken signature, or none. Returns the response."""
    return client.generic(
        "POST",
        f"/api/v1/inbound/{system}/",
        body_of(body),
        content_type="application/json",
        **headers,
    )


def signed_post(
    client: Any,
    system: str,
    body: Any,
    *,
    secret: str | None = None,
    timestamp: int | str | None = None,
    signature: str | None = None,
) -> Any:
    """Posts ``body`` as the demo's ``system`` sends it, signed the way it signs: DocuSign Connect
    and BambooHR with their own headers, every other system with X-CT-Signature. Returns the
    response, for the test to judge.

    ``secret`` replaces the system's demo secret; ``timestamp`` signs as of another time (epoch
    seconds; BambooHR's header text as it is); ``signature`` replaces X-CT-Signature ("" sends
    none). For a vendor's header set by hand, use ``inbound_post``.
    """
    if system == "docusign":
        headers = docusign_signed(body, *([secret] if secret else []))
    elif system == "bamboohr":
        headers = bamboohr_signed(
            body,
            secret=secret or "demo-bamboohr-secret",
            timestamp=None if timestamp is None else str(timestamp),
        )
    else:
        header = (
            signature
            if signature is not None
            else sign(
                secret or f"demo-{system}-secret",
                body_of(body),
                timestamp=None if timestamp is None else int(timestamp),
            )
        )
        headers = {"HTTP_X_CT_SIGNATURE": header} if header else {}
    return inbound_post(client, system, body, **headers)


def events_send(
    *events: dict[str, Any], system: str = "crm", process: bool = True, redelivered: bool = False
) -> list[int]:
    """Sends canonical events in one signed request, as ``system`` does, and checks that the door
    took them: 202, or 200 when every one of them was sent before (``redelivered``).

    The events are processed here unless ``process=False`` (a worker or the test does it).
    Returns their transaction ids, in the order of the events.
    """
    response = signed_post(Client(), system, list(events))
    assert response.status_code == (200 if redelivered else 202), response.content
    ids = response.json()["transaction_ids"]
    if process:
        transactions_process(ids=ids)
    return ids


def events_run(*events: dict[str, Any], system: str = "crm") -> list[Transaction]:
    """Sends and processes canonical events (``events_send``); returns their transactions as the
    processing left them, oldest first."""
    ids = events_send(*events, system=system)
    return list(Transaction.objects.filter(pk__in=ids).order_by("pk"))


def docusign_signature(body: Any, secret: str = "demo-docusign-secret") -> str:
    digest = hmac.new(secret.encode(), body_of(body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def docusign_signed(body: Any, *secrets: str) -> dict[str, str]:
    """One X-DocuSign-Signature-<n> header per HMAC key, as Connect sends them."""
    return {
        f"HTTP_X_DOCUSIGN_SIGNATURE_{n}": docusign_signature(body, secret)
        for n, secret in enumerate(secrets or ("demo-docusign-secret",), start=1)
    }


def bamboohr_signed(
    body: Any, *, secret: str = "demo-bamboohr-secret", timestamp: str | None = None
) -> dict[str, str]:
    """X-BambooHR-Signature (HMAC of the body and the timestamp) and X-BambooHR-Timestamp."""
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(secret.encode(), body_of(body) + stamp.encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_BAMBOOHR_SIGNATURE": digest, "HTTP_X_BAMBOOHR_TIMESTAMP": stamp}


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


def events_post_over_http(base_url: str, *events: dict[str, Any], system: str = "crm") -> list[int]:
    """Posts canonical events in one signed request to the tower at ``base_url``, over real
    HTTP, as another system does; checks that they were accepted and returns their ids."""
    raw = json.dumps(list(events)).encode()
    response = httpx.post(
        f"{base_url}/api/v1/inbound/{system}/",
        content=raw,
        headers={
            "Content-Type": "application/json",
            "X-CT-Signature": sign(f"demo-{system}-secret", raw),
        },
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return response.json()["transaction_ids"]
