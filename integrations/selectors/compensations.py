"""Reads of the compensations the engine proposed."""

from __future__ import annotations

from django.db.models import QuerySet

from integrations.models import Compensation, Transaction


def compensation_list() -> QuerySet[Compensation]:
    return Compensation.objects.select_related(
        "system", "requested_by", "approved_by", "decided_by"
    ).order_by("-created_at", "-id")


def compensations_of_transaction(tx: Transaction) -> QuerySet[Compensation]:
    """Those the transaction's step proposed, or that it executes."""
    return compensation_list().filter(source_transaction=tx) | compensation_list().filter(
        execution=tx
    )
