"""The schema versions API: the event types with their versions (current, deprecated,
upcast), and per system the versions it sent over CT_SCHEMA_USAGE_DAYS, counted from its
transactions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from integrations.models import Transaction
from integrations.schemas.registry import schema_versions
from tests.support.inbound import event, signed_post


def time_entry(number: str, hours, **envelope) -> dict:
    data = {
        "number": number,
        "project": "P-1042",
        "resource": "E-0001",
        "work_date": "2026-11-02",
        "hours": hours,
        "billable": True,
    }
    return event("time_entry.approved", data) | envelope


@pytest.fixture
def sent(demo):
    """What the PSA sent: two v1 time entries, one v2, and a refused v2 one (not counted)."""
    entries = [
        time_entry("T-1", 7.5),
        time_entry("T-2", 8),
        time_entry("T-3", "4.25", schema_version=2),
    ]
    assert signed_post(Client(), "psa", entries).status_code == 202
    refused = signed_post(Client(), "psa", [time_entry("T-4", 4, schema_version=2)])
    assert refused.status_code == 400
    return entries


def test_a_viewer_lists_every_event_type_with_its_versions(db, user_with_role, api_client_for):
    viewer = api_client_for(user_with_role("viewer"))
    listed = viewer.get("/api/v1/schemas/").json()
    assert [item["event_type"] for item in listed] == sorted(schema_versions())
    [time] = [item for item in listed if item["event_type"] == "time_entry.approved"]
    assert (time["flow"], time["business_key"], time["current_version"]) == (
        "time_to_billing",
        "number",
        2,
    )
    assert [
        (v["version"], v["current"], v["deprecated"], v["deprecated_from"], v["upcast"])
        for v in time["versions"]
    ] == [(1, False, True, "2027-03-01", True), (2, True, False, None, False)]


def test_one_type_shows_each_versions_schema_and_examples_and_an_unknown_type_is_named(
    db, user_with_role, api_client_for
):
    viewer = api_client_for(user_with_role("viewer"))
    detail = viewer.get("/api/v1/schemas/time_entry.approved/").json()
    v2 = detail["versions"][1]
    assert v2["file_name"] == "time_entry.approved.v2.json"
    assert v2["schema"]["properties"]["data"]["properties"]["hours"]["type"] == "string"
    assert v2["examples"][0]["schema_version"] == 2
    missing = viewer.get("/api/v1/schemas/time_entry.rejected/")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Unknown event type 'time_entry.rejected'."


def test_a_user_without_a_role_reads_no_schema(db, user_with_role, api_client_for):
    nobody = api_client_for(user_with_role(None))
    assert nobody.get("/api/v1/schemas/").status_code == 403
    assert nobody.get("/api/v1/systems/psa/schema-versions/").status_code in (403, 404)


def test_a_systems_schema_versions_count_what_it_sent_in_the_window(
    sent, user_with_role, api_client_for, settings
):
    viewer = api_client_for(user_with_role("viewer"))
    answer = viewer.get("/api/v1/systems/psa/schema-versions/").json()
    assert (answer["system"], answer["days"]) == ("psa", 30)
    assert [
        (r["event_type"], r["schema_version"], r["count"], r["current"], r["deprecated"])
        for r in answer["rows"]
    ] == [("time_entry.approved", 1, 2, False, True), ("time_entry.approved", 2, 1, True, False)]
    # Out of the window: counted no more.
    Transaction.objects.filter(business_key="T-1").update(
        received_at=Transaction.objects.get(business_key="T-1").received_at - timedelta(days=31)
    )
    rows = viewer.get("/api/v1/systems/psa/schema-versions/").json()["rows"]
    assert [(r["schema_version"], r["count"]) for r in rows] == [(1, 1), (2, 1)]
    assert viewer.get("/api/v1/systems/crm/schema-versions/").json()["rows"] == []
    first = Transaction.objects.get(business_key="T-1")
    assert viewer.get(f"/api/v1/transactions/{first.pk}/").json()["schema_version"] == 1
