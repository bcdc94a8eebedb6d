"""Reads of service levels that other layers' views are held to."""

from __future__ import annotations

from controltower.operations.choices import SlaKind
from controltower.operations.models import SlaPolicy
from integrations.selectors.records import FlowSla, RecordKind


def record_sla(*, kind: RecordKind) -> FlowSla | None:
    """The active flow SLA a record's copies are held to (its event type's first), or None
    when no policy speaks of its flow (the flow's own SLA then applies)."""
    policy = (
        SlaPolicy.objects.filter(
            kind=SlaKind.FLOW, active=True, flow=kind.flow, event_type__in=[kind.event_type, ""]
        )
        .order_by("-event_type", "target_minutes")
        .first()
    )
    if policy is None:
        return None
    return FlowSla(policy.name, policy.target_minutes, policy.at_risk_share)
