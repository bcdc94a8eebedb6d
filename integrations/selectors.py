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


def contract_lineage(contract) -> dict:
    """Everything downstream of a contract: its transactions, and each record with its sync state."""
    from django.contrib.contenttypes.models import ContentType

    from canonical.models import Assignment, Invoice, Project, TimeEntry

    projects = list(Project.objects.filter(contract=contract))
    groups = {
        "contract": [contract],
        "projects": projects,
        "milestones": list(contract.milestones.all()),
        "assignments": list(
            Assignment.objects.filter(project__in=projects).select_related("resource")
        ),
        "time_entries": list(TimeEntry.objects.filter(project__in=projects)),
        "invoices": list(Invoice.objects.filter(project__in=projects)),
    }
    states: dict[tuple[int, int], list[SyncState]] = {}
    for group in groups.values():
        if not group:
            continue
        content_type = ContentType.objects.get_for_model(group[0])
        for state in SyncState.objects.filter(
            content_type=content_type, object_id__in=[record.pk for record in group]
        ).select_related("system"):
            states.setdefault((content_type.pk, state.object_id), []).append(state)

    def describe(record) -> dict:
        content_type = ContentType.objects.get_for_model(record)
        return {
            "type": content_type.model,
            "id": record.pk,
            "key": str(record),
            "version": getattr(record, "version", None),
            "status": getattr(record, "status", None),
            "systems": [
                {
                    "system": state.system.slug,
                    "external_id": state.external_id,
                    "version": state.last_version,
                    "behind": (record.version or 0) - (state.last_version or 0)
                    if hasattr(record, "version") and state.last_version is not None
                    else None,
                    "synced_at": state.synced_at,
                    "outcome": state.outcome,
                }
                for state in states.get((content_type.pk, record.pk), [])
            ],
        }

    transactions = (
        transaction_list()
        .filter(correlation_id=contract.correlation_id)
        .order_by("received_at", "pk")
        if contract.correlation_id
        else Transaction.objects.none()
    )
    return {
        "contract": contract.number,
        "correlation_id": contract.correlation_id,
        "transactions": [
            {
                "id": tx.pk,
                "flow": tx.flow.kind if tx.flow_id else None,
                "event_type": tx.event_type,
                "business_key": tx.business_key,
                "state": tx.state,
                "outcome": tx.outcome,
                "received_at": tx.received_at,
            }
            for tx in transactions
        ],
        "records": {name: [describe(record) for record in group] for name, group in groups.items()},
    }
