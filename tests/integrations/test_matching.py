"""Harvest names a time entry's user by Harvest's id alone. While nobody has linked that
id to a resource, the default Harvest mapping finds the resource by the e-mail Harvest
has for the user: the tower reads the user from Harvest's API (the simulated Harvest,
over HTTP, with the system's token and account id), links the one resource with that
e-mail, as a person would, and remembers it. None, several, or a resource linked to
another Harvest user: the entry waits for a person, saying what was tried."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from canonical.errors import ApplicationError
from canonical.models import Invoice, Resource
from integrations.choices import ExceptionType, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, SyncState, Transaction
from integrations.services.mappings import mapping_check
from integrations.services.processing import transactions_process
from integrations.services.sync import record_link_record
from tests.integrations.adapters.support import document
from tests.support.inbound import contract_event, event, events_run, signed_post

pytestmark = pytest.mark.django_db(transaction=True)

GRACE_EMAIL = "grace.hopper@northwind.example"


@pytest.fixture
def staffed(simulator) -> httpx.Client:
    """Contract K-6001 (Manager 300/h) signed, Grace Hopper (E-0002) staffed on it, with the
    e-mail the HRIS gave her; Harvest (simulated) knows her as a user, by the same e-mail."""
    [signed] = events_run(contract_event("K-6001"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    staffing = event(
        "assignment.upserted",
        {
            "number": "A-1",
            "project": "P-K-6001",
            "resource": "E-0002",
            "role": "Manager",
            "start_date": "2026-11-02",
            "allocation_percent": 50,
        },
    )
    [assigned] = events_run(staffing, system="psa")
    assert assigned.state == TransactionState.SUCCEEDED, assigned.last_error
    Resource.objects.filter(employee_number="E-0002").update(email=GRACE_EMAIL)
    return simulator


def harvest_user(http: httpx.Client, email: str, first: str = "Grace") -> int:
    """A user of the simulated Harvest; returns its Harvest id."""
    fields = {"first_name": first, "last_name": "Hopper", "email": email, "is_active": True}
    response = http.post("/harvest/api/v1/users", json=fields)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def entry_of(user_id: int, *, entry_id: int = 2364519735, day: str = "2026-11-04") -> dict:
    """Harvest's documented time entry (developers: help.getharvest.com, "Harvest API v2:
    Time Entries"), approved, by ``user_id`` on project P-K-6001."""
    entry = document("harvest", "time_entry_approved.json")
    entry.update(id=entry_id, spent_date=day, hours=5.0)
    entry["user"] = {"id": user_id, "name": "Grace Hopper"}
    entry["project"]["code"] = "P-K-6001"
    return entry


def received(entry: dict[str, Any]) -> int:
    response = signed_post(Client(), "harvest", entry)
    assert response.status_code == 202, response.content
    [tx_id] = response.json()["transaction_ids"]
    return tx_id


def run(entry: dict[str, Any]) -> Transaction:
    tx_id = received(entry)
    transactions_process(ids=[tx_id])
    return Transaction.objects.get(pk=tx_id)


def harvest_reads(http: httpx.Client) -> list[dict[str, Any]]:
    """The calls Harvest got, but the test's own seeding."""
    return http.get("/harvest/_requests", params={"method": "GET"}).json()["results"]


def harvest_link(resource: Resource) -> str | None:
    state = SyncState.objects.filter(
        system__slug="harvest", content_type__model="resource", object_id=resource.pk
    ).first()
    return state.external_id if state else None


def test_an_unlinked_harvest_user_is_found_by_e_mail_linked_and_remembered(staffed):
    user_id = harvest_user(staffed, "Grace.Hopper@Northwind.example")  # case differs
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    grace = Resource.objects.get(employee_number="E-0002")
    assert harvest_link(grace) == str(user_id)
    assert Invoice.objects.get(number="INV-P-K-6001-202611").amount == Decimal("1500.00")
    [call] = harvest_reads(staffed)
    assert call["path"] == f"/simulator/harvest/v2/users/{user_id}" and call["status"] == 200

    # The next entry of the user runs on the link: no second read.
    later = run(entry_of(user_id, entry_id=2364519736, day="2026-11-05"))
    assert later.state == TransactionState.SUCCEEDED, later.last_error
    assert len(harvest_reads(staffed)) == 1


def test_a_user_whose_e_mail_no_resource_has_waits_for_a_person_without_showing_the_e_mail(
    staffed, user_with_role, api_client_for
):
    user_id = harvest_user(staffed, "someone.else@northwind.example")
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    assert exc.exception_type == "unknown_resource"
    assert exc.waiting_on == f"resource:HARVEST-{user_id}"
    assert f"Harvest user {user_id} is linked to no resource" in exc.message
    assert "no resource has its email from Harvest" in exc.message
    assert "someone.else" not in exc.message  # personal data stays out of the words
    # A person picks the resource; the choice is remembered and the entry runs.
    grace = Resource.objects.get(employee_number="E-0002")
    operator = api_client_for(user_with_role("operator"))
    linked = operator.post(
        f"/api/v1/resources/{grace.pk}/link/", {"system": "harvest", "external_id": str(user_id)}
    )
    assert linked.status_code == 200, linked.content
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error


def test_an_e_mail_two_resources_share_links_neither(staffed):
    Resource.objects.filter(employee_number="E-0003").update(email=GRACE_EMAIL.upper())
    user_id = harvest_user(staffed, GRACE_EMAIL)
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.BLOCKED
    assert "several resources have its email from Harvest" in tx.exception.message
    assert not SyncState.objects.filter(
        system__slug="harvest", content_type__model="resource"
    ).exists()


