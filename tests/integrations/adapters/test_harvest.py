from __future__ import annotations

import time

import pytest

from integrations.models import Transaction
from tests.integrations.adapters.support import (
    accepted,
    assert_duplicate,
    assert_ignored,
    assert_nothing_to_do,
    assert_parked,
    assert_refused,
    assert_rejected,
    document,
    raw,
)
from tests.support.inbound import inbound_post, signed_post

pytestmark = pytest.mark.django_db

SLUG = "harvest"


def test_an_approved_time_entry_becomes_time_entry_approved(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "time_entry_approved.json")), 1)
    assert tx.event_type == "time_entry.approved"
    assert tx.flow.kind == "time_to_billing"
    assert tx.business_key == "2364519735"
    assert tx.idempotency_key == "2364519735:2026-11-03T14:05:12Z"
    assert tx.event_version == 1793714712000  # updated_at in epoch milliseconds
    data = tx.normalized["data"]
    assert data["project"] == "P-1042"
    assert data["resource"] == "HARVEST-4105327"
    assert data["work_date"] == "2026-11-02"
    assert data["hours"] == "7.50"
    assert data["billable"] is True
    assert data["notes"] == "Finance workshop: chart of accounts mapping"
    assert tx.payload == document(SLUG, "time_entry_approved.json")


def test_a_list_response_keeps_the_approved_entries_and_records_the_unlocked_one_as_ignored(
    client,
):
    transactions = accepted(signed_post(client, SLUG, raw(SLUG, "time_entries_list.json")), 3)
    assert [tx.business_key for tx in transactions] == ["2364519735", "2364519801", "2364519736"]
    assert [tx.state for tx in transactions] == ["received", "ignored", "received"]
    assert "is_locked is false" in transactions[1].last_error
    assert transactions[2].normalized["data"]["hours"] == "0.25"
    assert transactions[2].normalized["data"]["billable"] is False
    assert transactions[2].payload == document(SLUG, "time_entries_list.json")["time_entries"][2]


def test_a_plain_array_of_entries_is_read_too(client):
    entries = document(SLUG, "time_entries_list.json")["time_entries"]
    accepted(signed_post(client, SLUG, entries), 3)


def test_the_same_delivery_again_is_a_duplicate(client):
    first = signed_post(client, SLUG, raw(SLUG, "time_entry_approved.json"))
    accepted(first, 1)
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, "time_entry_approved.json")), first)
    assert Transaction.objects.count() == 1


def test_an_unlocked_entry_is_recorded_as_ignored(client):
    assert_ignored(
        signed_post(client, SLUG, raw(SLUG, "time_entry_unlocked.json")), "is_locked is false"
    )


def test_an_empty_page_is_accepted_with_nothing_to_do(client):
    assert_nothing_to_do(
        signed_post(client, SLUG, {"time_entries": [], "page": 1, "total_entries": 0})
    )


def test_an_entry_that_breaks_harvests_envelope_is_refused_naming_the_field(client):
    body = raw(SLUG, "malformed_id.json")
    errors = assert_rejected(signed_post(client, SLUG, body), "id", body)
    assert list(errors) == ["id"]


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_hours_in_batch.json", "[2].hours"),
        ("malformed_spent_date.json", "spent_date"),
    ],
)
def test_an_entry_lacking_a_business_value_is_accepted_and_parked_naming_the_field(
    client, fixture, path
):
    assert_parked(signed_post(client, SLUG, raw(SLUG, fixture)), path)


def test_an_entry_of_an_account_without_project_codes_names_its_project_by_harvest_id(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "time_entry_without_project_code.json")), 1)
    assert tx.normalized["data"]["project"] == "HARVEST-41221045"
    assert not tx.errors


def test_an_entry_with_neither_project_code_nor_id_is_parked_naming_the_code(client):
    entry = document(SLUG, "time_entry_without_project_code.json")
    entry["project"] = {"name": "Acme ERP rollout"}
    assert_parked(signed_post(client, SLUG, entry), "project.code")


@pytest.mark.parametrize(
    ("signing", "reason"),
    [
        ({"HTTP_X_CT_SIGNATURE": ""}, "missing"),
        ({"HTTP_X_CT_SIGNATURE": "t=now,v1=abc"}, "malformed"),
        ({"age": 600}, "expired"),
        ({"secret": "demo-salesforce-secret"}, "mismatch"),
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(client, signing, reason):
    body = raw(SLUG, "time_entry_approved.json")
    if "HTTP_X_CT_SIGNATURE" in signing:
        response = inbound_post(client, SLUG, body, **signing)
    elif "age" in signing:  # a signature made that many seconds ago (negative: ahead)
        response = signed_post(client, SLUG, body, timestamp=int(time.time()) - signing["age"])
    else:
        response = signed_post(client, SLUG, body, **signing)
    assert_refused(response, reason)
