from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from integrations.models import Transaction
from tests.integrations.adapters.support import (
    accepted,
    assert_duplicate,
    assert_ignored,
    assert_parked,
    assert_refused,
    assert_rejected,
    document,
    raw,
)
from tests.support.inbound import bamboohr_signed, body_of, inbound_post, signed_post

pytestmark = pytest.mark.django_db

SLUG = "bamboohr"


def test_each_employee_of_a_field_based_webhook_becomes_resource_upserted(client):
    transactions = accepted(signed_post(client, SLUG, raw(SLUG, "employees_updated.json")), 2)
    tx = transactions[0]
    assert tx.event_type == "resource.upserted"
    assert tx.flow.kind == "master_data_sync"
    assert tx.business_key == "E-0107"
    assert tx.external_id == "107"
    assert tx.idempotency_key == "107:2026-11-02T09:30:00+0000"
    assert tx.event_version == 1793611800000
    assert tx.normalized["data"] == {
        "employee_number": "E-0107",
        "name": "Margaret Hamilton",
        "email": "margaret.hamilton@northwind.example",
        "role": "Manager",
        "legal_entity": "US01",
        "active": True,
        "external_id": "107",
    }
    assert tx.payload == document(SLUG, "employees_updated.json")["employees"][0]
    assert transactions[1].business_key == "E-0108"
    assert transactions[1].normalized["data"]["legal_entity"] == "GB01"


def test_fields_posted_under_their_api_aliases_are_read(client):
    body = document(SLUG, "employees_updated.json")
    aliases = {
        "Employee #": "employeeNumber",
        "First Name": "firstName",
        "Last Name": "lastName",
        "Work Email": "workEmail",
        "Job Title": "jobTitle",
        "Division": "division",
        "Status": "status",
    }
    for employee in body["employees"]:
        employee["fields"] = {aliases.get(k, k): v for k, v in employee["fields"].items()}
    body["employees"][1]["fields"]["status"] = "Inactive"
    transactions = accepted(signed_post(client, SLUG, body), 2)
    assert transactions[0].normalized["data"]["name"] == "Margaret Hamilton"
    assert transactions[1].normalized["data"]["active"] is False


def test_the_same_delivery_again_is_a_duplicate(client):
    first = signed_post(client, SLUG, raw(SLUG, "employees_updated.json"))
    accepted(first, 2)
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, "employees_updated.json")), first)
    assert Transaction.objects.count() == 2


def test_a_deleted_employee_is_recorded_as_ignored(client):
    assert_ignored(signed_post(client, SLUG, raw(SLUG, "employee_deleted.json")), "Deleted")


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_timestamp.json", "employees[1].timestamp"),
    ],
)
def test_a_webhook_that_breaks_bamboohrs_envelope_is_refused_naming_the_field(
    client, fixture, path
):
    body = raw(SLUG, fixture)
    errors = assert_rejected(signed_post(client, SLUG, body), path, body)
    assert list(errors) == [path]


def event_based(kind: str = "employee.updated", changed: list[str] | None = None) -> dict:
    """BambooHR's documented event-based webhook, of ``kind``."""
    body = document(SLUG, "event_employee_updated.json")
    body["type"] = kind
    if changed is not None:
        body["data"]["changedFields"] = changed
    return body


def test_an_event_based_webhook_is_accepted_to_be_read_from_bamboohr_when_it_runs(client):
    response = signed_post(client, SLUG, raw(SLUG, "event_employee_updated.json"))
    [tx] = accepted(response, 1)
    assert "read from the system's API" in response.json()["results"][0]["fetch"]
    assert "unmapped" not in response.json()["results"][0]
    assert tx.fetch == "67890" and tx.external_id == "67890"
    assert tx.event_type == "resource.upserted" and tx.errors is None
    assert tx.idempotency_key == "67890:2026-01-31T18:42:00+0000"
    assert tx.payload == document(SLUG, "event_employee_updated.json")


def test_an_employee_created_event_is_read_from_bamboohr_as_well(client):
    [tx] = accepted(signed_post(client, SLUG, event_based("employee.created")), 1)
    assert tx.fetch == "67890"


def test_an_employee_deleted_event_is_recorded_as_ignored(client):
    [tx] = assert_ignored(signed_post(client, SLUG, event_based("employee.deleted")), "Deleted")
    assert tx.fetch == ""


def test_an_update_of_fields_the_mapping_does_not_read_is_ignored_without_a_call(client):
    body = event_based(changed=["homePhone"])
    [tx] = assert_ignored(signed_post(client, SLUG, body), "homePhone")
    assert tx.fetch == ""


def test_an_event_of_another_kind_is_recorded_as_ignored(client):
    assert_ignored(signed_post(client, SLUG, event_based("time_off.approved")), "employee events")


def test_an_event_without_an_employee_id_is_refused_naming_the_field(client):
    body = event_based()
    del body["data"]["employeeId"]
    errors = assert_rejected(signed_post(client, SLUG, body), "data.employeeId", body_of(body))
    assert list(errors) == ["data.employeeId"]


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_division.json", "employees[0].fields.Division"),
        ("malformed_missing_employee_number.json", "employees[0].fields.Employee #"),
    ],
)
def test_an_employee_lacking_a_business_value_is_accepted_and_parked_naming_the_field(
    client, fixture, path
):
    assert_parked(signed_post(client, SLUG, raw(SLUG, fixture)), path)


def test_an_iso_8601_timestamp_header_is_accepted(client):
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    accepted(signed_post(client, SLUG, raw(SLUG, "employees_updated.json"), timestamp=now), 2)


def test_a_signature_over_another_timestamp_is_a_mismatch(client):
    body = raw(SLUG, "employees_updated.json")
    headers = bamboohr_signed(body)
    headers["HTTP_X_BAMBOOHR_TIMESTAMP"] = str(int(headers["HTTP_X_BAMBOOHR_TIMESTAMP"]) - 1)
    assert_refused(inbound_post(client, SLUG, body, **headers), "mismatch")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"HTTP_X_BAMBOOHR_SIGNATURE": None}, "missing"),
        ({"HTTP_X_BAMBOOHR_TIMESTAMP": None}, "missing"),
        ({"HTTP_X_BAMBOOHR_SIGNATURE": "sha256=not-hex"}, "malformed"),
        ({"HTTP_X_BAMBOOHR_TIMESTAMP": "yesterday"}, "malformed"),
        ({"age": 600}, "expired"),
        ({"age": -600}, "expired"),
        ({"secret": "not-the-private-key"}, "mismatch"),
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(client, change, reason):
    body = raw(SLUG, "employees_updated.json")
    signing = {key: value for key, value in change.items() if not key.startswith("HTTP_")}
    if "age" in signing:  # signed that many seconds ago (negative: ahead of our clock)
        signing = {"timestamp": str(int(time.time()) - signing["age"])}
    headers = bamboohr_signed(body, **signing)
    for key, value in change.items():
        if key.startswith("HTTP_"):
            if value is None:
                del headers[key]
            else:
                headers[key] = value
    assert_refused(inbound_post(client, SLUG, body, **headers), reason)
