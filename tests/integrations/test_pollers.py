"""Pollers: the PSA's time entries read over real HTTP from the simulated PSA."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from canonical.models import Customer
from controltower.operations.demo import demo_load
from integrations.choices import PollerRunOutcome, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, Poller, Transaction
from integrations.services.polling import poller_claim, poller_run
from integrations.services.processing import transactions_process
from integrations.tasks import run_due_pollers_task
from tests.support.simulator import simulator_client

pytestmark = pytest.mark.django_db(transaction=True)

ENTRIES = "/psa/api/v1/time-entries"


@pytest.fixture
def psa(live_server):
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    with simulator_client(base, timeout=10) as http:
        http.post("/psa/_reset")
        yield http


@pytest.fixture
def crm(psa, live_server):
    ConnectedSystem.objects.filter(slug="crm").update(base_url=f"{live_server.url}/simulator/crm")
    psa.post("/crm/_reset")
    return Poller.objects.create(
        system=ConnectedSystem.objects.get(slug="crm"), record_type="customer", enabled=True
    )


@pytest.fixture
def poller(psa):
    """The demo's PSA time-entry poller, enabled, two entries a page."""
    Poller.objects.filter(system__slug="psa", record_type="time_entry").update(
        enabled=True, overlap_seconds=300, page_size=2
    )
    return Poller.objects.get(system__slug="psa", record_type="time_entry")


