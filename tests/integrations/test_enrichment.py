"""Thin events: a BambooHR event-based webhook names an employee only; when it runs, the
tower reads the employee from the HRIS's API (the simulated one, over HTTP, with the
system's credentials), keeps what it read in the payload and maps it to the resource."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from canonical.models import Resource
from controltower.operations.demo import demo_load
from controltower.operations.services.actions import transaction_replay
from integrations.adapters.bamboohr import DEFAULT
from integrations.choices import ExceptionType, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, Transaction
from integrations.services.connections import connection_test
from integrations.services.mappings import mapping_preview
from integrations.services.processing import transactions_process
from tests.integrations.adapters.support import accepted, document
from tests.support.inbound import signed_post
from tests.support.simulator import simulator_client

pytestmark = pytest.mark.django_db(transaction=True)

GRACE = {
    "employeeNumber": "E-0002",
    "firstName": "Grace",
    "lastName": "Hopper-Murray",
    "workEmail": "grace.hopper@northwind.example",
    "jobTitle": "Partner",
    "division": "US01",
    "status": "Active",
    "homePhone": "+1 555 0100",
}


@pytest.fixture
def hris(live_server) -> Iterator[httpx.Client]:
    demo_load()
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="bamboohr").update(
        base_url=f"{base}/hris/api/gateway.php/northwind"
    )
    with simulator_client(base, timeout=10) as http:
        http.post("/hris/_reset")
        yield http


def employee_seeded(http: httpx.Client, fields: dict[str, Any]) -> str:
    """An employee of the simulated HRIS; returns its BambooHR id."""
    response = http.post("/hris/api/v1/employees", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def event_received(employee_id: str, kind: str = "employee.updated") -> Transaction:
    """BambooHR's documented event-based webhook for ``employee_id``, received."""
    body = document("bamboohr", "event_employee_updated.json")
    body["type"] = kind
    body["data"]["employeeId"] = employee_id
    body["data"]["changedFields"] = ["lastName", "jobTitle"]
    response = signed_post(Client(), "bamboohr", body)
    [tx] = accepted(response, 1)
    return tx


def processed(tx: Transaction) -> Transaction:
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    return tx


def hris_reads(http: httpx.Client) -> list[dict[str, Any]]:
    """The calls the HRIS got, but the test's own seeding."""
    return http.get("/hris/_requests", params={"method": "GET"}).json()["results"]


def test_an_updated_employee_is_read_from_the_hris_and_updates_the_resource(hris):
    employee_id = employee_seeded(hris, GRACE)
    tx = processed(event_received(employee_id))
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    resource = Resource.objects.get(employee_number="E-0002")
    assert resource.name == "Grace Hopper-Murray" and resource.role == "Partner"
    # What was read is kept for the diff and the audit: the fields the tower asked for.
    fetched = {key: value for key, value in GRACE.items() if key != "homePhone"}
    assert tx.payload["fields"] == {"id": employee_id, **fetched}
    assert tx.payload["type"] == "employee.updated" and tx.fetch == ""
    assert tx.normalized["data"]["name"] == "Grace Hopper-Murray"
    [call] = hris_reads(hris)
    assert call["method"] == "GET" and call["status"] == 200
    assert call["path"] == f"/simulator/hris/api/gateway.php/northwind/v1/employees/{employee_id}/"
    assert "fields=employeeNumber" in call["query"]


def test_a_deleted_employee_is_ignored_without_a_call_to_the_hris(hris):
    employee_id = employee_seeded(hris, GRACE)
    body = document("bamboohr", "event_employee_updated.json")
    body["type"], body["data"]["employeeId"] = "employee.deleted", employee_id
    response = signed_post(Client(), "bamboohr", body)
    assert response.json()["ignored"] == 1
    tx = Transaction.objects.get(pk=response.json()["transaction_ids"][0])
    assert tx.state == TransactionState.IGNORED and "Deleted" in tx.last_error
    assert hris_reads(hris) == []


def test_an_employee_the_hris_does_not_have_is_ignored_with_the_reason(hris):
    tx = processed(event_received("99999"))
    assert tx.state == TransactionState.IGNORED
    assert "has no record 99999" in tx.last_error and "404" in tx.last_error
    assert Resource.objects.get(employee_number="E-0002").name == "Grace Hopper"


def test_an_hris_outage_schedules_a_retry_that_reads_the_employee_later(hris):
    employee_id = employee_seeded(hris, GRACE)
    hris.put("/hris/_faults", json={"outage": True})
    tx = processed(event_received(employee_id))
    assert tx.state == TransactionState.RETRY_SCHEDULED
    assert tx.fetch == employee_id and "503" in tx.last_error
    hris.put("/hris/_faults", json={"outage": False})
    Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=timezone.now() - timedelta(1))
    tx = processed(tx)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Resource.objects.get(employee_number="E-0002").role == "Partner"


def test_credentials_the_hris_refuses_hold_the_event_as_an_authentication_exception(hris):
    employee_id = employee_seeded(hris, GRACE)
    OutboundAuth.objects.filter(system__slug="bamboohr").update(username="not-the-api-key")
    tx = processed(event_received(employee_id))
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == ExceptionType.AUTHENTICATION_FAILED
    assert tx.fetch == employee_id
    assert [call["status"] for call in hris_reads(hris)] == [401]


def test_the_connection_test_reads_bamboohrs_field_list_with_the_credentials(hris):
    result = connection_test(ConnectedSystem.objects.get(slug="bamboohr"))
    assert result.ok and result.status == 200, result.message
    assert result.url.endswith("/hris/api/gateway.php/northwind/v1/meta/fields/")
    OutboundAuth.objects.filter(system__slug="bamboohr").update(username="not-the-api-key")
    refused = connection_test(ConnectedSystem.objects.get(slug="bamboohr"))
    assert not refused.ok and refused.status == 401


def test_a_mapping_is_tried_on_what_a_thin_event_read_and_a_thin_sample_says_it_waits(hris):
    employee_id = employee_seeded(hris, GRACE)
    system = ConnectedSystem.objects.get(slug="bamboohr")
    waiting = event_received(employee_id)
    name_only = {"field": "name", "source": "fields.lastName"}  # the family name only
    draft = {"fields": [name_only if f["field"] == "name" else f for f in DEFAULT["fields"]]}
    [before] = mapping_preview(
        system=system, record_type="resource", document=draft, transaction_ids=[waiting.pk]
    )
    assert not before.ok and "read from the system when it runs" in before.unmapped["(fetch)"][0]
    processed(waiting)
    [after] = mapping_preview(
        system=system, record_type="resource", document=draft, transaction_ids=[waiting.pk]
    )
    assert after.ok and after.normalized["data"]["name"] == "Hopper-Murray"
    assert after.normalized["data"]["role"] == "Partner"


def test_a_replay_of_a_thin_event_reads_its_record_again_when_it_runs(hris, operator):
    employee_id = employee_seeded(hris, GRACE)
    auth = OutboundAuth.objects.filter(system__slug="bamboohr")
    auth.update(username="not-the-api-key")
    held = processed(event_received(employee_id))
    assert held.state == TransactionState.BLOCKED
    auth.update(username="demo-hris-api-key")
    replay = transaction_replay(transaction_id=held.pk, actor=operator, reason="key fixed")
    assert replay.fetch == employee_id and replay.parent_id == held.pk
    replay = processed(replay)
    assert replay.state == TransactionState.SUCCEEDED, replay.last_error
    assert replay.payload["fields"]["lastName"] == "Hopper-Murray"
