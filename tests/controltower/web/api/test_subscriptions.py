"""The subscriptions API: an admin registers an endpoint and reads its secret once, an
operator replays, a viewer reads the log; the OpenAPI document lists the events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from controltower.operations.models import AuditEvent
from integrations.choices import DeliveryState, EventType
from integrations.models import Delivery, OutboxEvent, Subscription

pytestmark = pytest.mark.django_db

URL = "/api/v1/subscriptions/"


def create(client, **fields):
    return client.post(
        URL,
        {
            "name": "warehouse",
            "url": "https://warehouse.example.com/tower",
            "event_types": ["contract.signed", "invoice.posted"],
            **fields,
        },
        format="json",
    )


def a_delivery(subscription: Subscription) -> Delivery:
    event = OutboxEvent.objects.create(
        event_type=EventType.CONTRACT_SIGNED,
        record_key="contract:K-1",
        sequence=1,
        dedupe_key="contract.signed|contract:K-1|1",
        occurred_at=timezone.now(),
    )
    return Delivery.objects.create(
        subscription=subscription,
        event=event,
        record_key=event.record_key,
        sequence=1,
        state=DeliveryState.DELIVERED,
        attempts_count=1,
    )


def test_an_admin_registers_a_subscription_and_sees_its_secret_only_in_that_answer(
    api_client_for, user_with_role
):
    client = api_client_for(user_with_role("admin"))
    answer = create(client)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert len(body["secret"]) >= 32 and answer["Cache-Control"] == "no-store"
    assert Subscription.objects.get().secret == body["secret"]
    shown = client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in shown and shown["secret_set"] is True
    assert AuditEvent.objects.get(action="subscription.create").after["secret"] != body["secret"]
    rotated = client.post(f"{URL}{body['id']}/rotate-secret/", {}, format="json").json()
    assert rotated["secret"] != body["secret"]


def test_bad_input_is_refused_naming_the_field(api_client_for, user_with_role):
    client = api_client_for(user_with_role("admin"))
    answer = create(client, event_types=["contract.sined"], url="ftp://x")
    assert answer.status_code == 400
    assert {"event_types.0", "url"} <= set(answer.json()["errors"])
    assert create(client, owner_team="Nobody").json()["errors"]["owner_team"]
    assert not Subscription.objects.exists()


def test_an_operator_replays_but_may_not_register_and_a_viewer_reads_the_log(
    api_client_for, user_with_role
):
    subscription = Subscription.objects.create(
        name="portal",
        url="https://portal.example.com/",
        event_types=["contract.signed"],
        secret="s",
    )
    delivery = a_delivery(subscription)
    operator = api_client_for(user_with_role("operator"))
    assert create(operator).status_code == 403
    assert operator.post(f"{URL}{subscription.pk}/switch/", {"enabled": False}).status_code == 403
    answer = operator.post(f"/api/v1/deliveries/{delivery.pk}/replay/", {"reason": "lost"})
    assert answer.status_code == 200 and answer.json()["state"] == "pending"
    since = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    until = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    answer = operator.post(
        f"{URL}{subscription.pk}/replay/", {"since": since, "until": until}, format="json"
    )
    assert answer.json() == {"deliveries": 1}
    viewer = api_client_for(user_with_role("viewer"))
    log = viewer.get("/api/v1/deliveries/", {"subscription": subscription.pk}).json()
    assert [row["event_id"] for row in log["results"]] == [str(delivery.event.event_id)]
    assert viewer.post(f"/api/v1/deliveries/{delivery.pk}/replay/").status_code == 403


def test_an_admin_disables_and_enables_a_subscription(api_client_for, user_with_role):
    client = api_client_for(user_with_role("admin"))
    pk = create(client).json()["id"]
    off = client.post(f"{URL}{pk}/switch/", {"enabled": False, "reason": "migrating"}).json()
    assert off["enabled"] is False and "migrating" in off["disabled_reason"]
    on = client.post(f"{URL}{pk}/switch/", {"enabled": True}).json()
    assert on["enabled"] is True and on["disabled_reason"] == ""


def test_the_openapi_document_lists_each_event_with_its_json_schema(api_client_for, user_with_role):
    schema = api_client_for(user_with_role("viewer")).get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == set(EventType.values)
    post = schema["webhooks"]["invoice.posted"]["post"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["type"] == {"const": "invoice.posted"}
    assert "erp_number" in body["properties"]["data"]["required"]
    assert "X-CT-Signature" in {p["name"] for p in post["parameters"]}
