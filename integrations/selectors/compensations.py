"""Reads of the compensations the engine proposed."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from integrations.models import Compensation, Transaction

# Compensations shown beside one transaction.
SHOWN = 20


def compensation_list() -> QuerySet[Compensation]:
    return Compensation.objects.select_related(
        "system", "requested_by", "approved_by", "decided_by"
    ).order_by("-created_at", "-id")


def compensations_of_transaction(tx: Transaction) -> QuerySet[Compensation]:
    """Those the transaction's step proposed or that it executes, and the others of its
    lineage (the same correlation id: its contract's)."""
    mine = Q(source_transaction=tx) | Q(execution=tx)
    if tx.correlation_id:
        mine |= Q(correlation_id=tx.correlation_id)
    return compensation_list().filter(mine)[:SHOWN]
