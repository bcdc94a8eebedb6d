from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from integrations.choices import TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.signatures import compute, sign
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(demo) -> Client:
    return Client()


def test_it_accepts_one_signed_event_with_202_and_its_transaction_id(client):
    response = signed_post(client, "crm", customer_event("C-2001"))
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 1 and body["duplicates"] == 0
    tx = Transaction.objects.get(pk=body["transaction_ids"][0])
    assert tx.state == TransactionState.RECEIVED
    assert tx.business_key == "C-2001"
    assert tx.flow.kind == "master_data_sync"
    assert tx.source_system.slug == "crm"
    assert tx.payload["data"]["number"] == "C-2001"


def test_it_answers_200_with_the_existing_id_for_a_duplicate_and_stores_nothing_new(client):
    event = customer_event("C-2002")
    first = signed_post(client, "crm", event).json()["transaction_ids"][0]
    response = signed_post(client, "crm", event)
    assert response.status_code == 200
    assert response.json()["transaction_ids"] == [first]
    assert response.json()["results"][0]["duplicate"] is True
    assert Transaction.objects.count() == 1


def test_the_same_event_id_from_another_system_is_not_a_duplicate(client):
    event = customer_event("C-2003")
    assert signed_post(client, "crm", event).status_code == 202
    assert signed_post(client, "erp", event).status_code == 202


def test_it_accepts_a_batch_and_marks_repeats_inside_it_as_duplicates(client):
    events = [customer_event(f"C-3{i:03}") for i in range(10)]
    response = signed_post(client, "crm", [*events, events[0], events[3]])
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 10 and body["duplicates"] == 2
    by_event = {r["event_id"]: r["transaction_id"] for r in body["results"] if not r["duplicate"]}
    repeats = [r for r in body["results"] if r["duplicate"]]
    assert {r["transaction_id"] for r in repeats} == {
        by_event[events[0]["id"]],
        by_event[events[3]["id"]],
    }


def test_it_accepts_a_batch_of_a_thousand_events(client):
    response = signed_post(client, "crm", [customer_event(f"C-{i}") for i in range(1000)])
    assert response.status_code == 202
    assert Transaction.objects.filter(state=TransactionState.RECEIVED).count() == 1000


def test_it_refuses_a_batch_over_a_thousand_events_naming_the_limit(client):
    response = signed_post(client, "crm", [customer_event(f"C-{i}") for i in range(1001)])
    assert response.status_code == 400
    assert "at most 1000" in response.json()["message"]


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "missing"),
        ("sha256=abc", "malformed"),
        (f"t={int(time.time()) - 301},v1=00", "expired"),
        (None, "mismatch"),
    ],
)
def test_it_refuses_a_bad_signature_with_401_naming_the_reason(client, signature, reason):
    body = customer_event()
    if signature is None:
        response = signed_post(client, "crm", body, secret="not-the-secret")
    else:
        response = signed_post(client, "crm", body, signature=signature)
    assert response.status_code == 401
    assert response.json()["reason"] == reason
    assert response.json()["errors"] == {"signature": [reason]}
    assert Transaction.objects.count() == 0


def test_an_expired_signature_is_refused_even_when_the_hmac_matches(client):
    response = signed_post(client, "crm", customer_event(), timestamp=int(time.time()) - 600)
    assert response.status_code == 401
    assert response.json()["reason"] == "expired"


def test_it_accepts_either_secret_while_one_is_rotated(client, monkeypatch):
    monkeypatch.setenv("CT_SECRET_CRM", "new-secret,old-secret")
    assert signed_post(client, "crm", customer_event(), secret="old-secret").status_code == 202
    assert signed_post(client, "crm", customer_event(), secret="new-secret").status_code == 202
    assert signed_post(client, "crm", customer_event(), secret="demo-crm-secret").status_code == 401


def test_a_sender_may_sign_with_both_secrets_at_once(client):
    raw = json.dumps(customer_event()).encode()
    now = int(time.time())
    header = f"t={now},v1={compute('retired', raw, now)},v1={compute('demo-crm-secret', raw, now)}"
    assert signed_post(client, "crm", raw, signature=header).status_code == 202


def test_malformed_json_is_refused_with_400_and_the_raw_body_is_kept(client):
    raw = b'{"type": "customer.upserted", "id": '
    response = signed_post(client, "crm", raw)
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("Malformed JSON")
    rejected = Transaction.objects.get(pk=body["transaction_id"])
    assert rejected.state == TransactionState.REJECTED
    assert rejected.raw_body == raw.decode()
    assert rejected.last_error == body["message"]


def test_a_missing_data_field_is_refused_naming_its_path(client):
    event = customer_event()
    del event["data"]["currency"]
    response = signed_post(client, "crm", event)
    assert response.status_code == 400
    assert response.json()["errors"] == {"data.currency": ["This field is required."]}
    rejected = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert rejected.errors == {"data.currency": ["This field is required."]}
    assert json.loads(rejected.raw_body) == event


