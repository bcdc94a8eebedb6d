"""The inbound door against any input: whatever a sender posts, it answers 2xx or 4xx, never
5xx, and a body it refuses is kept (as a ``rejected`` transaction) with the reason."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controltower.operations.demo import SYSTEMS
from integrations.choices import TransactionState
from integrations.models import Transaction
from tests.support.inbound import customer_event, inbound_post, signed_post

pytestmark = pytest.mark.django_db

SYSTEM_SLUGS = [slug for slug, *_ in SYSTEMS]
# Every header a demo system reads its signature from.
SIGNATURE_HEADERS = [
    "HTTP_X_CT_SIGNATURE",
    "HTTP_X_DOCUSIGN_SIGNATURE_1",
    "HTTP_X_BAMBOOHR_SIGNATURE",
    "HTTP_X_BAMBOOHR_TIMESTAMP",
]
FUZZ = settings(
    max_examples=15,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def client(demo) -> Client:
    return Client()


def refusal_is_kept(response) -> None:
    """A 400 for what the body holds keeps the body, with the reason, as a rejected transaction."""
    body = response.json()
    if response.status_code == 400 and "transaction_id" in body:
        kept = Transaction.objects.get(pk=body["transaction_id"])
        assert kept.state == TransactionState.REJECTED
        assert kept.last_error == body["message"]


# --- what the issue found, one by one ----------------------------------------------------


def test_a_version_of_two_to_the_63_is_refused_naming_the_field(client):
    response = signed_post(client, "crm", customer_event(version=2**63))
    assert response.status_code == 400, response.content
    assert "version" in response.json()["errors"]
    refusal_is_kept(response)


def test_a_version_past_2_to_the_63_in_a_batch_names_the_event(client):
    events = [customer_event("C-1"), customer_event("C-2", version=2**64)]
    response = signed_post(client, "crm", events)
    assert response.status_code == 400
    assert "[1].version" in response.json()["errors"]


def test_an_occurred_at_with_a_utc_offset_beyond_14_hours_is_refused_naming_the_field(client):
    event = customer_event() | {"occurred_at": "2026-11-02T09:30:00+20:00"}
    response = signed_post(client, "crm", event)
    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["occurred_at"]
    assert "+14:00" in response.json()["errors"]["occurred_at"][0]
    refusal_is_kept(response)


def test_an_occurred_at_at_the_widest_real_offset_is_accepted(client):
    event = customer_event() | {"occurred_at": "2026-11-02T09:30:00+14:00"}
    assert signed_post(client, "crm", event).status_code == 202


def test_a_nul_byte_in_the_body_is_refused_and_the_body_kept_visibly(client):
    raw = json.dumps(customer_event()).encode().replace(b'"data"', b'"da\x00ta"')
    response = signed_post(client, "crm", raw)
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"(body)": ["Null characters are not allowed."]}
    kept = Transaction.objects.get(pk=response.json()["transaction_id"])
    assert "da\\x00ta" in kept.raw_body


def test_a_nul_character_in_a_json_string_is_refused(client):
    event = customer_event(name="Acme\u0000Corp")
    response = signed_post(client, "crm", event)
    assert response.status_code == 400, response.content
    refusal_is_kept(response)


@pytest.mark.parametrize(
    "header",
    [
        "t=\u00b9\u2078\u2070\u2070\u2070\u2070\u2070\u2070\u2070\u2070,v1=" + "0" * 64,
        "t=" + "9" * 5000 + ",v1=" + "0" * 64,
        "t={now},v1=" + "\u00e9" * 64,
    ],
    ids=["superscript-digits", "thousands-of-digits", "non-ascii-v1"],
)
def test_a_malformed_signature_is_a_401_saying_so(client, header):
    response = signed_post(
        client, "crm", customer_event(), signature=header.format(now=int(time.time()))
    )
    assert response.status_code == 401
    assert response.json()["reason"] == "malformed"
    assert Transaction.objects.count() == 0


# --- any input, for every connected system of the demo ------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
# Close to a canonical event, so that generated bodies get past the envelope and reach the
# checks behind it (ids, versions, moments, data).
EVENTLIKE = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["customer.upserted", "contract.signed", "time_entry.approved"])
        | st.text(max_size=20),
        "id": st.text(max_size=30),
        "occurred_at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
        | st.text(max_size=40),
        "version": st.integers(),
        "data": st.dictionaries(st.text(max_size=12), JSON, max_size=5),
    }
)


@pytest.mark.parametrize("system", SYSTEM_SLUGS)
@FUZZ
@given(body=st.binary(max_size=2048))
def test_any_signed_bytes_get_a_2xx_or_4xx_and_a_refusal_is_kept(client, system, body):
    response = signed_post(client, system, body)
    assert response.status_code < 500, response.content
    refusal_is_kept(response)


@pytest.mark.parametrize("system", SYSTEM_SLUGS)
@FUZZ
@given(document=JSON | EVENTLIKE | st.lists(EVENTLIKE, max_size=3))
def test_any_signed_json_gets_a_2xx_or_4xx_and_a_refusal_is_kept(client, system, document):
    response = signed_post(client, system, document)
    assert response.status_code < 500, response.content
    refusal_is_kept(response)


@pytest.mark.parametrize("system", SYSTEM_SLUGS)
@FUZZ
@given(value=st.text(max_size=200))
def test_any_signature_header_text_gets_a_4xx_never_a_5xx(client, system, value):
    response = inbound_post(
        client, system, customer_event(), **dict.fromkeys(SIGNATURE_HEADERS, value)
    )
    assert 400 <= response.status_code < 500, response.content
