"""Vendor payloads from the fixtures, and what the inbound door must answer to them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from integrations.choices import TransactionState
from integrations.models import Transaction

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def raw(vendor: str, name: str) -> bytes:
    return (FIXTURES / vendor / name).read_bytes()


def document(vendor: str, name: str) -> Any:
    return json.loads(raw(vendor, name))


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
