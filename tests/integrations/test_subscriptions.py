"""Outbound events: the outbox written with the change, signed POSTs to a real receiver
over HTTP, in order per record, retried for hours, disabled after a run of failures,
replayed.

Time is compressed by the clock: ``deliveries_send(now=...)`` reads and writes the
schedule with the clock it is given, so "an hour" of retries at the real backoff
settings runs in a fraction of a second, without sleeping.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from controltower.operations.choices import NotificationChannel, NotificationKind
from controltower.operations.models import Notification, Team
from integrations import signatures
from integrations.choices import DeliveryState, EventType
from integrations.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription
from integrations.services.deliveries import (
    deliveries_replay,
    deliveries_send,
    deliveries_sweep,
    delivery_replay,
    subscription_enable,
)
from integrations.services.outbox import outbox_publish
from integrations.tasks import deliver_events_task
from tests.support.inbound import contract_event, events_send
from tests.support.receiver import Receiver, closed_port, running_receiver

SECRET = "subscriber-secret-0123456789abcdef"
SCHEMAS = Path(settings.BASE_DIR) / "integrations" / "schemas" / "events"


@pytest.fixture
def receiver():
    yield from running_receiver()


def subscribe(url: str, *types: str, name: str = "warehouse", **fields) -> Subscription:
    return Subscription.objects.create(
        name=name,
        url=url,
        event_types=list(types or EventType.values),
        secret=SECRET,
        **fields,
    )


def publish(record: str, version: int, event_type: str = EventType.CONTRACT_SIGNED):
    with transaction.atomic():
        return outbox_publish(
            event_type=event_type,
            record_key=record,
            version=version,
            payload={"number": record, "version": version},
        )


def received(receiver: Receiver) -> list[tuple[str, int]]:
    """(record, sequence) of every post the receiver took, in the order it took them."""
    return [(p.body["record"]["key"], p.body["record"]["sequence"]) for p in receiver.accepted()]


def walk(subscription: Subscription, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """Runs the sender at each moment a retry falls due, from ``start`` until ``end``."""
    clock = start
    while clock <= end:
        deliveries_send(subscription_id=subscription.pk, now=clock)
        if not Subscription.objects.filter(pk=subscription.pk, enabled=True).exists():
            break  # nothing is sent to a disabled subscription
        due = (
            Delivery.objects.filter(subscription=subscription, state=DeliveryState.RETRY_SCHEDULED)
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
        if due is None:
            break
        clock = max(due, clock + dt.timedelta(microseconds=1))
    return clock


@pytest.mark.django_db
def test_each_event_reaches_the_receiver_signed_by_the_documented_scheme(receiver):
    subscription = subscribe(receiver.url())
    event = publish("contract:K-1", 1)
    summary = deliveries_send(subscription_id=subscription.pk)
    assert summary.delivered == 1
    [post] = receiver.accepted()
    # The receiver checks it as the tower checks its own inbound events.
    signatures.verify(post.headers[signatures.HEADER], post.raw, [SECRET], tolerance_seconds=300)
    with pytest.raises(signatures.SignatureError):
        signatures.verify(
            post.headers[signatures.HEADER], post.raw, ["another-secret"], tolerance_seconds=300
        )
    assert post.headers["X-CT-Event-Id"] == post.body["id"] == str(event.event_id)
    assert post.headers["X-CT-Event-Type"] == "contract.signed"
    assert post.headers["X-CT-Delivery-Attempt"] == "1"
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.DELIVERED and delivery.last_status_code == 200
    assert delivery.attempts.get().ok


@pytest.mark.django_db
def test_a_later_event_of_a_record_waits_while_an_earlier_one_is_undelivered(receiver):
    subscription = subscribe(receiver.url())
    publish("contract:K-1", 1)
    publish("contract:K-1", 2)
    publish("contract:K-2", 1)
    receiver.fail_next(1, status=500)  # the first post, K-1 #1, fails
    now = timezone.now()
    deliveries_send(subscription_id=subscription.pk, now=now)
    # K-2 is another record: it does not wait. K-1 #2 was never posted.
    assert received(receiver) == [("contract:K-2", 1)]
    assert [(p.body["record"]["key"], p.body["record"]["sequence"]) for p in receiver.posts] == [
        ("contract:K-1", 1),
        ("contract:K-2", 1),
    ]
    held = Delivery.objects.get(record_key="contract:K-1", sequence=2)
    assert held.state == DeliveryState.PENDING and held.attempts_count == 0
    walk(subscription, now, now + dt.timedelta(hours=1))
    assert received(receiver) == [("contract:K-2", 1), ("contract:K-1", 1), ("contract:K-1", 2)]


@pytest.mark.django_db
def test_a_receiver_down_for_an_hour_gets_every_event_once_in_order_when_it_is_up(
    receiver, settings
):
    settings.CT_OUTBOUND_BACKOFF_SECONDS = 30
    settings.CT_OUTBOUND_BACKOFF_CAP_SECONDS = 3600
    settings.CT_OUTBOUND_DISABLE_AFTER = 100
    subscription = subscribe(receiver.url())
    for version in (1, 2, 3):
        publish("contract:K-1", version)
    publish("project:P-1", 1, EventType.PROJECT_READY)
    receiver.down = True
    start = timezone.now()
    clock = walk(subscription, start, start + dt.timedelta(hours=1))
    assert receiver.accepted() == []
    head = Delivery.objects.get(record_key="contract:K-1", sequence=1)
    tries = head.attempts.count()
    # Waits of 15-30 s, 30-60 s, 1-2 min ... doubling: 7 or 8 tries in the hour, not hundreds.
    assert 7 <= tries <= 8, tries
    assert Delivery.objects.get(record_key="contract:K-1", sequence=2).attempts_count == 0
    receiver.down = False
    walk(subscription, clock, clock + dt.timedelta(hours=2))
    got = received(receiver)
    assert [seq for key, seq in got if key == "contract:K-1"] == [1, 2, 3]
    assert [seq for key, seq in got if key == "project:P-1"] == [1]
    ids = [p.body["id"] for p in receiver.accepted()]
    assert len(ids) == len(set(ids)) == 4
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.DELIVERED}
    # Every try is on record: one row per post the receiver saw.
    assert DeliveryAttempt.objects.count() == len(receiver.posts)
    subscription.refresh_from_db()
    assert subscription.enabled and subscription.consecutive_failures == 0


@pytest.mark.django_db
def test_an_event_committed_with_its_change_but_never_sent_is_delivered_once_by_the_sweep(
    receiver,
):
    subscription = subscribe(receiver.url())
    # The change and its event are written; the process "dies" before its on-commit hook
    # asks for a delivery task (in this test's transaction on-commit hooks never run).
    with transaction.atomic():
        Team.objects.create(name="State changed here")
        outbox_publish(
            event_type=EventType.CONTRACT_SIGNED, record_key="contract:K-9", version=1, payload={}
        )
    assert OutboxEvent.objects.count() == 1 and receiver.posts == []
    assert deliveries_sweep() == [subscription.pk]
    deliver_events_task(subscription.pk)  # what a worker runs for the sweep's message
    assert deliveries_sweep() == []
    deliver_events_task(subscription.pk)  # a duplicate message sends nothing more
    assert received(receiver) == [("contract:K-9", 1)]


@pytest.mark.django_db
def test_a_rolled_back_change_writes_no_event(receiver):
    subscribe(receiver.url())
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("contract:K-1", 1)
        raise RuntimeError("the state change failed after the event was written")
    assert not OutboxEvent.objects.exists() and not Delivery.objects.exists()


@pytest.mark.django_db
def test_publishing_a_change_again_writes_no_second_event_and_nobody_listening_writes_none(
    receiver,
):
    assert publish("contract:K-1", 1) is None
    assert not OutboxEvent.objects.exists()
    subscribe(receiver.url(), EventType.CONTRACT_SIGNED)
    first = publish("contract:K-1", 1)
    assert publish("contract:K-1", 1) == first
    assert publish("invoice:I-1", 1, EventType.INVOICE_POSTED) is None
    assert OutboxEvent.objects.count() == Delivery.objects.count() == 1


@pytest.mark.django_db
def test_a_run_of_failures_disables_the_subscription_and_tells_its_team(receiver, settings):
    settings.CT_OUTBOUND_DISABLE_AFTER = 3
    Team.objects.create(name="Data", email="data@example.com")
    subscription = subscribe(f"http://127.0.0.1:{closed_port()}/hook", owner_team="Data")
    publish("contract:K-1", 1)
    publish("contract:K-1", 2)
    start = timezone.now()
    walk(subscription, start, start + dt.timedelta(days=1))
    subscription.refresh_from_db()
    assert not subscription.enabled and subscription.consecutive_failures == 3
    assert "3 failed tries in a row" in subscription.disabled_reason
    assert "ConnectError" in subscription.disabled_reason
    assert DeliveryAttempt.objects.count() == 3  # a disabled subscription is not called
    [notice] = Notification.objects.filter(kind=NotificationKind.NOTICE)
    assert notice.channel == NotificationChannel.EMAIL and notice.recipient == "data@example.com"
    assert subscription.name in notice.subject
    # Events keep collecting while it is disabled; enabling it sends them all, in order.
    publish("contract:K-1", 3)
    subscription.url = receiver.url()
    subscription.save()
    subscription_enable(subscription_id=subscription.pk)
    deliveries_send(subscription_id=subscription.pk)
    assert received(receiver) == [("contract:K-1", 1), ("contract:K-1", 2), ("contract:K-1", 3)]


@pytest.mark.django_db
def test_a_replay_sends_one_event_or_a_time_range_again_with_the_same_event_ids(receiver):
    subscription = subscribe(receiver.url())
    for number in (1, 2, 3):
        publish(f"contract:K-{number}", 1)
    deliveries_send(subscription_id=subscription.pk)
    first_ids = [p.body["id"] for p in receiver.accepted()]
    one = Delivery.objects.get(record_key="contract:K-2")
    delivery_replay(delivery_id=one.pk)
    deliveries_send(subscription_id=subscription.pk)
    assert receiver.accepted()[-1].body["id"] == first_ids[1]
    one.refresh_from_db()
    assert one.state == DeliveryState.DELIVERED and one.attempts.count() == 2
    # The range: events published between K-1's and K-3's (K-3 itself is outside).
    old = timezone.now() - dt.timedelta(days=2)
    OutboxEvent.objects.filter(record_key="contract:K-1").update(created_at=old)
    since, until = old - dt.timedelta(minutes=1), timezone.now() - dt.timedelta(days=1)
    assert deliveries_replay(subscription_id=subscription.pk, since=since, until=until) == 1
    deliveries_send(subscription_id=subscription.pk)
    assert [p.body["id"] for p in receiver.accepted()] == [*first_ids, first_ids[1], first_ids[0]]


@pytest.mark.django_db(transaction=True)
def test_the_flows_publish_what_they_change_and_each_event_matches_its_json_schema(
    simulator, receiver
):
    subscription = subscribe(receiver.url())
    events_send(contract_event("K-7001"), system="clm")
    events_send(contract_event("K-7002", legal_entity="ZZ99"), system="clm")  # an exception
    deliveries_send(subscription_id=subscription.pk)
    posts = receiver.accepted()
    assert [(p.body["type"], p.body["record"]["key"]) for p in posts] == [
        ("contract.signed", "contract:K-7001"),
        ("project.ready", "project:P-K-7001"),
        ("exception.raised", posts[2].body["record"]["key"]),
    ]
    assert posts[2].body["data"]["exception_type"] == "invalid_legal_entity"
    for post in posts:
        schema = json.loads((SCHEMAS / f"{post.body['type']}.json").read_text())
        jsonschema.validate(post.body, schema, format_checker=jsonschema.FormatChecker())
