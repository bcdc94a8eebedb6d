"""Bulk retry of transactions: requeued set-based in one request, each sent to its flow's queue
once, with a progress row the workers move as they run the chunks (the chunks are taken off
the real broker and run by calling the task)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from canonical.errors import ApplicationError
from controltower.operations.choices import BulkStatus
from controltower.operations.models import BulkOperation
from controltower.operations.services.actions import transactions_bulk_retry
from controltower.operations.services.bulk import (
    bulk_operation_run,
    bulk_operation_start,
    bulk_operations_resume,
)
from integrations.choices import FlowKind, TransactionState
from integrations.models import Flow, Transaction
from integrations.tasks import process_transactions_task
from tests.support.broker import queued_chunks
from tests.support.inbound import customer_event, signed_post
from tests.support.worker import purge_broker

pytestmark = pytest.mark.django_db

SEEDED = 120


def dead(client, *, count: int, prefix: str, legal_entity: str = "US01") -> list[int]:
    """Customer events taken in, then seeded dead as after five failed attempts."""
    events = [customer_event(f"{prefix}{i:03}", legal_entity=legal_entity) for i in range(count)]
    ids = signed_post(client, "crm", events).json()["transaction_ids"]
    Transaction.objects.filter(pk__in=ids).update(
        state=TransactionState.DEAD, attempts_count=5, last_error="ERP answered 503"
    )
    purge_broker()
    return ids


@pytest.fixture
def dead_ids(demo, client, settings) -> list[int]:
    # Three chunks: the row moves with each (customer events go in set-based chunks).
    settings.CT_CHUNK_SIZE = settings.CT_BATCH_CHUNK_SIZE = 40
    return dead(client, count=SEEDED, prefix="C-72")


def test_a_bulk_retry_queues_each_transaction_once_and_its_progress_reaches_the_total(
    dead_ids, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operation = transactions_bulk_retry(
            queryset=Transaction.objects.filter(pk__in=dead_ids),
            actor=operator,
            reason="The ERP is back.",
        )
    assert (operation.total, operation.status) == (SEEDED, BulkStatus.RUNNING)
    assert set(Transaction.objects.filter(pk__in=dead_ids).values_list("state", flat=True)) == {
        TransactionState.RECEIVED
    }
    chunks = queued_chunks(Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC).queue)
    queued = [pk for chunk in chunks for pk in chunk]
    assert sorted(queued) == sorted(dead_ids)  # every one, each once

    process_transactions_task(chunks[0])
    operation.refresh_from_db()
    assert (operation.done, operation.status) == (len(chunks[0]), BulkStatus.RUNNING)
    for chunk in chunks[1:]:
        process_transactions_task(chunk)
    operation.refresh_from_db()
    assert (operation.done, operation.failed) == (SEEDED, 0)
    assert operation.status == BulkStatus.DONE and operation.progress == 100
    ran = Transaction.objects.filter(pk__in=dead_ids)
    assert set(ran.values_list("state", "attempts_count")) == {(TransactionState.SUCCEEDED, 6)}


def test_transactions_blocked_again_count_as_failed(
    demo, client, operator, django_capture_on_commit_callbacks
):
    ids = dead(client, count=20, prefix="C-73", legal_entity="ZZ99")  # unknown: blocks
    with django_capture_on_commit_callbacks(execute=True):
        operation = transactions_bulk_retry(
            queryset=Transaction.objects.filter(pk__in=ids[:15]), actor=operator
        )
    for chunk in queued_chunks(Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC).queue):
        process_transactions_task(chunk)
    operation.refresh_from_db()
    assert (operation.done, operation.failed, operation.status) == (0, 15, BulkStatus.DONE)
    assert Transaction.objects.filter(pk__in=ids[15:], state=TransactionState.DEAD).count() == 5


def test_a_bulk_retry_whose_progress_was_lost_counts_again_when_the_sweep_takes_it_back(
    dead_ids, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operation = transactions_bulk_retry(
            queryset=Transaction.objects.filter(pk__in=dead_ids), actor=operator
        )
    for chunk in queued_chunks(Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC).queue):
        process_transactions_task(chunk)
    # As if the worker had died between running the chunks and saving the count.
    BulkOperation.objects.filter(pk=operation.pk).update(
        status=BulkStatus.RUNNING,
        done=0,
        finished_at=None,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert bulk_operations_resume(lost_after=timedelta(0)) == 1
    assert bulk_operation_run(operation_id=operation.pk) == {"done": 0, "failed": 0}
    operation.refresh_from_db()
    assert (operation.done, operation.failed, operation.status) == (SEEDED, 0, BulkStatus.DONE)


def test_a_bulk_operation_over_exceptions_cannot_be_a_transactions_retry(operator):
    with pytest.raises(ApplicationError, match="Unknown bulk action 'retry_transactions'"):
        bulk_operation_start(actor=operator, action="retry_transactions", ids=[1])
