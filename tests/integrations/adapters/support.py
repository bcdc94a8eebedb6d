"""Vendor payloads from the fixtures, and what the inbound door must answer to them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from django.db import transaction

from integrations.choices import ExceptionType, TransactionState
from integrations.models import ConnectedSystem, FieldMapping, Transaction
from integrations.services.mappings import mapping_draft_save, mapping_publish
from integrations.services.processing import transactions_process

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"


def publish(slug: str, record_type: str, document: dict[str, Any]) -> FieldMapping:
    """Publishes ``document`` as the system's mapping of ``record_type``."""
    system = ConnectedSystem.objects.get(slug=slug)
    with transaction.atomic():
        draft = mapping_draft_save(system=system, record_type=record_type, document=document)
        mapping_publish(mapping=draft)
    return draft


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


def assert_ignored(response: Any, because: str) -> list[Transaction]:
    """Every event was stored as ignored, with the rule that ignored it, sent to no worker."""
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == body["ignored"] == len(body["results"]) > 0, body
    assert all(because in row["ignored"] for row in body["results"]), body
    transactions = list(Transaction.objects.filter(pk__in=body["transaction_ids"]))
    assert len(transactions) == Transaction.objects.count() == len(body["results"])
    for tx in transactions:
        assert tx.state == TransactionState.IGNORED and because in tx.last_error
        assert tx.enqueued_at is None and tx.finished_at is not None
    return transactions


def assert_parked(response: Any, path: str) -> Transaction:
    """A well-formed event lacking a business value: accepted, the value named by its vendor
    path, and parked as a mapping exception when it runs."""
    assert response.status_code == 202, response.content
    body = response.json()
    [row] = [row for row in body["results"] if path in row.get("unmapped", {})]
    tx = Transaction.objects.get(pk=row["transaction_id"])
    assert path in tx.errors, tx.errors
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.BLOCKED, tx.last_error
    assert tx.exception.exception_type == ExceptionType.MAPPING_INCOMPLETE
    # The exception names the place in the stored record, without the request's batch index.
    assert re.sub(r"^(\w+)?\[\d+\]\.", "", path) in tx.exception.message
    return tx


def assert_nothing_to_do(response: Any) -> None:
    """A well-formed request that holds no record at all (an empty page)."""
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 0 and response.json()["transaction_ids"] == []
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
