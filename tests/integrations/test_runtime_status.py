"""What the engine says of its runtime from the heartbeats and the backlog
(``integrations.selectors.runtime``), and how heartbeats are written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from integrations.choices import FlowKind, ProcessRole, TransactionState
from integrations.models import Flow, ProcessHeartbeat
from integrations.selectors.runtime import (
    NEVER,
    OK,
    SILENT,
    STARTING,
    runtime_alerts,
    runtime_status,
)
from integrations.services.runtime import (
    heartbeat_record,
    heartbeat_starting,
    heartbeats_prune,
    worker_heartbeat_record,
)
from integrations.tasks import heartbeat_task
from tests.factories.operations import FlowTransactionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 14, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.CT_WORKER_STALL_SECONDS = 45
    settings.CT_BEAT_STALL_SECONDS = 60
    settings.CT_READY_MAX_WAIT_SECONDS = 300


def beat(
    role: ProcessRole, name: str, *, ago: float, started_ago: float = 3600, now: datetime = NOW
) -> None:
    heartbeat_record(
        role=role,
        name=name,
        started_at=now - timedelta(seconds=started_ago),
        at=now - timedelta(seconds=ago),
    )


def test_a_worker_and_beat_heard_of_within_their_limits_make_the_tower_ready():
    beat(ProcessRole.WORKER, "worker@a", ago=3)
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    status = runtime_status(now=NOW)

    assert status.ready, status.reasons
    assert status.get("worker").since == NOW - timedelta(seconds=3)
    assert status.as_json()["status"] == "ready"


def test_one_fresh_worker_is_enough_and_the_silent_one_is_listed():
    beat(ProcessRole.WORKER, "worker@a", ago=3)
    beat(ProcessRole.WORKER, "worker@b", ago=600)
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    worker = runtime_status(now=NOW).get("worker")

    assert worker.state == OK
    assert worker.details["processes"]["worker@b"]["fresh"] is False


def test_a_worker_silent_past_its_limit_is_named_with_since_when():
    beat(ProcessRole.WORKER, "worker@a", ago=360)
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    status = runtime_status(now=NOW)

    assert not status.ready
    worker = status.get("worker")
    assert worker.state == SILENT
    assert worker.since == NOW - timedelta(minutes=6)
    assert status.reasons == ["no worker heartbeat for 360 s (limit 45 s)"]
    assert status.as_json()["components"]["worker"]["since"] == "2026-12-04T14:02:00+00:00"


def test_a_worker_that_has_just_started_is_starting_not_silent():
    beat(ProcessRole.WORKER, "worker@a", ago=3600)
    heartbeat_starting(role=ProcessRole.WORKER, name="worker@a", at=NOW - timedelta(seconds=5))
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    status = runtime_status(now=NOW)

    assert status.get("worker").state == STARTING
    assert not status.ready  # it has not proved it works yet
    assert runtime_alerts(now=NOW) == []  # nor is it worth a banner


def test_a_worker_started_longer_ago_than_its_limit_without_a_heartbeat_is_silent():
    heartbeat_starting(role=ProcessRole.WORKER, name="worker@a", at=NOW - timedelta(seconds=90))
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    worker = runtime_status(now=NOW).get("worker")

    assert worker.state == SILENT
    assert worker.since == NOW - timedelta(seconds=90)


def test_no_worker_ever_heard_of_is_not_ready_and_raises_no_banner():
    beat(ProcessRole.BEAT, "beat@a", ago=4)

    status = runtime_status(now=NOW)

    assert status.get("worker").state == NEVER
    assert "no worker heartbeat has ever been recorded" in status.reasons
    assert runtime_alerts(now=NOW) == []


def test_a_silent_worker_alert_says_how_much_work_waits_and_since_when():
    now = timezone.now()
    beat(ProcessRole.WORKER, "worker@a", ago=360, now=now)
    beat(ProcessRole.BEAT, "beat@a", ago=4, now=now)
    waiting = [FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC) for _ in range(3)]

    (alert,) = runtime_alerts(now=now + timedelta(seconds=1))

    assert alert.component == "worker"
    assert alert.details["waiting"] == 3
    assert alert.details["oldest"] == min(tx.updated_at for tx in waiting)


def test_beat_silent_past_its_limit_is_an_alert():
    beat(ProcessRole.WORKER, "worker@a", ago=3)
    beat(ProcessRole.BEAT, "beat@a", ago=120)

    (alert,) = runtime_alerts(now=NOW)

    assert alert.component == "beat"
    assert alert.since == NOW - timedelta(minutes=2)


def test_ready_work_waiting_past_its_limit_makes_the_tower_not_ready(settings):
    now = timezone.now()
    FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC)
    settings.CT_READY_MAX_WAIT_SECONDS = 60

    assert runtime_status(now=now + timedelta(seconds=30)).get("backlog").ok
    late = runtime_status(now=now + timedelta(seconds=90)).get("backlog")

    assert late.state == "late"
    assert late.details["waiting"] == 1
    assert late.reason.startswith("the oldest of 1 ready transactions has waited 9")


def test_a_paused_flows_work_and_retries_not_yet_due_are_not_a_backlog():
    paused = Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC)
    paused.paused = True
    paused.save()
    FlowTransactionFactory(kind=FlowKind.MASTER_DATA_SYNC)
    FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING,
        state=TransactionState.RETRY_SCHEDULED,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )

    backlog = runtime_status(now=timezone.now() + timedelta(minutes=10)).get("backlog")

    assert backlog.ok
    assert backlog.details["waiting"] == 0


def test_the_heartbeat_task_records_the_worker_from_inside_its_pool():
    started = NOW.isoformat()
    heartbeat_task(
        node="worker@a",
        started_at=started,
        sent_at=timezone.now().timestamp(),
        supervisor={"restarts": 2},
    )

    row = ProcessHeartbeat.objects.get(name="worker@a")
    assert row.role == ProcessRole.WORKER
    assert row.started_at == NOW
    assert row.details["restarts"] == 2
    assert row.details["lag_seconds"] >= 0
    assert "pid" in row.details["pool"]


def test_a_heartbeat_sent_to_an_earlier_incarnation_moves_only_the_time():
    heartbeat_starting(role=ProcessRole.WORKER, name="worker@a", details={"restarts": 3}, at=NOW)

    worker_heartbeat_record(
        node="worker@a",
        started_at=(NOW - timedelta(minutes=5)).isoformat(),
        sent_at=NOW.timestamp() - 300,
    )

    row = ProcessHeartbeat.objects.get(name="worker@a")
    assert row.started_at == NOW
    assert row.details == {"restarts": 3}
    assert row.beat_at is not None  # its pool ran it all the same


def test_pruning_forgets_processes_gone_for_a_week_but_the_newest_of_each_role():
    beat(ProcessRole.WEB, "web@a:1", ago=8 * 86400)
    beat(ProcessRole.WEB, "web@a:2", ago=9 * 86400)
    beat(ProcessRole.WORKER, "worker@old", ago=10 * 86400)
    beat(ProcessRole.WORKER, "worker@new", ago=5)

    assert heartbeats_prune(now=NOW) == 2

    assert set(ProcessHeartbeat.objects.values_list("name", flat=True)) == {
        "web@a:1",
        "worker@new",
    }


def test_a_pool_that_takes_or_finishes_tasks_keeps_its_supervised_workers_heartbeat_fresh(
    settings,
):
    from integrations.services import runtime

    settings.CT_HEARTBEAT_SECONDS = 5
    heartbeat_starting(role=ProcessRole.WORKER, name="worker@a", at=NOW)
    runtime._last_pool_proof = float("-inf")

    runtime.worker_pool_proof(node="worker@a")
    first = ProcessHeartbeat.objects.get(name="worker@a").beat_at
    runtime.worker_pool_proof(node="worker@a")  # within the heartbeat interval: not written
    runtime.worker_pool_proof(node="worker@unsupervised")

    assert first is not None and first > NOW
    assert ProcessHeartbeat.objects.get(name="worker@a").beat_at == first
    assert not ProcessHeartbeat.objects.filter(name="worker@unsupervised").exists()
