"""Starting a reconciliation run: beat does it nightly, a person may ask for one now."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from integrations.choices import FlowKind
from integrations.models import Transaction
from integrations.services.queueing import transaction_internal_create, transactions_enqueue


def reconciliation_queue() -> Transaction:
    """Queues a reconciliation run (the ERP's invoices against the tower's); it is sent
    once the database transaction that stores it commits."""
    now = timezone.now()
    with transaction.atomic():
        run = transaction_internal_create(
            flow=FlowKind.RECONCILIATION,
            event_type="reconciliation.run",
            business_key=f"reconciliation {now:%Y-%m-%d %H:%M} UTC",  # a key, read in any zone
            data={"requested_at": now.isoformat()},
        )
        transactions_enqueue(transactions=[run])
    return run
