"""The engine's state machine, driven by calling the services as a task would."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from canonical.models import Customer, LegalEntity
from integrations.choices import AttemptOutcome, ErrorClass, Outcome, TransactionState
from integrations.errors import IntegrationError
from integrations.flows.registry import _HANDLERS
from integrations.models import Flow, SyncState, Transaction
from integrations.services.processing import (
    transaction_run,
    transactions_claim,
    transactions_process,
    transactions_sweep,
)
from integrations.tasks import process_transactions_task
from tests.support.inbound import (
    contract_event,
    customer_event,
    events_run,
    events_send,
    legal_entity_event,
)

pytestmark = pytest.mark.django_db


def run(ids: list[int]) -> list[Transaction]:
    transactions_process(ids=ids)
    return list(Transaction.objects.filter(pk__in=ids).order_by("pk"))


def test_a_customer_event_creates_the_customer_and_its_sync_state(demo):
    [tx] = events_run(customer_event("C-5001", name="Wayne Enterprises", version=3))
    assert tx.state == TransactionState.SUCCEEDED
    assert tx.outcome == Outcome.APPLIED
    assert tx.attempts_count == 1 and tx.finished_at is not None
    customer = Customer.objects.get(number="C-5001")
    assert (customer.name, customer.version, customer.source_system) == (
        "Wayne Enterprises",
        3,
        "crm",
    )
    assert customer.legal_entity.code == "US01"
    sync = SyncState.objects.get(object_id=customer.pk, system__slug="crm")
    assert (sync.external_id, sync.last_version, sync.outcome) == ("C-5001", 3, "synced")
    assert len(sync.content_hash) == 64 and sync.last_transaction_id == tx.pk
    [attempt] = tx.attempts.all()
    assert attempt.outcome == AttemptOutcome.SUCCEEDED and attempt.number == 1


def test_the_task_does_the_same_as_the_service(demo):
    ids = events_send(customer_event("C-5002"), process=False)
    assert process_transactions_task(ids)["succeeded"] == 1
    assert Customer.objects.filter(number="C-5002").exists()


def test_a_legal_entity_event_creates_the_legal_entity(demo):
    [tx] = events_run(legal_entity_event("FR01", name="Northwind SAS"), system="erp")
    assert tx.state == TransactionState.SUCCEEDED
    assert LegalEntity.objects.get(code="FR01").name == "Northwind SAS"


def test_an_older_version_after_a_newer_one_is_stale_and_not_applied(demo):
    events_run(customer_event("C-5003", version=5, name="Newer"))
    [tx] = events_run(customer_event("C-5003", version=4, name="Older"))
    assert tx.state == TransactionState.SUCCEEDED and tx.outcome == Outcome.STALE
    customer = Customer.objects.get(number="C-5003")
    assert (customer.name, customer.version) == ("Newer", 5)
    assert SyncState.objects.get(object_id=customer.pk).last_version == 5


def test_the_same_version_again_under_another_event_id_changes_nothing(demo):
    events_run(customer_event("C-5004", version=2, name="Same"))
    [tx] = events_run(customer_event("C-5004", version=2, name="Same"))
    assert tx.outcome == Outcome.UNCHANGED


def test_an_unknown_legal_entity_blocks_the_transaction_with_its_reason(demo):
    [tx] = events_run(customer_event("C-5005", legal_entity="ZZ99"))
    assert tx.state == TransactionState.BLOCKED
    assert tx.error_code == "invalid_legal_entity"
    assert tx.error_class == ErrorClass.DATA
    assert "ZZ99" in tx.last_error
    assert tx.attempts.get().outcome == AttemptOutcome.BLOCKED
    assert not Customer.objects.filter(number="C-5005").exists()


@pytest.fixture
def flaky_handler(monkeypatch):
    """Replaces the customer handler with one that fails as told, then succeeds."""
    original = _HANDLERS["customer.upserted"]
    failures: list[IntegrationError] = []

    def handler(tx):
        if failures:
            raise failures.pop(0)
        return original(tx)

    monkeypatch.setitem(_HANDLERS, "customer.upserted", handler)
    return failures


def test_a_technical_failure_is_retried_later_with_backoff(demo, flaky_handler):
    flaky_handler.append(IntegrationError.transient_failure("ERP timed out"))
    [tx] = events_run(customer_event("C-5006"))
    assert tx.state == TransactionState.RETRY_SCHEDULED
    assert tx.error_class == ErrorClass.TRANSIENT and tx.last_error == "ERP timed out"
    assert timezone.now() <= tx.next_attempt_at <= timezone.now() + timedelta(seconds=2.1)
    assert tx.attempts.get().outcome == AttemptOutcome.RETRY
    # Not due yet: nobody may claim it.
    Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=timezone.now() + timedelta(hours=1))
    assert transactions_claim(ids=[tx.pk]) == []
    Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=timezone.now())
    [tx] = run([tx.pk])
    assert tx.state == TransactionState.SUCCEEDED and tx.attempts_count == 2
    assert [a.outcome for a in tx.attempts.all()] == [
        AttemptOutcome.RETRY,
        AttemptOutcome.SUCCEEDED,
    ]


def test_a_retry_after_from_the_other_system_is_honoured(demo, flaky_handler):
    flaky_handler.append(
        IntegrationError.transient_failure("429 Too Many Requests", retry_after=90)
    )
    [tx] = events_run(customer_event("C-5007"))
    assert tx.next_attempt_at >= timezone.now() + timedelta(seconds=89)


def test_after_the_last_attempt_the_transaction_is_dead(demo, flaky_handler):
    Flow.objects.filter(kind="master_data_sync").update(max_attempts=3)
    flaky_handler.extend(IntegrationError.transient_failure(f"503 #{i}") for i in range(3))
    [tx] = events_run(customer_event("C-5008"))
    for _ in range(2):
        Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=timezone.now())
        [tx] = run([tx.pk])
    assert tx.state == TransactionState.DEAD
    assert tx.attempts_count == 3 and tx.next_attempt_at is None
    assert [a.outcome for a in tx.attempts.all()] == ["retry", "retry", "dead"]


def test_an_unexpected_exception_is_retried_as_an_internal_error(demo, monkeypatch):
    def broken(tx):
        raise KeyError("surprise")

    monkeypatch.setitem(_HANDLERS, "customer.upserted", broken)
    [tx] = events_run(customer_event("C-5009"))
    assert tx.state == TransactionState.RETRY_SCHEDULED
    assert tx.error_class == ErrorClass.INTERNAL and "surprise" in tx.last_error


def test_a_failed_handler_leaves_no_partial_effect(demo, monkeypatch):
    original = _HANDLERS["customer.upserted"]

    def half_done(tx):
        original(tx)
        raise IntegrationError.transient_failure("failed after writing")

    monkeypatch.setitem(_HANDLERS, "customer.upserted", half_done)
    events_run(customer_event("C-5010"))
    assert not Customer.objects.filter(number="C-5010").exists()


def test_a_transaction_already_claimed_is_not_claimed_again(demo):
    ids = events_send(customer_event("C-5011"), process=False)
    assert len(transactions_claim(ids=ids)) == 1
    assert transactions_claim(ids=ids) == []


def test_a_worker_that_lost_its_claim_applies_nothing(demo):
    ids = events_send(customer_event("C-5012"), process=False)
    [stale_claim] = transactions_claim(ids=ids)
    # The sweep took the row back and another worker claimed it meanwhile.
    Transaction.objects.filter(pk=stale_claim.pk).update(
        claimed_at=timezone.now() + timedelta(seconds=1), claim_token="another-worker"
    )
    assert transaction_run(stale_claim) is None
    assert not Customer.objects.filter(number="C-5012").exists()
    assert stale_claim.attempts.count() == 0


def test_the_sweep_takes_back_a_row_whose_worker_vanished(demo):
    ids = events_send(customer_event("C-5013"), process=False)
    transactions_claim(ids=ids)
    assert transactions_sweep(lease_seconds=60).taken_back == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        summary = transactions_sweep(lease_seconds=60)
    assert summary.taken_back == 1 and summary.enqueued == 1
    [tx] = run(ids)
    assert tx.state == TransactionState.SUCCEEDED and tx.attempts_count == 1


def test_the_sweep_re_enqueues_due_retries_and_forgotten_events(
    demo, django_capture_on_commit_callbacks
):
    ids = events_send(customer_event("C-5014"), customer_event("C-5015"), process=False)
    Transaction.objects.filter(pk=ids[1]).update(
        state=TransactionState.RETRY_SCHEDULED,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert transactions_sweep(grace_seconds=0).enqueued == 2
        # Just sent: not sent again by the next sweep within the grace period.
        assert transactions_sweep(grace_seconds=60).enqueued == 0


def test_a_paused_flow_is_not_processed_until_resumed(demo):
    Flow.objects.filter(kind="master_data_sync").update(paused=True)
    ids = events_send(customer_event("C-5016"), process=False)
    [tx] = run(ids)
    assert tx.state == TransactionState.RECEIVED
    Flow.objects.filter(kind="master_data_sync").update(paused=False)
    [tx] = run(ids)
    assert tx.state == TransactionState.SUCCEEDED


def test_a_chunk_applied_set_based_ends_as_one_by_one_would(demo):
    """Customers in one chunk go through the batch path; what it cannot take falls back."""
    ids = [
        *events_send(
            customer_event("C-5101", version=1, name="First"),
            customer_event("C-5101", version=2, name="Second"),
            customer_event("C-5102", legal_entity="ZZ99"),
            customer_event("C-5103"),
            process=False,
        ),
        *events_send(
            customer_event("C-5104"), system="erp", process=False
        ),  # not the system of record
    ]
    summary = transactions_process(ids=ids)
    assert (summary.claimed, summary.succeeded, summary.blocked) == (5, 3, 2)
    txs = {
        tx.business_key + f"#{tx.event_version}": tx
        for tx in Transaction.objects.filter(pk__in=ids)
    }
    assert txs["C-5101#1"].outcome == Outcome.APPLIED and txs["C-5101#2"].outcome == Outcome.APPLIED
    assert Customer.objects.get(number="C-5101").name == "Second"
    assert txs["C-5102#1"].error_code == "invalid_legal_entity"
    assert txs["C-5104#1"].error_code == "non_owner_update"
    assert SyncState.objects.filter(system__slug="crm", content_type__model="customer").count() == 2
    assert all(tx.attempts.count() == 1 for tx in txs.values())


def test_a_chunk_keeps_the_id_the_sender_knows_a_customer_by(demo):
    """As one by one: an event without its own id does not replace the system's id."""
    first = customer_event("C-5201")
    first["data"]["external_id"] = "001Dn00000AbCdE"
    events_run(first)
    ids = events_send(customer_event("C-5201", version=2), customer_event("C-5202"), process=False)
    summary = transactions_process(ids=ids)
    assert summary.succeeded == 2
    states = dict(
        SyncState.objects.filter(system__slug="crm", content_type__model="customer").values_list(
            "object_id", "external_id"
        )
    )
    customers = dict(Customer.objects.values_list("number", "pk"))
    assert states[customers["C-5201"]] == "001Dn00000AbCdE"
    assert states[customers["C-5202"]] == "C-5202"  # a new one is named by its number


