"""The BambooHR workers poller: the employees BambooHR's change tracking lists ("Get Changed
Employee IDs") read over real HTTP from the simulated HRIS, each a thin event that reads
the employee when it runs, then a resource."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from django.test import Client

from canonical.models import Resource
from controltower.operations.demo import demo_load
from integrations.choices import PollerRunOutcome, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, Poller, Transaction
from integrations.pollers.bamboohr import BAMBOOHR_WORKERS
from integrations.services.polling import poller_run
from integrations.services.processing import transactions_process
from tests.integrations.adapters.support import accepted, document
from tests.support.inbound import signed_post
from tests.support.simulator import simulator_client

pytestmark = pytest.mark.django_db(transaction=True)

EMPLOYEES = "/hris/api/v1/employees"
GATEWAY = "/simulator/hris/api/gateway.php/northwind/v1"
GRACE = {
    "employeeNumber": "E-0002",
    "firstName": "Grace",
    "lastName": "Hopper-Murray",
    "workEmail": "grace.hopper@northwind.example",
    "jobTitle": "Partner",
    "division": "US01",
    "status": "Active",
}
MARGARET = {
    "employeeNumber": "E-0107",
    "firstName": "Margaret",
    "lastName": "Hamilton",
    "workEmail": "margaret.hamilton@northwind.example",
    "jobTitle": "Consultant",
    "division": "GB01",
    "status": "Active",
}


@pytest.fixture
def hris(live_server) -> Iterator[httpx.Client]:
    """The demo's BambooHR pointed at the simulated HRIS over HTTP, emptied."""
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="bamboohr").update(
        base_url=f"{base}/hris/api/gateway.php/northwind"
    )
    with simulator_client(base, timeout=10) as http:
        http.post("/hris/_reset")
        yield http


@pytest.fixture
def poller(hris) -> Poller:
    """The demo's BambooHR workers poller, with a five-minute overlap."""
    Poller.objects.filter(system__slug="bamboohr", record_type="worker").update(overlap_seconds=300)
    return Poller.objects.get(system__slug="bamboohr", record_type="worker")


