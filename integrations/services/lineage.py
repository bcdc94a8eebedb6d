"""Lineage: every transaction carries the correlation id of the contract it serves."""

from __future__ import annotations

from typing import Any

from integrations.models import Transaction


def link_to_contract(tx: Transaction, record: Any) -> None:
    """Gives ``tx`` the correlation id of the contract behind ``record`` (a contract or project)."""
    contract = record if hasattr(record, "correlation_id") else getattr(record, "contract", None)
    correlation_id = getattr(contract, "correlation_id", "")
    if correlation_id and tx.correlation_id != correlation_id:
        Transaction.objects.filter(pk=tx.pk).update(correlation_id=correlation_id)
        tx.correlation_id = correlation_id
