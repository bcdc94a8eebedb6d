from __future__ import annotations

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
from tests.support.inbound import (
    body_of,
    docusign_signature,
    docusign_signed,
    inbound_post,
    signed_post,
)

pytestmark = pytest.mark.django_db

SLUG = "docusign"
ENVELOPE = "93be49ab-2a1c-4d5e-8f90-1a2b3c4d5e6f"
CUSTOM = "data.envelopeSummary.customFields"


def test_a_completed_envelope_becomes_a_signed_contract_with_its_custom_field_terms(client):
    [tx] = accepted(signed_post(client, SLUG, raw(SLUG, "envelope_completed.json")), 1)
    assert tx.event_type == "contract.signed"
    assert tx.flow.kind == "contract_to_project"
    assert tx.business_key == "K-2026-0051"
    assert tx.external_id == ENVELOPE
    # No event id from DocuSign: envelope, event and status-change time (7 fractional digits).
    assert tx.idempotency_key == f"{ENVELOPE}:envelope-completed:2026-11-02T09:30:00.0000000Z"
    assert tx.event_version == 1793611800000
    data = tx.normalized["data"]
    assert data["customer"] == "C-1001"
    assert (data["legal_entity"], data["currency"]) == ("US01", "USD")
    assert data["billing_model"] == "fixed_fee"  # from the list custom field "Fixed Fee"
    assert (data["start_date"], data["end_date"]) == ("2026-11-16", "2027-05-15")
    assert data["cap_amount"] == "180000.00"
    assert data["project"] == {"code": "P-1051", "name": "Acme finance transformation"}
    assert data["signed_at"] == "2026-11-02T09:30:00Z"
    assert tx.payload == document(SLUG, "envelope_completed.json")


def test_the_project_name_falls_back_to_the_email_subject(client):
    message = document(SLUG, "envelope_completed.json")
    fields = message["data"]["envelopeSummary"]["customFields"]["textCustomFields"]
    fields[:] = [field for field in fields if field["name"] != "Project_Name"]
    [tx] = accepted(signed_post(client, SLUG, message), 1)
    assert tx.normalized["data"]["project"]["name"] == (
        "Please DocuSign: Acme Corporation statement of work"
    )


def test_the_same_delivery_again_is_a_duplicate(client):
    first = signed_post(client, SLUG, raw(SLUG, "envelope_completed.json"))
    accepted(first, 1)
    assert_duplicate(signed_post(client, SLUG, raw(SLUG, "envelope_completed.json")), first)
    assert Transaction.objects.count() == 1


def test_an_event_other_than_envelope_completed_is_recorded_as_ignored(client):
    assert_ignored(signed_post(client, SLUG, raw(SLUG, "envelope_sent.json")), "envelope-sent")


def test_a_malformed_envelope_is_refused_naming_the_docusign_field(client):
    body = raw(SLUG, "malformed_status_changed_time.json")
    path = "data.envelopeSummary.statusChangedDateTime"
    errors = assert_rejected(signed_post(client, SLUG, body), path, body)
    assert list(errors) == [path]


@pytest.mark.parametrize(
    ("fixture", "path"),
    [
        ("malformed_start_date.json", f"{CUSTOM}.textCustomFields[4].value"),
        ("malformed_missing_contract_number.json", f"{CUSTOM}.*[name=Contract_Number].value"),
    ],
)
def test_an_envelope_lacking_a_business_value_is_accepted_and_parked_naming_the_field(
    client, fixture, path
):
    assert_parked(signed_post(client, SLUG, raw(SLUG, fixture)), path)


def test_a_completed_event_without_the_envelope_summary_is_refused(client):
    message = document(SLUG, "envelope_completed.json")
    del message["data"]["envelopeSummary"]
    assert_rejected(signed_post(client, SLUG, message), "data.envelopeSummary", body_of(message))


def test_any_one_matching_signature_header_is_enough(client):
    body = raw(SLUG, "envelope_completed.json")
    headers = docusign_signed(body, "a-retired-hmac-key", "demo-docusign-secret")
    accepted(inbound_post(client, SLUG, body, **headers), 1)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        ({"HTTP_X_DOCUSIGN_SIGNATURE_1": "   "}, "missing"),
        ({"HTTP_X_DOCUSIGN_SIGNATURE_1": "not base64 at all!"}, "malformed"),
        ({"HTTP_X_DOCUSIGN_SIGNATURE_1": "c2hvcnQ="}, "malformed"),  # base64, not 32 bytes
        (
            {"HTTP_X_DOCUSIGN_SIGNATURE_1": docusign_signature(b"another body")},
            "mismatch",
        ),
        (
            {"HTTP_X_DOCUSIGN_SIGNATURE_1": docusign_signature(b"{}", "demo-docusign-secret")},
            "mismatch",
        ),
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(client, headers, reason):
    assert_refused(
        inbound_post(client, SLUG, raw(SLUG, "envelope_completed.json"), **headers), reason
    )


def test_a_signature_with_the_wrong_key_is_a_mismatch(client):
    response = signed_post(
        client, SLUG, raw(SLUG, "envelope_completed.json"), secret="not-the-hmac-key"
    )
    assert_refused(response, "mismatch")
    assert "X-DocuSign-Signature" in response.json()["message"]
