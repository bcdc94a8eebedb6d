"""Posting vendor payloads to the inbound API with each vendor's own signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.signatures import sign

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def raw(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def document(vendor: str, name: str) -> Any:
    return json.loads(raw(vendor, name))


def body_of(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


def post(client: Any, slug: str, body: Any, **headers: str) -> Any:
    return client.generic(
        "POST",
        f"/api/v1/inbound/{slug}/",
        body_of(body),
        content_type="application/json",
        **headers,
    )


def tower_signed(slug: str, body: Any, *, secret: str | None = None, timestamp: int | None = None):
    """Headers of a body signed with the tower's X-CT-Signature (forwarders, pollers)."""
    return {
        "HTTP_X_CT_SIGNATURE": sign(
            secret or f"demo-{slug}-secret", body_of(body), timestamp=timestamp
        )
    }


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
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    digest = hmac.new(secret.encode(), body_of(body) + stamp.encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_BAMBOOHR_SIGNATURE": digest, "HTTP_X_BAMBOOHR_TIMESTAMP": stamp}


def accepted(response: Any, count: int) -> list[Transaction]:
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == count and body["duplicates"] == 0, body
    transactions = Transaction.objects.in_bulk(body["transaction_ids"])
    return [transactions[pk] for pk in body["transaction_ids"]]


def assert_duplicate(response: Any, first: Any) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["accepted"] == 0
    assert body["transaction_ids"] == first.json()["transaction_ids"]
    assert all(result["duplicate"] for result in body["results"])


def assert_skipped(response: Any) -> None:
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 0
    assert response.json()["transaction_ids"] == []
    assert not Transaction.objects.exists()


def assert_rejected(response: Any, path: str, body: bytes) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert path in errors, errors
    assert path in response.json()["message"] or len(errors) > 1
    rejected = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert rejected.state == TransactionState.REJECTED
    assert rejected.raw_body == body.decode()
    assert rejected.errors == errors
    assert not Transaction.objects.exclude(state=TransactionState.REJECTED).exists()
    return errors


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["reason"] == reason
    assert response.json()["errors"] == {"signature": [reason]}
    assert not Transaction.objects.exists()