def test_a_wrong_type_in_a_batch_is_refused_naming_the_event_and_the_field(client):
    events = [customer_event("C-1"), customer_event("C-2")]
    events[1]["data"]["currency"] = "usd"
    events[1]["version"] = "2"
    response = signed_post(client, "crm", events)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"[1].data.currency", "[1].version"}
    assert (
        "[1].data.currency" in response.json()["message"]
        or "[1].version" in response.json()["message"]
    )
    # All or nothing: the valid first event is not accepted either, but it is kept.
    assert Transaction.objects.exclude(state=TransactionState.REJECTED).count() == 0
    assert Transaction.objects.get(state=TransactionState.REJECTED).raw_body


def test_an_unknown_event_type_is_refused_listing_the_known_ones(client):
    event = customer_event()
    event["type"] = "customer.deleted_forever"
    response = signed_post(client, "crm", event)
    assert response.status_code == 400
    assert "customer.upserted" in response.json()["errors"]["type"][0]


def test_an_occurred_at_without_a_time_zone_is_refused(client):
    event = customer_event()
    event["occurred_at"] = "2026-11-02T09:30:00"
    response = signed_post(client, "crm", event)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["occurred_at"]


def test_an_unexpected_field_is_refused_naming_it(client):
    event = customer_event()
    event["data"]["colour"] = "blue"
    response = signed_post(client, "crm", event)
    assert response.status_code == 400
    assert "colour" in json.dumps(response.json()["errors"])


def test_a_refused_event_id_can_be_sent_again_once_corrected(client):
    event = customer_event()
    bad = json.loads(json.dumps(event))
    bad["data"]["currency"] = "dollars"
    assert signed_post(client, "crm", bad).status_code == 400
    assert signed_post(client, "crm", event).status_code == 202


def test_the_kept_body_of_a_refused_request_is_bounded(client, settings):
    settings.CT_REJECTED_BODY_MAX_BYTES = 100
    raw = b"[" + b" " * 5000 + b"oops"
    response = signed_post(client, "crm", raw)
    assert response.status_code == 400
    kept = Transaction.objects.get(pk=response.json()["transaction_id"]).raw_body
    assert kept.startswith("[") and "more bytes not kept" in kept and len(kept) < 200


def test_an_unknown_system_is_404(client):
    response = signed_post(client, "nope", customer_event())
    assert response.status_code == 404
    assert "nope" in response.json()["message"]


def test_a_disabled_system_is_409(client):
    ConnectedSystem.objects.filter(slug="crm").update(enabled=False)
    response = signed_post(client, "crm", customer_event())
    assert response.status_code == 409
    assert "disabled" in response.json()["message"]


def test_a_body_over_the_size_limit_is_413(client, settings):
    settings.CT_INBOUND_MAX_BYTES = 2048
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    events = [customer_event(f"C-{i}") for i in range(40)]
    response = signed_post(client, "crm", events)
    assert response.status_code == 413
    assert "2048" in response.json()["message"]
    assert Transaction.objects.count() == 0


def test_events_for_a_paused_flow_are_stored_and_not_sent(
    client, django_capture_on_commit_callbacks
):
    Flow.objects.filter(kind="master_data_sync").update(paused=True)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = signed_post(client, "crm", customer_event())
    assert response.status_code == 202
    assert callbacks == []
    assert Transaction.objects.get().state == TransactionState.RECEIVED


def test_the_inbound_endpoint_needs_no_session_or_token_only_the_signature(client):
    raw = json.dumps(customer_event()).encode()
    response = client.post(
        "/api/v1/inbound/crm/",
        raw,
        content_type="application/json",
        HTTP_X_CT_SIGNATURE=sign("demo-crm-secret", raw),
    )
    assert response.status_code == 202


def test_the_results_follow_the_order_of_the_events_sent(client):
    events = [customer_event(f"C-4{i:03}") for i in range(5)]
    signed_post(client, "crm", events[2])
    body = signed_post(client, "crm", [events[4], events[2], events[0], events[4]]).json()
    assert [r["event_id"] for r in body["results"]] == [events[i]["id"] for i in (4, 2, 0, 4)]
    assert [r["duplicate"] for r in body["results"]] == [False, True, False, True]
    assert body["results"][0]["transaction_id"] == body["results"][3]["transaction_id"]
    assert (body["accepted"], body["duplicates"]) == (2, 2)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"type": NaN}', "NaN"),
        (b'{"type": "customer.upserted", "id": "a\\u0000b"}', "NUL"),
    ],
)
def test_a_body_no_json_column_could_keep_is_refused_not_a_500(client, raw, why):
    response = signed_post(client, "crm", raw)
    assert response.status_code == 400, why
    assert response.json()["errors"]
