"""Two chunks of approved time at the same moment on PostgreSQL: the one that meets the
other's new candidate invoice is claimed and applied again set-based, not left one by one,
and keeps all it wrote, its lineage included."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date

import pytest
from django.db import connection, transaction

from canonical.models import Invoice, Project, TimeEntry
from canonical.services.billing import candidate_new
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.integrations.test_time_to_billing_set_based import time_events, world
from tests.support.inbound import events_send
from tests.support.locks import sessions_waiting_for_a_lock

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="two writers overlap on PostgreSQL only"
    ),
]


def test_a_chunk_that_meets_a_month_candidate_created_beside_it_is_applied_again(demo, caplog):
    world("QR")
    entries = [(n, 1, "TM", "CONSULTANT", date(2026, 10, 3 + n), 2, True) for n in range(3)]
    ids = events_send(*time_events("QR", entries, 0), system="psa", process=False)
    project = Project.objects.select_related("customer", "legal_entity").get(code="QR-P-TM")
    created = threading.Event()
    released = threading.Event()

    def the_other_chunk() -> None:
        """Creates the month's candidate and commits it once this chunk waits for it."""
        try:
            with transaction.atomic():
                candidate_new(
                    project=project, day=date(2026, 10, 1), currency="USD", earlier=0
                ).save()
                created.set()
                deadline = time.monotonic() + 10
                while not sessions_waiting_for_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.02)
            released.set()
        finally:
            connection.close()

    other = threading.Thread(target=the_other_chunk)
    other.start()
    assert created.wait(10)
    with caplog.at_level(logging.INFO, logger="integrations.services.processing"):
        summary = transactions_process(ids=ids)
    other.join(10)

    assert released.is_set()
    assert summary.succeeded == 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not be applied as claimed" in m for m in messages)
    assert not any("fell back to one by one" in m for m in messages)
    invoice = Invoice.objects.get(project=project, period_start=date(2026, 10, 1))
    assert invoice.number == "INV-QR-P-TM-202610"
    entries_billed = TimeEntry.objects.filter(number__startswith="QR-T", invoice=invoice)
    assert entries_billed.count() == 3
    assert invoice.amount == sum(line.amount for line in invoice.lines.all()) == 900
    rows = Transaction.objects.filter(pk__in=ids)
    assert {tx.state for tx in rows} == {TransactionState.SUCCEEDED}
    # The lineage the first try wrote was rolled back with it, and written again.
    assert {tx.correlation_id for tx in rows} == {"QR-K-TM"}
