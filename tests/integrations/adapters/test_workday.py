from __future__ import annotations

import time

import pytest

from integrations.models import Transaction
from tests.integrations.adapters.support import (
    accepted,
    assert_duplicate,
    assert_nothing_to_do,
    assert_parked,
    assert_refused,
    assert_rejected,
    document,
    raw,
)
from tests.support.inbound import inbound_post, signed_post

pytestmark = pytest.mark.django_db

SLUG = "workday"


def test_each_report_entry_becomes_resource_upserted(client):
    active, leaver = accepted(signed_post(client, SLUG, raw(SLUG, "workers.json")), 2)
    assert active.event_type == "resource.upserted"
    assert active.flow.kind == "master_data_sync"
    assert active.business_key == "21001"
    assert active.idempotency_key == "21001:2026-11-02T01:30:00.000-08:00"
    assert active.event_version == 1793611800000  # 09:30 UTC, whatever the offset sent
    assert active.normalized["occurred_at"] == "2026-11-02T09:30:00Z"
    assert active.normalized["data"] == {
        "employee_number": "21001",
        "name": "Logan McNeil",
        "email": "logan.mcneil@northwind.example",
        "role": "Partner",
        "legal_entity": "US01",
        "active": True,
        "external_id": "21001",
    }
    assert active.payload == document(SLUG, "workers.json")["Report_Entry"][0]
    assert leaver.normalized["data"]["active"] is False
    assert leaver.normalized["data"]["legal_entity"] == "DE01"


def test_the_worker_descriptor_names_a_worker_without_a_legal_name(client):
    report = document(SLUG, "workers.json")
    del report["Report_Entry"][0]["Legal_Name"]
    report["Report_Entry"][0]["Worker"] = "Logan M."
    active, _ = accepted(signed_post(client, SLUG, report), 2)
    assert active.normalized["data"]["name"] == "Logan M."


def test_the_same_delivery_again_is_a_duplicate(client):
    first = signed_post(client, SLUG, raw(SLUG, "workers.json"))
    accepted(first, 2)
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, "workers.json")), first)
    assert Transaction.objects.count() == 2


def test_an_empty_report_is_accepted_with_nothing_to_do(client):
    assert_nothing_to_do(signed_post(client, SLUG, {"Report_Entry": []}))


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_missing_last_updated.json", "Report_Entry[1].Last_Updated"),
        ("malformed_not_a_report.json", "Report_Entry"),
    ],
)
def test_a_report_that_breaks_the_raas_envelope_is_refused_naming_the_field(client, fixture, path):
    body = raw(SLUG, fixture)
    errors = assert_rejected(signed_post(client, SLUG, body), path, body)
    assert list(errors) == [path]


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_company.json", "Report_Entry[0].Company"),
        ("malformed_active_status.json", "Report_Entry[0].Active_Status"),
    ],
)
def test_a_worker_lacking_a_business_value_is_accepted_and_parked_naming_the_field(
    client, fixture, path
):
    assert_parked(signed_post(client, SLUG, raw(SLUG, fixture)), path)


@pytest.mark.parametrize(
    ("signing", "reason"),
    [
        ({"HTTP_X_CT_SIGNATURE": ""}, "missing"),
        ({"HTTP_X_CT_SIGNATURE": "v1=abc"}, "malformed"),
        ({"age": -600}, "expired"),
        ({"secret": "not-the-secret"}, "mismatch"),
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(client, signing, reason):
    body = raw(SLUG, "workers.json")
    if "HTTP_X_CT_SIGNATURE" in signing:
        response = inbound_post(client, SLUG, body, **signing)
    elif "age" in signing:  # a signature made that many seconds ago (negative: ahead)
        response = signed_post(client, SLUG, body, timestamp=int(time.time()) - signing["age"])
    else:
        response = signed_post(client, SLUG, body, **signing)
    assert_refused(response, reason)
