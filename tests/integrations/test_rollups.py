"""Roll-ups per flow per minute and hour: kept by the engine, equal to a recount, repairable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controltower.operations.services.actions import (
    reconciliation_start,
    transaction_replay,
    transaction_retry,
)
from integrations.choices import FlowKind, RollupSpan, TransactionState
from integrations.errors import IntegrationError
from integrations.flows.registry import _BATCH_HANDLERS, _HANDLERS
from integrations.models import Flow, FlowRollup, Transaction
from integrations.services.processing import transactions_process
from integrations.services.rollups import (
    bucket_start,
    rollups_batch,
    rollups_prune,
    rollups_rebuild,
)
from tests.support.inbound import customer_event, events_send, signed_post

pytestmark = pytest.mark.django_db

COUNTS = ("received", "succeeded", "retried", "dead", "blocked", "recovered", "latency_us")
T0 = datetime(2026, 11, 2, 9, 59, 59, 500_000, tzinfo=UTC)


@pytest.fixture
def flaky_handler(monkeypatch):
    """The customer handler, failing for the customers named, as many times as listed.

    The set-based path leaves those customers to the one-by-one path, where they fail.
    """
    original = _HANDLERS["customer.upserted"]
    original_batch = _BATCH_HANDLERS["customer.upserted"]
    failures: dict[str, list[IntegrationError]] = {}

    def handler(tx):
        if failures.get(tx.business_key):
            raise failures[tx.business_key].pop(0)
        return original(tx)

    def batch(txs):
        failing = [tx for tx in txs if failures.get(tx.business_key)]
        outcomes, left = original_batch([tx for tx in txs if tx not in failing])
        return outcomes, left + failing

    monkeypatch.setitem(_HANDLERS, "customer.upserted", handler)
    monkeypatch.setitem(_BATCH_HANDLERS, "customer.upserted", batch)
    return failures


def snapshot() -> dict[tuple[str, int, datetime], tuple[int, ...]]:
    return {
        (row.flow.kind, row.span, row.bucket): tuple(getattr(row, c) for c in COUNTS)
        for row in FlowRollup.objects.select_related("flow")
    }


def totals(span: int = RollupSpan.HOUR, flow: str = FlowKind.MASTER_DATA_SYNC) -> dict[str, int]:
    rows = FlowRollup.objects.filter(span=span, flow__kind=flow)
    return {c: sum(getattr(row, c) for row in rows) for c in COUNTS}


def make_due(ids: list[int]) -> None:
    Transaction.objects.filter(pk__in=ids, state=TransactionState.RETRY_SCHEDULED).update(
        next_attempt_at=timezone.now()
    )


def test_the_rollups_of_a_processed_batch_match_a_recount(demo, flaky_handler):
    Flow.objects.filter(kind=FlowKind.MASTER_DATA_SYNC).update(max_attempts=2)
    flaky_handler["C-7003"] = [IntegrationError.transient_failure("ERP timed out")]
    flaky_handler["C-7004"] = [IntegrationError.transient_failure(f"503 #{i}") for i in range(2)]
    with time_machine.travel(T0, tick=False) as clock:
        ids = events_send(
            customer_event("C-7001"),
            customer_event("C-7002"),
            customer_event("C-7003"),
            customer_event("C-7004"),
            customer_event("C-7005", legal_entity="ZZ99"),
            process=False,
        )
        clock.shift(timedelta(seconds=2))
        transactions_process(ids=ids)
        clock.shift(timedelta(minutes=3))
        make_due(ids)
        transactions_process(ids=ids)

    states = dict(Transaction.objects.filter(pk__in=ids).values_list("business_key", "state"))
    assert states == {
        "C-7001": "succeeded",
        "C-7002": "succeeded",
        "C-7003": "succeeded",
        "C-7004": "dead",
        "C-7005": "blocked",
    }
    expected_latency = sum(
        (tx.finished_at - tx.received_at) // timedelta(microseconds=1)
        for tx in Transaction.objects.filter(pk__in=ids, state=TransactionState.SUCCEEDED)
    )
    assert expected_latency == (2 * 2 + 182) * 1_000_000
    for span in RollupSpan:
        assert totals(span) == {
            "received": 5,
            "succeeded": 3,
            "retried": 2,
            "dead": 1,
            "blocked": 1,
            "recovered": 0,
            "latency_us": expected_latency,
        }
    kept = snapshot()
    with time_machine.travel(T0 + timedelta(hours=1)):
        rollups_rebuild(since=T0 - timedelta(hours=1))
    assert snapshot() == kept


def test_arrivals_and_outcomes_land_in_the_bucket_of_their_time(demo):
    with time_machine.travel(T0, tick=False) as clock:
        ids = events_send(
            customer_event("C-7101"), customer_event("C-7102", legal_entity="ZZ99"), process=False
        )
        clock.shift(timedelta(seconds=1))  # 10:00:00.5: the next minute and the next hour
        transactions_process(ids=ids)

    flow = Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC)
    rows = {(r.span, r.bucket): r for r in FlowRollup.objects.filter(flow=flow)}
    ten = datetime(2026, 11, 2, 10, tzinfo=UTC)
    earlier = {
        RollupSpan.MINUTE: datetime(2026, 11, 2, 9, 59, tzinfo=UTC),
        RollupSpan.HOUR: datetime(2026, 11, 2, 9, tzinfo=UTC),
    }
    assert set(rows) == {(span, bucket) for span, bucket in earlier.items()} | {
        (span, ten) for span in RollupSpan
    }
    for span in RollupSpan:
        before, after = rows[(span, earlier[span])], rows[(span, ten)]
        assert (before.received, before.succeeded, before.blocked) == (2, 0, 0)
        assert (after.received, after.succeeded, after.blocked) == (0, 1, 1)
        assert after.latency_us == 1_000_000 and after.average_latency_ms == 1000
        assert after.success_rate == 0.5


def test_a_bucket_starts_on_the_utc_minute_and_hour():
    at = datetime(2026, 3, 29, 3, 30, 59, 999_999, tzinfo=ZoneInfo("Europe/Berlin"))  # 01:30 UTC
    assert bucket_start(at, RollupSpan.MINUTE) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert bucket_start(at, RollupSpan.HOUR) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    edge = datetime(2026, 11, 2, 10, tzinfo=UTC)
    assert bucket_start(edge, RollupSpan.HOUR) == edge
    assert bucket_start(edge - timedelta(microseconds=1), RollupSpan.HOUR) == edge - timedelta(
        hours=1
    )


def test_a_chunk_writes_its_rollups_with_one_statement(demo):
    ids = events_send(
        *(customer_event(f"C-72{n:02}") for n in range(20)),
        customer_event("C-7299", legal_entity="ZZ99"),  # the one-by-one path
        process=False,
    )
    with CaptureQueriesContext(connection) as queries:
        summary = transactions_process(ids=ids)
    assert (summary.succeeded, summary.blocked) == (20, 1)
    writes = [q["sql"] for q in queries if "integrations_flowrollup" in q["sql"]]
    assert len(writes) == 1 and writes[0].startswith("INSERT")
    assert totals()["succeeded"] == 20 and totals()["blocked"] == 1


def test_stops_that_a_re_run_makes_good_count_as_recovered_where_it_succeeds(
    demo, flaky_handler, operator
):
    Flow.objects.filter(kind=FlowKind.MASTER_DATA_SYNC).update(max_attempts=1)
    flaky_handler["C-7501"] = [IntegrationError.transient_failure(f"503 #{i}") for i in range(2)]
    with time_machine.travel(T0, tick=False) as clock:
        ids = events_send(customer_event("C-7501"), customer_event("C-7502"), process=False)
        transactions_process(ids=ids)  # C-7501 dead, C-7502 succeeded
        for _ in range(2):  # dead again after the first retry, then it succeeds
            clock.shift(timedelta(minutes=30))
            transaction_retry(transaction_id=ids[0], actor=operator, reason="ERP is back")
            transactions_process(ids=ids[:1])

    assert Transaction.objects.get(pk=ids[0]).state == TransactionState.SUCCEEDED
    hours = {row.bucket: row for row in FlowRollup.objects.filter(span=RollupSpan.HOUR)}
    stopped, rerun = (
        hours[bucket_start(T0, RollupSpan.HOUR)],
        hours[bucket_start(T0 + timedelta(hours=1), RollupSpan.HOUR)],
    )
    assert (stopped.succeeded, stopped.dead, stopped.recovered) == (1, 1, 0)
    assert stopped.success_rate == 0.5  # in its hour the stop still stood
    assert (rerun.succeeded, rerun.dead, rerun.recovered) == (1, 1, 2)
    assert rerun.success_rate == 1.0  # the stops it made good are not failures
    assert totals() | {"latency_us": 0} == {
        "received": 2,
        "succeeded": 2,
        "retried": 0,
        "dead": 2,
        "blocked": 0,
        "recovered": 2,
        "latency_us": 0,
    }
    kept = snapshot()
    with time_machine.travel(T0 + timedelta(hours=2)):
        rollups_rebuild(since=T0 - timedelta(hours=1))
    assert snapshot() == kept


def test_an_inbound_request_counts_its_new_events_once(demo):
    events = [customer_event("C-7301"), customer_event("C-7302")]
    events_send(*events, process=False)
    events_send(
        *events, process=False, redelivered=True
    )  # redelivered: duplicates are not new arrivals
    assert totals(RollupSpan.MINUTE)["received"] == 2


def test_replays_and_the_towers_own_work_count_as_arrivals(demo, operator):
    [tx_id] = events_send(customer_event("C-7401", legal_entity="ZZ99"), process=False)
    transactions_process(ids=[tx_id])
    transaction_replay(transaction_id=tx_id, actor=operator, reason="try again")
    reconciliation_start(actor=operator)
    assert totals()["received"] == 2
    assert totals(flow=FlowKind.RECONCILIATION)["received"] == 1
    kept = snapshot()
    rollups_rebuild(since=timezone.now() - timedelta(hours=1))
    assert snapshot() == kept


def test_a_rebuild_repairs_lost_and_wrong_counts(demo):
    with time_machine.travel(T0, tick=False) as clock:
        ids = events_send(*(customer_event(f"C-75{n:02}") for n in range(5)), process=False)
        clock.shift(timedelta(minutes=2))
        transactions_process(ids=ids)
    right = snapshot()
    FlowRollup.objects.filter(span=RollupSpan.MINUTE).delete()  # a worker died before writing
    FlowRollup.objects.filter(span=RollupSpan.HOUR).update(succeeded=99)
    with time_machine.travel(T0 + timedelta(minutes=5)):
        written = rollups_rebuild(since=T0)
    assert snapshot() == right and written == len(right)


def test_a_rebuild_leaves_the_hours_before_since_alone(demo):
    with time_machine.travel(T0 - timedelta(hours=3), tick=False):
        transactions_process(ids=events_send(customer_event("C-7601"), process=False))
    with time_machine.travel(T0, tick=False):
        transactions_process(ids=events_send(customer_event("C-7602"), process=False))
    old = FlowRollup.objects.filter(bucket__lt=T0 - timedelta(hours=1))
    old.update(received=7)
    with time_machine.travel(T0 + timedelta(minutes=5)):
        rollups_rebuild(since=T0 - timedelta(minutes=30))  # from 09:00
    assert {r.received for r in old} == {7}
    assert totals()["received"] == 7 + 1


def test_pruning_drops_old_minutes_and_keeps_the_hours(demo):
    with time_machine.travel(T0 - timedelta(days=3), tick=False):
        transactions_process(ids=events_send(customer_event("C-7701"), process=False))
    with time_machine.travel(T0, tick=False):
        transactions_process(ids=events_send(customer_event("C-7702"), process=False))
        assert rollups_prune() == 1
    assert FlowRollup.objects.filter(span=RollupSpan.MINUTE).count() == 1
    assert FlowRollup.objects.filter(span=RollupSpan.HOUR).count() == 2


def test_a_rebuild_of_a_long_period_keeps_minutes_only_for_the_last_two_days(demo):
    with time_machine.travel(T0 - timedelta(days=5), tick=False):
        transactions_process(ids=events_send(customer_event("C-7801"), process=False))
    with time_machine.travel(T0, tick=False):
        transactions_process(ids=events_send(customer_event("C-7802"), process=False))
    with time_machine.travel(T0 + timedelta(minutes=5)):
        rollups_rebuild(since=T0 - timedelta(days=6))
    minutes = FlowRollup.objects.filter(span=RollupSpan.MINUTE)
    assert [row.bucket for row in minutes] == [T0.replace(second=0, microsecond=0)]
    assert totals()["succeeded"] == 2
    assert FlowRollup.objects.filter(span=RollupSpan.HOUR).count() == 2


def test_counts_that_cannot_be_written_are_logged_and_the_work_stands(demo, caplog):
    [tx_id] = events_send(customer_event("C-7901"), process=False)
    flow = Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC)
    with rollups_batch() as batch:
        transactions_process(ids=[tx_id])
        batch.add(flow_id=flow.pk, at=timezone.now() - timedelta(days=1), received=-1)  # refused
    assert "rollups_rebuild repairs them" in caplog.text
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED
    # The request's and the chunk's own counts went in; the refused row did not, and the
    # database transaction around all this is still usable.
    assert (totals()["received"], totals()["succeeded"]) == (1, 1)


@pytest.mark.django_db(transaction=True)
def test_the_worker_keeps_the_rollups_equal_to_a_recount(celery_worker):
    from django.test import Client

    from controltower.operations.demo import demo_load
    from integrations.choices import FINAL_STATES
    from tests.support.worker import wait_for

    demo_load()
    events = [customer_event(f"C-80{n:02}") for n in range(60)]
    events += [customer_event(f"C-81{n:02}", legal_entity="ZZ99") for n in range(5)]
    response = signed_post(Client(), "crm", events)
    assert response.status_code == 202, response.content
    # A chunk writes its counts just after its work commits: wait for the counts.
    wait_for(
        lambda: totals()["succeeded"] + totals()["blocked"] == 65,
        timeout=120,
        what="every outcome to be counted",
        on_timeout=celery_worker.tail,
    )
    assert not Transaction.objects.exclude(state__in=[*FINAL_STATES, "blocked"]).exists()
    assert totals()["received"] == 65
    assert (totals()["succeeded"], totals()["blocked"]) == (60, 5)
    kept = snapshot()
    rollups_rebuild(since=timezone.now() - timedelta(hours=1))
    assert snapshot() == kept


def test_the_sweep_task_prunes_old_minutes(demo):
    from integrations.tasks import sweep_transactions_task

    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        transactions_process(ids=events_send(customer_event("C-7951"), process=False))
    assert sweep_transactions_task()["rollup_minutes_pruned"] == 1
    assert not FlowRollup.objects.filter(span=RollupSpan.MINUTE).exists()
