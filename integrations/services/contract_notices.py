"""Renewal and obligation notices: beat asks daily which contracts near their end or cap."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone

from integrations.choices import FlowKind
from integrations.models import Transaction
from integrations.services.queueing import transaction_internal_create, transactions_enqueue


def contract_notices_queue(*, day: date | None = None) -> Transaction:
    """Queues today's look for contracts nearing their end date or cap (each notice is
    raised once per contract and threshold, so a daily run repeats none); it is sent once
    the database transaction that stores it commits. ``day`` is today unless given."""
    today = day or timezone.localdate()
    with transaction.atomic():
        run = transaction_internal_create(
            flow=FlowKind.CONTRACT_TO_PROJECT,
            event_type="contract_notices.run",
            business_key=f"contract notices {today.isoformat()}",
            data={"day": today.isoformat()},
        )
        transactions_enqueue(transactions=[run])
    return run