def employee_seeded(http: httpx.Client, fields: dict[str, Any]) -> str:
    response = http.post(EMPLOYEES, json=fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def next_second() -> None:
    """BambooHR's change times are whole seconds: a change in the same second as the one
    before it has the same time, and is the same change to a reader of the list."""
    time.sleep(1 - datetime.now(UTC).microsecond / 1_000_000)


def polled() -> list[Transaction]:
    return list(Transaction.objects.filter(source_system__slug="bamboohr").order_by("pk"))


def processed(tx: Transaction) -> Transaction:
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    return tx


def hris_reads(http: httpx.Client) -> list[dict[str, Any]]:
    return http.get("/hris/_requests", params={"method": "GET"}).json()["results"]


def test_changed_employees_become_thin_transactions_then_resources(hris, poller):
    grace = employee_seeded(hris, GRACE)
    margaret = employee_seeded(hris, MARGARET)
    run = poller_run(poller_id=poller.pk)
    assert run.ok and (run.received, run.stored, run.pages) == (2, 2, 1), run.error
    changes = hris.get(
        GATEWAY.removeprefix("/simulator") + "/employees/changed/",
        params={"since": "2011-06-05T00:00:00Z"},
    )
    listed = changes.json()["employees"]
    first, second = polled()
    assert (first.external_id, second.external_id) == (grace, margaret)
    assert first.idempotency_key == f"{grace}:{listed[grace]['lastChanged']}"
    assert first.event_type == "resource.upserted" and first.fetch == grace
    assert first.payload == listed[grace]  # what BambooHR listed is what was received
    assert first.state == TransactionState.RECEIVED
    for tx in (first, second):
        tx = processed(tx)
        assert tx.state == TransactionState.SUCCEEDED, tx.last_error
        assert tx.payload["fields"]["employeeNumber"] in ("E-0002", "E-0107") and tx.fetch == ""
    updated = Resource.objects.get(employee_number="E-0002")
    assert updated.name == "Grace Hopper-Murray" and updated.role == "Partner"
    added = Resource.objects.get(employee_number="E-0107")
    assert added.name == "Margaret Hamilton" and added.legal_entity.code == "GB01"
    # One read of the list (everything: no cursor yet), then each employee, as BambooHR's
    # "Get Employee", with the system's credentials.
    calls = hris_reads(hris)
    assert calls[0]["path"] == f"{GATEWAY}/employees/changed/" and calls[0]["status"] == 200
    assert calls[0]["query"] == "since=1970-01-01T00%3A00%3A00Z"
    assert [call["path"] for call in calls[2:]] == [
        f"{GATEWAY}/employees/{grace}/",
        f"{GATEWAY}/employees/{margaret}/",
    ]
    poller.refresh_from_db()
    assert poller.cursor.isoformat() == listed[margaret]["lastChanged"]
    assert (poller.last_outcome, poller.last_received, poller.last_stored) == ("ok", 2, 2)


def test_a_second_run_reads_the_overlap_again_and_stores_no_duplicate(hris, poller):
    employee_seeded(hris, GRACE)
    poller_run(poller_id=poller.pk)
    poller.refresh_from_db()
    cursor = poller.cursor
    employee_seeded(hris, MARGARET)
    run = poller_run(poller_id=poller.pk)
    # Grace is listed again (the overlap window reaches back over her): read, stored once.
    assert run.ok and (run.received, run.stored) == (2, 1), run.error
    assert [tx.business_key for tx in polled()] == [tx.external_id for tx in polled()]
    assert len(polled()) == 2
    since = (cursor - timedelta(seconds=300)).strftime("%Y-%m-%dT%H%%3A%M%%3A%SZ")
    lists = [c for c in hris_reads(hris) if c["path"].endswith("/employees/changed/")]
    assert lists[-1]["query"] == f"since={since}"


def test_an_employee_changed_again_later_is_a_new_transaction(hris, poller):
    grace = employee_seeded(hris, GRACE)
    poller_run(poller_id=poller.pk)
    [first] = polled()
    assert processed(first).state == TransactionState.SUCCEEDED
    next_second()
    hris.patch(f"{EMPLOYEES}/{grace}", json={"jobTitle": "Manager"})
    run = poller_run(poller_id=poller.pk)
    assert (run.received, run.stored) == (1, 1)
    [_, later] = polled()
    assert later.event_version > first.event_version and later.external_id == grace
    assert processed(later).state == TransactionState.SUCCEEDED, later.last_error
    assert Resource.objects.get(employee_number="E-0002").role == "Manager"


def test_a_deleted_employee_is_recorded_as_ignored_with_the_reason(hris, poller):
    grace = employee_seeded(hris, GRACE)
    poller_run(poller_id=poller.pk)
    next_second()
    assert hris.delete(f"{EMPLOYEES}/{grace}").status_code == 204
    run = poller_run(poller_id=poller.pk)
    assert run.ok and (run.received, run.stored) == (1, 1), run.error
    deleted = polled()[-1]
    assert deleted.state == TransactionState.IGNORED and deleted.payload["action"] == "Deleted"
    assert "A Deleted employee" in deleted.last_error and deleted.fetch == ""
    # Nothing was read of the deleted employee.
    assert not [c for c in hris_reads(hris) if c["path"] == f"{GATEWAY}/employees/{grace}/"]


def test_credentials_the_hris_refuses_fail_the_run_and_say_so(hris, poller):
    employee_seeded(hris, GRACE)
    OutboundAuth.objects.filter(system__slug="bamboohr").update(username="not-the-api-key")
    run = poller_run(poller_id=poller.pk)
    assert not run.ok and "refused the tower's credentials" in run.error
    poller.refresh_from_db()
    assert poller.last_outcome == PollerRunOutcome.FAILED and poller.cursor is None
    assert "refused the tower's credentials" in poller.last_error and polled() == []
    assert [call["status"] for call in hris_reads(hris)] == [401]


def test_the_same_change_by_webhook_and_by_poll_changes_the_resource_once(hris, poller):
    grace = employee_seeded(hris, GRACE)
    poller_run(poller_id=poller.pk)
    [polled_tx] = polled()
    assert processed(polled_tx).state == TransactionState.SUCCEEDED
    # BambooHR's event-based webhook for the same change, its time written as its webhooks
    # write it (+0000): another key, so another transaction, but the same version.
    body = document("bamboohr", "event_employee_updated.json")
    body["data"]["employeeId"] = grace
    body["timestamp"] = polled_tx.payload["lastChanged"].replace("+00:00", "+0000")
    [hooked] = accepted(signed_post(Client(), "bamboohr", body), 1)
    assert hooked.event_version == polled_tx.event_version
    assert hooked.idempotency_key != polled_tx.idempotency_key
    hooked = processed(hooked)
    assert hooked.state == TransactionState.SUCCEEDED, hooked.last_error
    assert Resource.objects.get(employee_number="E-0002").version == polled_tx.event_version


def test_a_canonical_hris_has_no_workers_source_and_the_run_says_so(hris):
    canonical = Poller.objects.create(
        system=ConnectedSystem.objects.get(slug="hris"), record_type="worker"
    )
    run = poller_run(poller_id=canonical.pk)
    assert not run.ok and "cannot poll workers" in run.error
    assert "Tower canonical JSON" in run.error


def test_an_entry_of_bamboohrs_documented_answer_is_read_as_its_change(db):
    # documentation.bamboohr.com, "Get Changed Employee IDs": the sample answer.
    entries = document("bamboohr", "changed_employees.json")["employees"]
    inserted = BAMBOOHR_WORKERS.event(entries["3"])
    assert inserted.idempotency_key == "3:2011-06-02T19:26:23+00:00"
    assert (inserted.fetch, inserted.external_id, inserted.ignored) == ("3", "3", "")
    assert inserted.version == 1307042783000
    assert BAMBOOHR_WORKERS.event(entries["4"]).fetch == "4"
    deleted = BAMBOOHR_WORKERS.event(entries["5"])
    assert deleted.fetch == "" and "Deleted employee" in deleted.ignored
    assert BAMBOOHR_WORKERS.changed_at(entries["10"]) == datetime(
        2011, 5, 31, 22, 57, 10, tzinfo=UTC
    )
