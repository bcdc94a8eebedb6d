"""The engine end to end with a real Celery worker process.

On the embedded default this runs on SQLite and the file-system broker; in the
services pass of ``make test`` on PostgreSQL and Redis.
"""

from __future__ import annotations

import random
import time

import pytest
from django.db.models import Count, Q
from django.test import Client

from canonical.models import Customer
from controltower.operations.demo import demo_load
from controltower.operations.services.actions import flow_pause, flow_resume
from integrations.choices import FINAL_STATES, AttemptOutcome, Outcome, TransactionState
from integrations.models import Attempt, Flow, Transaction
from integrations.services.processing import transactions_sweep
from integrations.tasks import process_transactions_task
from tests.support.inbound import customer_event, signed_post
from tests.support.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def post_in_batches(events: list[dict], size: int) -> list[dict]:
    client = Client()
    results = []
    for start in range(0, len(events), size):
        response = signed_post(client, "crm", events[start : start + size])
        assert response.status_code in (200, 202), response.content
        results.extend(response.json()["results"])
    return results


def unfinished() -> int:
    return Transaction.objects.exclude(state__in=FINAL_STATES).count()


def wait_until_all_finished(worker, timeout: float = 120) -> None:
    wait_for(
        lambda: unfinished() == 0,
        timeout=timeout,
        what="every transaction to finish",
        on_timeout=lambda: f"{unfinished()} unfinished\n{worker.tail()}",
    )


def test_a_thousand_events_with_duplicates_and_stale_versions_end_exactly_right(celery_worker):
    demo_load()
    rng = random.Random(1000)
    fresh = [customer_event(f"C-{n:05}", version=2, name=f"Customer {n} v2") for n in range(850)]
    duplicates = [dict(event) for event in rng.sample(fresh, 100)]  # redelivered: same event ids
    stale_targets = rng.sample(fresh, 50)
    stale = [customer_event(e["data"]["number"], version=1, name="old name") for e in stale_targets]

    first = fresh + duplicates[:50]
    rng.shuffle(first)
    results = post_in_batches(first, size=250)
    wait_until_all_finished(celery_worker)
    second = stale + duplicates[50:]
    rng.shuffle(second)
    results += post_in_batches(second, size=500)
    wait_until_all_finished(celery_worker)

    assert sum(r["duplicate"] for r in results) == 100
    transactions = Transaction.objects.exclude(state=TransactionState.REJECTED)
    assert transactions.count() == 900
    assert transactions.filter(state=TransactionState.SUCCEEDED).count() == 900
    outcomes = dict(transactions.values_list("outcome").annotate(n=Count("id")))
    assert outcomes == {Outcome.APPLIED: 850, Outcome.STALE: 50}
    stale_numbers = {e["data"]["number"] for e in stale_targets}
    assert (
        set(transactions.filter(outcome=Outcome.STALE).values_list("business_key", flat=True))
        == stale_numbers
    )
    created = Customer.objects.filter(number__startswith="C-0")
    assert created.count() == 850
    assert created.filter(version=2, name__endswith="v2").count() == 850
    # Each transaction ran once: one attempt, and it succeeded.
    assert Attempt.objects.count() == 900
    assert Attempt.objects.filter(outcome=AttemptOutcome.SUCCEEDED, number=1).count() == 900


EVENTS = 3000


def test_a_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(celery_worker):
    demo_load()
    # Six chunks for two pool processes, each chunk applied in one go: the kill comes while
    # some are still waiting or being applied.
    events = [customer_event(f"C-{n:05}", version=1) for n in range(EVENTS)]
    post_in_batches(events, size=500)
    wait_for(
        lambda: Transaction.objects.filter(state=TransactionState.SUCCEEDED).count() >= 100,
        timeout=60,
        what="the worker to get going",
        on_timeout=celery_worker.tail,
    )
    celery_worker.kill()
    done_before = Transaction.objects.filter(state=TransactionState.SUCCEEDED).count()
    assert done_before < EVENTS, "the worker finished before it could be killed; send more events"

    # The rows the dead worker held are taken back; everything due is sent again.
    transactions_sweep(lease_seconds=0, grace_seconds=0)
    celery_worker.start(purge=False)
    wait_until_all_finished(celery_worker)

    assert Transaction.objects.filter(state=TransactionState.SUCCEEDED).count() == EVENTS
    assert Customer.objects.filter(number__startswith="C-0").count() == EVENTS
    succeeded_attempts = Attempt.objects.filter(outcome=AttemptOutcome.SUCCEEDED)
    assert succeeded_attempts.count() == EVENTS
    assert (
        not succeeded_attempts.values("transaction")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )
    assert not Transaction.objects.filter(~Q(attempts_count=1)).exists()


def test_a_paused_flow_keeps_its_events_and_processes_them_on_resume(celery_worker):
    demo_load()
    flow = Flow.objects.get(kind="master_data_sync")
    flow_pause(flow=flow, actor=None, reason="test")
    post_in_batches([customer_event(f"C-{n:05}") for n in range(50)], size=50)
    # A sweep must not start a paused flow's work either.
    transactions_sweep(grace_seconds=0)
    # Even sent straight to the worker, a paused flow's transactions are not claimed.
    ids = list(Transaction.objects.filter(flow=flow).values_list("pk", flat=True))
    process_transactions_task.apply_async(args=[ids], queue=flow.queue)
    time.sleep(2)
    assert Transaction.objects.filter(state=TransactionState.RECEIVED, flow=flow).count() == 50

    flow_resume(flow=flow, actor=None, reason="test")
    wait_until_all_finished(celery_worker, timeout=60)
    assert Transaction.objects.filter(state=TransactionState.SUCCEEDED, flow=flow).count() == 50
