"""The runtime watches itself, with real processes: workers and beat under their supervisors as
``make run`` starts them, on the embedded default (SQLite, the file-system broker) and, in the
services pass, on PostgreSQL and Redis. Time is compressed (``RUNTIME_TIMES`` in conftest):
heartbeats every second, a worker stuck after 10 s.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from controltower.operations.demo import demo_load
from integrations.choices import FlowKind, TransactionState
from integrations.models import ProcessHeartbeat, Transaction
from integrations.scheduler import beat_name
from integrations.supervisor import worker_node
from tests.factories.operations import FlowTransactionFactory
from tests.support.inbound import customer_event, signed_post
from tests.support.worker import (
    SupervisedProcess,
    alive,
    children,
    descendants,
    supervised_beat,
    supervised_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


def node() -> str:
    """The node name of this run's supervised worker (``tests.support.worker``)."""
    return worker_node(f"test-{os.getpid()}@%h")


def heartbeat_after(name: str, moment) -> Callable[[], bool]:
    """Whether ``name`` has recorded a heartbeat after ``moment``."""
    return lambda: ProcessHeartbeat.objects.filter(name=name, beat_at__gt=moment).exists()


def wait_for_heartbeat(process: SupervisedProcess, name: str, *, after=None, timeout=60) -> None:
    wait_for(
        heartbeat_after(name, after or timezone.now()),
        timeout=timeout,
        what=f"a heartbeat of {name}",
        on_timeout=process.tail,
    )


def test_a_worker_whose_idle_pool_processes_were_killed_runs_the_next_event_within_a_minute(
    supervised_worker, supervised_beat
):
    demo_load()
    wait_for_heartbeat(supervised_worker, node())
    main = supervised_worker.wait_for_child()
    pool = children(main)
    assert len(pool) == 2, supervised_worker.tail()

    # Both wait for work; one of them holds the pool's read lock while it waits, and billiard's
    # main process then waits for ever on it: without the supervisor, nothing runs again.
    for pid in pool:
        os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    response = signed_post(Client(), "crm", [customer_event("C-70001")])
    assert response.status_code == 202, response.content
    sent = response.json()["transaction_ids"][0]

    wait_for(
        lambda: Transaction.objects.get(pk=sent).state == TransactionState.SUCCEEDED,
        timeout=60,
        what="the event to be processed",
        on_timeout=lambda: supervised_worker.tail(60),
    )
    print(f"processed {time.monotonic() - killed:.1f} s after the pool was killed")


def test_the_supervisor_starts_a_dead_worker_again(supervised_worker):
    first = supervised_worker.wait_for_child()
    wait_for_heartbeat(supervised_worker, node())

    os.killpg(first, signal.SIGKILL)  # the worker's main process and its pool
    killed = timezone.now()

    second = supervised_worker.wait_for_child(other_than=first, timeout=30)
    wait_for_heartbeat(supervised_worker, node(), after=killed)
    # The first beat after the kill may be a heartbeat sent to the dead worker, or the pool's
    # proof of taking any task: both move only the time. The new worker's own heartbeat
    # task, sent every second, writes what it is.
    wait_for(
        lambda: "pool" in ProcessHeartbeat.objects.get(name=node()).details,
        timeout=30,
        what="a heartbeat sent to the new worker",
        on_timeout=supervised_worker.tail,
    )
    row = ProcessHeartbeat.objects.get(name=node())
    assert row.details["main_pid"] == second
    assert row.details["restarts"] == 1
    assert row.details["last_exit"] == "was ended by SIGKILL"
    assert row.details["pool"]["pid"] in children(second)  # written from the new pool


def test_sigterm_stops_the_supervisor_and_its_worker_in_order(runtime_env, transactional_db):
    worker = supervised_worker(runtime_env)
    worker.start()
    try:
        wait_for_heartbeat(worker, node())
        family = descendants(worker.process.pid)
        assert len(family) == 3  # the worker's main process and its two pool processes
    finally:
        status = worker.stop()

    assert status == 0
    assert worker.says("Warm shutdown")  # the worker was asked to finish, not killed first
    assert worker.says("stopped.")
    assert not [pid for pid in family if alive(pid)]