def entry_add(http: httpx.Client, number: str, **fields) -> dict:
    body = {
        "number": number,
        "project": "P-1042",
        "resource": "E-0001",
        "work_date": "2026-11-02",
        "hours": 7.5,
        "billable": True,
        "approved_at": "2026-11-03T09:00:00Z",
        "notes": "Design review",
        **fields,
    }
    response = http.post(ENTRIES, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def polled() -> list[str]:
    return sorted(
        Transaction.objects.filter(source_system__slug="psa").values_list("business_key", flat=True)
    )


def test_a_poll_picks_up_changed_entries_and_creates_transactions(psa, poller):
    entry_add(psa, "TE-1")
    last = entry_add(psa, "TE-2", hours=3)
    run = poller_run(poller_id=poller.pk)
    assert run.ok and (run.received, run.stored) == (2, 2), run.error
    assert polled() == ["TE-1", "TE-2"]
    tx = Transaction.objects.get(business_key="TE-2")
    assert tx.event_type == "time_entry.approved" and tx.normalized["data"]["hours"] == "3.00"
    assert tx.external_id == last["id"] and tx.payload["updated_at"] == last["updated_at"]
    poller.refresh_from_db()
    assert poller.cursor.isoformat() == last["updated_at"]
    assert (poller.last_outcome, poller.last_received, poller.last_stored) == ("ok", 2, 2)
    assert poller.running_since is None and poller.lag() >= timedelta(0)


def test_a_second_poll_reads_the_overlap_again_and_creates_no_duplicates(psa, poller):
    entry_add(psa, "TE-1")
    entry_add(psa, "TE-2")
    poller_run(poller_id=poller.pk)
    entry_add(psa, "TE-3")
    run = poller_run(poller_id=poller.pk)
    # The overlap window reaches back over the first two: read again, stored once.
    assert (run.received, run.stored) == (3, 1)
    assert polled() == ["TE-1", "TE-2", "TE-3"]


def test_an_entry_changed_later_is_a_new_transaction_of_its_new_version(psa, poller):
    entry = entry_add(psa, "TE-1", hours=2)
    poller_run(poller_id=poller.pk)
    psa.patch(f"{ENTRIES}/{entry['id']}", json={"hours": 4})
    run = poller_run(poller_id=poller.pk)
    assert (run.received, run.stored) == (1, 1)
    # Read in Python: SQLite's JSON look-up would read the decimal string "2.00" as a number.
    hours = [tx.normalized["data"]["hours"] for tx in Transaction.objects.order_by("pk")]
    assert hours == ["2.00", "4.00"]


def test_the_same_pages_read_twice_create_no_duplicates(psa, poller):
    for number in ("TE-1", "TE-2", "TE-3"):
        entry_add(psa, number)
    poller_run(poller_id=poller.pk)
    # Read from the start again (an admin moved the cursor back): every page a duplicate.
    Poller.objects.filter(pk=poller.pk).update(cursor=None)
    run = poller_run(poller_id=poller.pk)
    assert run.ok and (run.received, run.stored, run.pages) == (3, 0, 2)
    assert polled() == ["TE-1", "TE-2", "TE-3"]


def test_a_poll_pages_through_every_change(psa, poller):
    for index in range(5):
        entry_add(psa, f"TE-{index}")
    run = poller_run(poller_id=poller.pk)
    assert (run.pages, run.received, run.stored) == (3, 5, 5)
    calls = psa.get("/psa/_requests", params={"method": "GET"}).json()["results"]
    queries = [call["query"] for call in calls if call["path"].endswith("/time-entries")]
    # The first run has no cursor: everything, two at a time.
    assert queries == ["offset=0&limit=2", "offset=2&limit=2", "offset=4&limit=2"]


def test_an_entry_not_approved_is_stored_as_ignored_by_its_rule(psa, poller):
    entry_add(psa, "TE-1", approved_at=None, status="submitted")
    poller_run(poller_id=poller.pk)
    tx = Transaction.objects.get()
    assert tx.state == TransactionState.IGNORED and "approved entries only" in tx.last_error


def test_an_entry_that_does_not_fit_is_refused_and_the_others_are_stored(psa, poller):
    entry_add(psa, "TE-1", hours="many")
    entry_add(psa, "TE-2")
    run = poller_run(poller_id=poller.pk)
    assert run.ok and (run.stored, run.refused) == (1, 1)
    refused = Transaction.objects.get(state=TransactionState.REJECTED)
    assert '"many"' in refused.raw_body and "data.hours" in refused.errors


def test_the_psa_down_the_run_records_its_error_and_the_cursor_stays(psa, poller):
    entry_add(psa, "TE-1")
    poller_run(poller_id=poller.pk)
    poller.refresh_from_db()
    cursor = poller.cursor
    entry_add(psa, "TE-2")
    psa.put("/psa/_faults", json={"outage": True})
    run = poller_run(poller_id=poller.pk)
    assert not run.ok and "503" in run.error
    poller.refresh_from_db()
    assert poller.cursor == cursor and poller.last_outcome == PollerRunOutcome.FAILED
    assert "503" in poller.last_error and poller.running_since is None
    psa.put("/psa/_faults", json={"outage": False})
    assert poller_run(poller_id=poller.pk).ok and polled() == ["TE-1", "TE-2"]


def test_the_psa_refusing_the_key_fails_the_run_and_says_so(psa, poller):
    auth = OutboundAuth.objects.get(system__slug="psa")
    auth.secret = "wrong-key"
    auth.save()
    run = poller_run(poller_id=poller.pk)
    assert not run.ok and "refused the tower's credentials" in run.error


def test_a_disabled_system_is_not_read(psa, poller):
    entry_add(psa, "TE-1")
    ConnectedSystem.objects.filter(slug="psa").update(enabled=False)
    run = poller_run(poller_id=poller.pk)
    assert not run.ok and "disabled" in run.error and polled() == []


def test_a_poller_held_by_a_run_is_not_run_twice(poller):
    assert poller_claim(poller_id=poller.pk) is not None
    assert poller_run(poller_id=poller.pk) is None
    poller.refresh_from_db()
    assert poller.last_outcome == PollerRunOutcome.RUNNING


def test_beat_runs_the_due_pollers_on_a_schedule():
    entry = django_settings.CELERY_BEAT_SCHEDULE["run-due-pollers"]
    assert entry["task"] == run_due_pollers_task.name and entry["schedule"] == 30.0


def test_the_beat_task_runs_only_the_due_pollers(psa, poller):
    system = poller.system
    now = timezone.now()
    Poller.objects.filter(pk=poller.pk).update(
        interval_seconds=60, last_started_at=now - timedelta(seconds=61)
    )
    resting = Poller.objects.create(
        system=system, record_type="worker", enabled=True, last_started_at=now
    )
    off = ConnectedSystem.objects.get(slug="erp").pollers.create(
        record_type="time_entry", enabled=False
    )
    entry_add(psa, "TE-1")
    assert run_due_pollers_task() == 1
    started = dict(Poller.objects.values_list("pk", "last_started_at"))
    assert started[poller.pk] > now and started[resting.pk] == now and started[off.pk] is None
    assert polled() == ["TE-1"]


def test_a_second_kind_of_record_is_polled_and_processed_to_a_canonical_customer(psa, crm):
    account = {"number": "C-9001", "name": "Fabrikam", "legal_entity": "US01", "currency": "USD"}
    assert psa.post("/crm/api/v1/accounts", json=account).status_code == 201
    run = poller_run(poller_id=crm.pk)
    assert run.ok and run.stored == 1, run.error
    tx = Transaction.objects.get(source_system__slug="crm")
    assert (tx.event_type, tx.business_key) == ("customer.upserted", "C-9001")
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Customer.objects.get(number="C-9001").name == "Fabrikam"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="runs overlap on PostgreSQL only")
def test_two_runs_started_at_the_same_moment_read_once(psa, poller):
    entry_add(psa, "TE-1")
    start = threading.Barrier(2)

    def run():
        start.wait()
        try:
            return poller_run(poller_id=poller.pk)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: run(), range(2)))
    assert sorted(r is None for r in runs) == [False, True]
    assert polled() == ["TE-1"]
