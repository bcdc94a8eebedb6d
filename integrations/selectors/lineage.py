"""Lineage: everything downstream of a contract, with each record's place in every system."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from canonical.models import Assignment, Invoice, Project, TimeEntry
from integrations.models import (
    Compensation,
    SyncState,
    Transaction,
)
from integrations.selectors.routing import erp_route_of


def contract_lineage(contract) -> dict:
    """Everything downstream of a contract: its transactions, and each record with its sync state."""
    transactions = (
        Transaction.objects.select_related("flow")
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
        "records": contract_records_lineage(contract),
        "compensations": contract_compensations(contract),
        # The ERP instance that keeps the contract's legal entity's books.
        "erp_route": route.as_dict() if (route := erp_route_of(contract)) is not None else None,
    }


def contract_compensations(contract) -> list[dict]:
    """The compensations proposed for the contract's side effects, with the transaction that
    executed each."""
    if not contract.correlation_id:
        return []
    return [
        {
            "id": compensation.pk,
            "action": compensation.action,
            "state": compensation.state,
            "system": compensation.system.slug,
            "record_kind": compensation.record_kind,
            "external_id": compensation.external_id,
            "business_key": compensation.business_key,
            # Its amount is pricing: read it from the compensations API, masked by role.
            "moves_money": compensation.moves_money,
            "source_transaction": compensation.source_transaction_id,
            "execution": compensation.execution_id,
            "result_id": compensation.result_id,
        }
        for compensation in Compensation.objects.filter(correlation_id=contract.correlation_id)
        .select_related("system")
        .order_by("created_at", "pk")
    ]


def contract_records_lineage(contract) -> dict[str, list[dict]]:
    """The records downstream of a contract (projects, milestones, assignments, time entries,
    invoices), each with its id, version and sync state in every system."""

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

    return {name: [describe(record) for record in group] for name, group in groups.items()}