def test_the_supervisor_starts_beat_again_when_it_exits(supervised_beat):
    first = supervised_beat.wait_for_child()
    wait_for_heartbeat(supervised_beat, beat_name())

    os.kill(first, signal.SIGKILL)
    killed = timezone.now()

    supervised_beat.wait_for_child(other_than=first, timeout=30)
    wait_for_heartbeat(supervised_beat, beat_name(), after=killed)


def test_beat_takes_back_an_expired_lease_and_sends_the_work_again_without_any_worker(
    runtime_env, transactional_db
):
    # An older database still holds the sweep as a periodic task that beat sends to a worker.
    every = IntervalSchedule.objects.create(every=15, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="sweep-transactions",
        task="integrations.tasks.sweep_transactions_task",
        interval=every,
    )
    orphan = FlowTransactionFactory(
        kind=FlowKind.MASTER_DATA_SYNC,
        event_type="customer.upserted",
        state=TransactionState.PROCESSING,
        claimed_at=timezone.now() - timedelta(hours=1),
    )
    # No worker runs: only beat itself can take the row back.
    beat = supervised_beat(runtime_env)
    beat.start()
    try:
        wait_for(
            lambda: Transaction.objects.filter(
                pk=orphan.pk, state=TransactionState.RECEIVED, enqueued_at__isnull=False
            ).exists(),
            timeout=30,
            what="beat's sweep to take the row back and send it again",
            on_timeout=beat.tail,
        )
    finally:
        beat.stop()
    assert not PeriodicTask.objects.filter(name="sweep-transactions").exists()


class DatabaseCut:
    """Makes the test database unreachable for new connections of other processes, and
    reachable again, for real: a broken file link for SQLite; for PostgreSQL, connections
    refused and every other session terminated."""

    def __init__(self, env: dict[str, str], tmp_path) -> None:
        self.env = dict(env)
        self.name = connection.settings_dict["NAME"]
        if connection.vendor == "sqlite":
            # The process under test opens the database through a link (SQLite follows it to
            # the file, and its journal beside it), which the cut points nowhere.
            self.link = tmp_path / "link.sqlite3"
            self.link.symlink_to(self.name)
            self.env["CT_SQLITE_PATH"] = str(self.link)

    def cut(self) -> None:
        if connection.vendor == "sqlite":
            self._point(self.link.parent / "gone" / "db.sqlite3")
            return
        # From the server's maintenance database: a database cannot refuse its own sessions.
        with self._maintenance() as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> %s",
                [self.name, self._own_session()],
            )

    def restore(self) -> None:
        if connection.vendor == "sqlite":
            self._point(self.name)
            return
        with self._maintenance() as admin:
            admin.execute(f'ALTER DATABASE "{self.name}" WITH ALLOW_CONNECTIONS true')

    def _maintenance(self):
        import psycopg

        settings = connection.settings_dict
        return psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        )

    def _own_session(self) -> int:
        """The test's own session, which stays: it writes and reads as before."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def _point(self, target) -> None:
        self.link.unlink()
        self.link.symlink_to(target)


def test_beat_outlives_a_lost_database_and_its_heartbeat_resumes(
    runtime_env, transactional_db, tmp_path
):
    database = DatabaseCut(runtime_env, tmp_path)
    beat = supervised_beat(database.env)
    beat.start()
    try:
        wait_for_heartbeat(beat, beat_name())
        running = beat.wait_for_child()

        database.cut()
        try:
            # Two failed tries at least: beat backs off and tries again instead of exiting.
            wait_for(
                lambda: beat.log.read_text(errors="replace").count("beat: database error") >= 2,
                timeout=30,
                what="beat to meet the database error twice",
                on_timeout=beat.tail,
            )
        finally:
            database.restore()
        restored = timezone.now()

        wait_for_heartbeat(beat, beat_name(), after=restored, timeout=30)
        assert beat.child() == running  # the same beat went on: nothing had to restart it
        assert beat.says("beat: the database answers again")
    finally:
        beat.stop()
