"""The six flows the engine runs, with the SLA each starts with (an admin may change it)."""

from __future__ import annotations

from integrations.choices import FlowKind

HOUR = 3600

# Work the tower gives itself: a record pushed again on a person's request, and a project
# changed in the PSA, to be brought to the ERP's copy.
REPUSH_EVENT = "record.repush"
PROPAGATE_EVENT = "project.propagate"
# A compensating action a person approved, executed through the push path.
COMPENSATION_EVENT = "compensation.execute"

FLOW_SLA_SECONDS: dict[str, int] = {
    FlowKind.CONTRACT_TO_PROJECT: 4 * HOUR,
    FlowKind.PROJECT_TO_STAFFING: 8 * HOUR,
    FlowKind.TIME_TO_BILLING: 24 * HOUR,
    FlowKind.AMENDMENT_PROPAGATION: 8 * HOUR,
    FlowKind.MASTER_DATA_SYNC: 1 * HOUR,
    FlowKind.RECONCILIATION: 24 * HOUR,
}


def flows_ensure(flow_model) -> None:
    """Creates any missing flow row; ``flow_model`` may be a migration's historical model."""
    for kind in FlowKind:
        flow_model.objects.get_or_create(
            kind=kind.value, defaults={"name": kind.label, "sla_seconds": FLOW_SLA_SECONDS[kind]}
        )
