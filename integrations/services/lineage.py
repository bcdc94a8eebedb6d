"""Lineage: every transaction carries the correlation id of the contract it serves."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from integrations.models import Transaction


def link_to_contract(tx: Transaction, record: Any) -> None:
    """Gives ``tx`` the correlation id of the contract behind ``record`` (a contract or project)."""
    links_to_contract([(tx, record)])


def links_to_contract(links: list[tuple[Transaction, Any]]) -> None:
    """``link_to_contract`` for many transactions: one statement per contract."""
    changed = []
    for tx, record in links:
        contract = (
            record if hasattr(record, "correlation_id") else getattr(record, "contract", None)
        )
        correlation_id = getattr(contract, "correlation_id", "")
        if correlation_id and tx.correlation_id != correlation_id:
            tx.correlation_id = correlation_id
            changed.append(tx)
    by_contract: dict[str, list[int]] = defaultdict(list)
    for tx in changed:
        by_contract[tx.correlation_id].append(tx.pk)
    for correlation_id, pks in by_contract.items():
        Transaction.objects.filter(pk__in=pks).update(correlation_id=correlation_id)