def test_a_resource_linked_to_another_harvest_user_is_not_taken_over(staffed):
    grace = Resource.objects.get(employee_number="E-0002")
    with transaction.atomic():
        record_link_record(
            record=grace, system=ConnectedSystem.objects.get(slug="harvest"), external_id="77"
        )
    user_id = harvest_user(staffed, GRACE_EMAIL)
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.BLOCKED
    assert "E-0002 has its email from Harvest but is linked to user 77 there" in (
        tx.exception.message
    )
    assert harvest_link(grace) == "77"


def test_a_user_harvest_does_not_have_waits_saying_so(staffed):
    tx = run(entry_of(987654))
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == "unknown_resource"
    assert "Harvest has no user 987654" in tx.exception.message
    assert "404" in tx.exception.message


def test_a_token_harvest_refuses_holds_the_entry_as_a_connection_exception(staffed):
    user_id = harvest_user(staffed, GRACE_EMAIL)
    OutboundAuth.objects.filter(system__slug="harvest").update(username="999999")  # account
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == ExceptionType.AUTHENTICATION_FAILED
    assert [call["status"] for call in harvest_reads(staffed)] == [401]
    assert not SyncState.objects.filter(
        system__slug="harvest", content_type__model="resource"
    ).exists()


def test_harvest_down_retries_the_entry_and_it_matches_later(staffed):
    user_id = harvest_user(staffed, GRACE_EMAIL)
    staffed.put("/harvest/_faults", json={"outage": True})
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.RETRY_SCHEDULED and "503" in tx.last_error
    staffed.put("/harvest/_faults", json={"outage": False})
    Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=tx.received_at)
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error


@pytest.mark.skipif(connection.vendor != "postgresql", reason="workers race on PostgreSQL only")
def test_two_workers_matching_the_same_user_at_once_link_it_once_and_both_run(staffed):
    user_id = harvest_user(staffed, GRACE_EMAIL)
    first = received(entry_of(user_id))
    second = received(entry_of(user_id, entry_id=2364519736, day="2026-11-05"))
    start = threading.Barrier(2)

    def worker(tx_id: int) -> None:
        start.wait()
        try:
            transactions_process(ids=[tx_id])
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(worker, [first, second]))
    # Both entries bill the same project's month: the one that lost the race to open its
    # invoice is retried, and then runs on the link the other one made.
    left = Transaction.objects.filter(
        pk__in=[first, second], state=TransactionState.RETRY_SCHEDULED
    )
    left.update(next_attempt_at=timezone.now())
    transactions_process(ids=[first, second])
    states = Transaction.objects.filter(pk__in=[first, second]).values_list("state", flat=True)
    assert list(states) == [TransactionState.SUCCEEDED] * 2
    links = SyncState.objects.filter(system__slug="harvest", content_type__model="resource")
    assert links.count() == 1
    assert harvest_link(Resource.objects.get(employee_number="E-0002")) == str(user_id)


@pytest.mark.parametrize(
    ("match", "place", "words"),
    [
        ({"contract": {}}, "document.match.contract", "No kind 'contract'"),
        (
            {"resource": {"read": "/v2/users", "source": "email", "field": "email"}},
            "document.match.resource.read",
            "with {id} once",
        ),
        (
            {"resource": {"read": "/v2/users/{id}", "source": "email", "field": "name"}},
            "document.match.resource.field",
            "one of email, employee_number",
        ),
        (
            {"resource": {"read": "/v2/users/{id}", "source": "", "field": "email"}},
            "document.match.resource.source",
            "",
        ),
        ([], "document.match", "Must map a kind of record"),
    ],
)
def test_a_match_that_cannot_be_used_is_refused_naming_its_place(db, match, place, words):
    document_ = {"fields": [{"field": "project", "source": "project.code"}], "match": match}
    with pytest.raises(ApplicationError) as refused:
        mapping_check(record_type="time_entry", document=document_)
    assert place in refused.value.errors
    assert words in " ".join(refused.value.errors[place])


def test_a_workday_worker_list_gives_the_e_mail_a_harvest_user_is_found_by(staffed):
    """The HRIS (Workday's RaaS worker report, as the adapter's fixture) masters the
    people and their e-mails; Harvest's time of one of them finds the resource by it."""
    response = signed_post(Client(), "workday", document("workday", "workers.json"))
    assert response.status_code == 202, response.content
    transactions_process(ids=response.json()["transaction_ids"])
    logan = Resource.objects.get(employee_number="21001")
    assert (logan.email, logan.active) == ("logan.mcneil@northwind.example", True)
    assignment = {
        "number": "A-2",
        "project": "P-K-6001",
        "resource": "21001",
        "role": "Partner",
        "start_date": "2026-11-02",
        "allocation_percent": 20,
    }
    [staffed_tx] = events_run(event("assignment.upserted", assignment), system="psa")
    assert staffed_tx.state == TransactionState.SUCCEEDED, staffed_tx.last_error
    user_id = harvest_user(staffed, "logan.mcneil@northwind.example", first="Logan")
    tx = run(entry_of(user_id))
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert harvest_link(logan) == str(user_id)
    assert Invoice.objects.get(number="INV-P-K-6001-202611").amount == Decimal("2250.00")