def queued_chunks(queue: str) -> list[list[int]]:
    """The id chunks waiting in ``queue`` on this run's broker, taken off it."""
    from controltower.celery import app

    chunks = []
    with app.connection_for_read() as connection, connection.SimpleQueue(queue) as simple:
        while True:
            try:
                message = simple.get(block=True, timeout=0.5)
            except simple.Empty:
                return chunks
            chunks.append(message.payload[0][0])
            message.ack()


@pytest.mark.django_db(transaction=True)
def test_work_that_calls_other_systems_is_sent_in_small_chunks(demo, settings):
    """A slow system then holds a few items in one worker process, not a hundred."""
    from tests.support.worker import purge_broker

    settings.CT_OUTBOUND_CHUNK_SIZE = 4
    purge_broker()
    contracts = events_send(
        *(contract_event(f"K-77{n:02d}") for n in range(10)), system="clm", process=False
    )
    customers = events_send(*(customer_event(f"C-77{n:02d}") for n in range(10)), process=False)
    # In any order: the embedded broker keeps no order between messages sent in one instant.
    assert sorted(queued_chunks("flow.contract_to_project")) == [
        contracts[0:4],
        contracts[4:8],
        contracts[8:10],
    ]
    assert queued_chunks("flow.master_data_sync") == [customers]
