"""Retention: finished transactions older than the period leave the hot tables, archived,
their counts kept in the roll-ups; open work and what anything open needs stay."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from controltower.operations.selectors.overview import overview_figures
from integrations.choices import RollupSpan, TransactionState
from integrations.models import Attempt, FlowRollup, RetentionSweep, SyncState, Transaction
from integrations.services.retention import transactions_retention
from integrations.services.rollups import rollups_rebuild
from integrations.tasks import transactions_retention_task
from tests.support.inbound import customer_event, events_send

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
LONG_AGO = NOW - timedelta(days=400)
LAST_WEEK = NOW - timedelta(days=7)
COUNTS = ("received", "succeeded", "retried", "dead", "blocked", "recovered", "latency_us")


@pytest.fixture
def history(demo, settings, tmp_path) -> dict[str, list[int]]:
    """A year and more ago: a customer's three changes, another customer's only event (still
    its record's last sync event) and an event refused by a rule and still blocked; last
    week: the first customer's fourth change."""
    settings.CT_RETENTION_DAYS = 365
    settings.CT_RETENTION_ARCHIVE_DIR = tmp_path
    with time_machine.travel(LONG_AGO, tick=False) as clock:
        versions = []
        for version in (1, 2, 3):
            versions += events_send(customer_event("C-7001", version=version))
            clock.shift(timedelta(minutes=10))
        last_synced = events_send(customer_event("C-7003"))
        blocked = events_send(customer_event("C-7002", legal_entity="ZZ99"))
    with time_machine.travel(LAST_WEEK, tick=False):
        recent = events_send(customer_event("C-7001", version=4))
    states = dict(Transaction.objects.values_list("pk", "state"))
    assert {states[pk] for pk in versions + last_synced + recent} == {TransactionState.SUCCEEDED}
    assert states[blocked[0]] == TransactionState.BLOCKED
    return {
        "old": versions,
        "last_synced": last_synced,
        "blocked": blocked,
        "recent": recent,
    }


def hour_rollups() -> dict[tuple[int, str], tuple[int, ...]]:
    return {
        (row.flow_id, row.bucket.isoformat()): tuple(getattr(row, c) for c in COUNTS)
        for row in FlowRollup.objects.filter(span=RollupSpan.HOUR)
    }


def present(ids: list[int]) -> set[int]:
    return set(Transaction.objects.filter(pk__in=ids).values_list("pk", flat=True))


def test_a_finished_transaction_older_than_the_period_is_removed_archived_with_its_attempts(
    history, tmp_path
):
    attempts = list(
        Attempt.objects.filter(transaction_id__in=history["old"]).values_list("pk", flat=True)
    )
    assert attempts
    sweep = transactions_retention(now=NOW)
    assert present(history["old"]) == set()
    assert not Attempt.objects.filter(pk__in=attempts).exists()
    assert (sweep.removed, sweep.attempts_removed, sweep.more) == (3, len(attempts), False)
    assert (sweep.first_id, sweep.last_id) == (history["old"][0], history["old"][-1])
    [archive] = tmp_path.glob("transactions-*.jsonl.gz")
    assert archive.name == f"transactions-{LONG_AGO.date().isoformat()}.jsonl.gz"
    lines = [json.loads(line) for line in gzip.open(archive, "rt")]
    assert [line["id"] for line in lines] == history["old"]
    assert lines[0]["payload"]["data"]["number"] == "C-7001"
    assert sorted(a["id"] for line in lines for a in line["attempts"]) == sorted(attempts)


def test_open_work_and_what_a_record_or_an_open_exception_still_needs_are_kept(history):
    transactions_retention(now=NOW)
    kept = history["last_synced"] + history["blocked"] + history["recent"]
    assert present(kept) == set(kept)
    assert SyncState.objects.filter(last_transaction_id=history["last_synced"][0]).exists()
    assert Transaction.objects.get(pk=history["blocked"][0]).exception.status == "open"


def test_the_roll_ups_and_the_overview_figures_are_the_same_after_and_a_rebuild_keeps_them(history):
    before, figures = hour_rollups(), overview_figures(now=NOW)
    assert sum(counts[0] for counts in before.values()) == 6  # received, in the hours they came
    transactions_retention(now=NOW)
    assert hour_rollups() == before
    after = overview_figures(now=NOW)
    assert after["flows"] == figures["flows"] and after["totals"] == figures["totals"]
    # A recount from long before the cutoff leaves the hours whose rows are gone as they were.
    rollups_rebuild(since=LONG_AGO - timedelta(days=1))
    assert hour_rollups() == before


def test_the_job_is_idempotent(history, tmp_path):
    first = transactions_retention(now=NOW)
    rollups, archived = hour_rollups(), gzip.open(next(tmp_path.glob("*.gz")), "rt").read()
    again = transactions_retention(now=NOW)
    assert (first.removed, again.removed, again.first_id) == (3, 0, None)
    assert hour_rollups() == rollups
    assert gzip.open(next(tmp_path.glob("*.gz")), "rt").read() == archived


def test_each_batch_deletes_at_most_the_batch_size_and_a_run_stops_at_its_batch_limit(
    history, settings
):
    settings.CT_RETENTION_BATCH, settings.CT_RETENTION_BATCHES = 1, 1
    with CaptureQueriesContext(connection) as queries:
        first = transactions_retention(now=NOW)
    deletes = [
        q["sql"] for q in queries if q["sql"].startswith('DELETE FROM "integrations_transaction"')
    ]
    assert len(deletes) == 1 and deletes[0].count(" IN (") == 1
    assert f"IN ({history['old'][0]})" in deletes[0]
    assert (first.removed, first.more) == (1, True)
    settings.CT_RETENTION_BATCHES = 5
    second = transactions_retention(now=NOW)
    assert (second.removed, second.batches, second.more) == (2, 2, False)
    assert second.first_id == history["old"][1]
    assert present(history["old"]) == set()


def test_the_page_of_a_removed_transaction_says_retention_removed_it(history, user_with_role):
    transactions_retention(now=NOW)
    client = Client()
    client.force_login(user_with_role("viewer"))
    removed = client.get(f"/transactions/{history['old'][0]}/")
    assert removed.status_code == 410
    assert b"was removed by retention" in removed.content
    assert client.get(f"/transactions/{history['recent'][0]}/").status_code == 200
    assert client.get("/transactions/999999999/").status_code == 404


def test_a_retention_of_zero_days_keeps_everything(history, settings):
    settings.CT_RETENTION_DAYS = 0
    assert transactions_retention_task() is None
    assert present(history["old"]) == set(history["old"])
    assert not RetentionSweep.objects.exists()


def test_beat_runs_the_retention_every_hour():
    entry = django_settings.CELERY_BEAT_SCHEDULE["transactions-retention"]
    assert entry["task"] == transactions_retention_task.name
    assert entry["schedule"] == 3600.0
