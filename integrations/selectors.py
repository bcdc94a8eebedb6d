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


def target_system(kind: str) -> ConnectedSystem:
    """The enabled system of ``kind`` the tower writes to (the first by slug with a base URL)."""
    from integrations.choices import ErrorClass
    from integrations.errors import IntegrationError

    system = (
        ConnectedSystem.objects.filter(kind=kind, enabled=True)
        .exclude(base_url="")
        .order_by("slug")
        .first()
    )
    if system is None:
        raise IntegrationError(
            f"No enabled {kind} system with a base URL is connected.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code="other",
            waiting_on=f"system:{kind.upper()}",
        )
    return system


def sync_state_for(record, system: ConnectedSystem) -> SyncState | None:
    from django.contrib.contenttypes.models import ContentType

    return SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(record), object_id=record.pk, system=system
    ).first()


def holds_version(record, system: ConnectedSystem) -> SyncState | None:
    """The sync state when ``system`` already holds ``record`` at its current version."""
    state = sync_state_for(record, system)
    if state and state.outcome == "synced" and (state.last_version or 0) >= record.version:
        return state
    return None
