"""The engine's sweep: what makes a lost message or a vanished worker delay work, never lose it.

Beat runs it in its own process (``integrations.scheduler``), so it does not depend on the
worker pool it rescues; ``sweep_transactions_task`` runs the same for manual use.
"""

from __future__ import annotations

from dataclasses import asdict

from integrations.services.deliveries import deliveries_sweep
from integrations.services.exceptions import exceptions_recheck
from integrations.services.processing import transactions_sweep
from integrations.services.rollups import rollups_prune
from integrations.services.runtime import heartbeats_prune


def engine_sweep() -> dict[str, int]:
    """Takes back expired leases and re-sends ready work, closes the waits whose data is
    there now, prunes what the overview no longer reads, and asks for the sending of
    subscribers' due events."""
    return {
        **asdict(transactions_sweep()),
        "exceptions_resolved": exceptions_recheck(),
        "rollup_minutes_pruned": rollups_prune(),
        "heartbeats_pruned": heartbeats_prune(),
        "subscriptions_sent": len(deliveries_sweep()),
    }
