"""Reads of the integration engine."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from integrations.models import ConnectedSystem, Flow, SyncState, Transaction


def transaction_list() -> QuerySet[Transaction]:
    return Transaction.objects.select_related("flow", "source_system", "target_system")


def transaction_detail_queryset() -> QuerySet[Transaction]:
    return transaction_list().prefetch_related("attempts")


def system_list() -> QuerySet[ConnectedSystem]:
    return ConnectedSystem.objects.all()


def flow_list() -> QuerySet[Flow]:
    return Flow.objects.all()


def sync_state_list() -> QuerySet[SyncState]:
    return SyncState.objects.select_related("system", "content_type")


def transaction_state_counts() -> dict[str, int]:
    return dict(
        Transaction.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
