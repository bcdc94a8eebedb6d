"""The event subscriptions pages: an admin registers one and sees its secret once; the
delivery log filters; an operator sends an event again; a viewer only reads."""

from __future__ import annotations

import pytest
from django.utils import timezone

from integrations.choices import DeliveryState, EventType
from integrations.models import Delivery, OutboxEvent, Subscription

pytestmark = pytest.mark.django_db


def logged_in(client, user):
    client.force_login(user)
    return client


def test_an_admin_registers_a_subscription_and_its_secret_is_shown_once(client, user_with_role):
    logged_in(client, user_with_role("admin"))
    assert client.get("/config/subscriptions/new/").status_code == 200
    page = client.post(
        "/config/subscriptions/new/",
        {"name": "warehouse", "url": "https://dw.example.com/in", "event_types": ["project.ready"]},
    )
    subscription = Subscription.objects.get()
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    assert subscription.secret in page.content.decode()
    again = client.get(f"/config/subscriptions/{subscription.pk}/").content.decode()
    assert subscription.secret not in again
    listing = client.get("/config/subscriptions/").content.decode()
    assert "warehouse" in listing and "dw.example.com" in listing


def test_a_subscription_without_events_is_refused_on_the_form(client, user_with_role):
    logged_in(client, user_with_role("admin"))
    page = client.post("/config/subscriptions/new/", {"name": "x", "url": "https://x.example"})
    assert page.status_code == 400 and not Subscription.objects.exists()


def test_the_log_filters_and_an_operator_sends_an_event_again(client, user_with_role):
    subscription = Subscription.objects.create(
        name="portal", url="https://portal.example.com/", event_types=EventType.values, secret="s"
    )
    for number, state in ((1, DeliveryState.DELIVERED), (2, DeliveryState.RETRY_SCHEDULED)):
        event = OutboxEvent.objects.create(
            event_type=EventType.CONTRACT_SIGNED,
            record_key=f"contract:K-{number}",
            sequence=1,
            dedupe_key=f"k{number}",
            occurred_at=timezone.now(),
        )
        Delivery.objects.create(
            subscription=subscription,
            event=event,
            record_key=event.record_key,
            sequence=1,
            state=state,
        )
    logged_in(client, user_with_role("operator"))
    url = f"/config/subscriptions/{subscription.pk}/"
    page = client.get(url, {"state": "retry_scheduled"}, HTTP_HX_REQUEST="true").content.decode()
    assert "contract:K-2" in page and "contract:K-1" not in page and "<html" not in page
    delivered = Delivery.objects.get(record_key="contract:K-1")
    answer = client.post(f"{url}deliveries/{delivered.pk}/replay/")
    assert answer.status_code == 302
    delivered.refresh_from_db()
    assert delivered.state == DeliveryState.PENDING
    assert client.post(f"{url}switch/", {"enabled": "0"}).status_code == 403


def test_a_viewer_reads_but_may_not_add(client, user_with_role):
    logged_in(client, user_with_role("viewer"))
    assert client.get("/config/subscriptions/").status_code == 200
    assert client.get("/config/subscriptions/new/").status_code == 403


def test_an_admin_changes_disables_enables_and_rekeys_a_subscription(client, user_with_role):
    subscription = Subscription.objects.create(
        name="portal",
        url="https://portal.example.com/",
        event_types=["contract.signed"],
        secret="s",
    )
    logged_in(client, user_with_role("admin"))
    url = f"/config/subscriptions/{subscription.pk}/"
    client.post(
        f"{url}edit/",
        {"name": "portal", "url": "https://new.example.com/", "event_types": ["invoice.posted"]},
    )
    client.post(f"{url}switch/", {"enabled": "0", "reason": "moving"})
    subscription.refresh_from_db()
    assert subscription.url == "https://new.example.com/"
    assert subscription.event_types == ["invoice.posted"] and not subscription.enabled
    client.post(f"{url}switch/", {"enabled": "1"})
    page = client.post(f"{url}rotate-secret/")
    subscription.refresh_from_db()
    assert subscription.enabled and subscription.secret != "s"
    assert subscription.secret in page.content.decode()
