"""A simulated system pushes signed events to the tower, here the same live server."""

from __future__ import annotations

import pytest

from integrations.models import Transaction
from tests.support.inbound import customer_event

pytestmark = pytest.mark.django_db(transaction=True)


def test_emit_posts_a_signed_event_to_the_towers_inbound_api(sim, live_server, demo):
    event = customer_event("C-7001", name="Wayne Enterprises")
    response = sim.post(
        "/simulator/crm/_emit", json={"events": [event], "tower_url": live_server.url}
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1
    tx = Transaction.objects.get(pk=body["transaction_ids"][0])
    assert tx.source_system.slug == "crm"
    assert tx.business_key == "C-7001"
    assert tx.idempotency_key == event["id"]


def test_emit_answers_with_the_towers_refusal(sim, live_server, demo):
    event = customer_event("C-7002")
    del event["data"]["currency"]
    response = sim.post(
        "/simulator/clm/_emit", json={"events": [event], "tower_url": live_server.url}
    )
    assert response.status_code == 400
    assert "[0].data.currency" in response.json()["errors"]


def test_emit_refuses_a_body_without_events(sim):
    response = sim.post("/simulator/crm/_emit", json={"events": []})
    assert response.status_code == 400
    assert "events" in response.json()["errors"]


def test_emit_answers_502_when_the_tower_does_not_answer(sim):
    response = sim.post(
        "/simulator/crm/_emit",
        json={"events": [customer_event()], "tower_url": "http://127.0.0.1:9"},
    )
    assert response.status_code == 502
