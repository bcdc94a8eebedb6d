"""Delivering SLA notifications: chat webhooks over real HTTP, email, retries and maintenance windows."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.core import mail
from django.db import connection

from controltower.operations.choices import (
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)
from controltower.operations.models import Notification, NotificationAttempt, SlaBreach
from controltower.operations.services.notifications import notifications_deliver
from controltower.operations.services.sla import sla_sweep
from tests.factories.operations import (
    FlowTransactionFactory,
    MaintenanceWindowFactory,
    SlaPolicyFactory,
    TeamFactory,
)
from tests.support.receiver import closed_port, running_receiver

UTC = dt.UTC
T0 = dt.datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
BREACHED_AT = T0 + dt.timedelta(minutes=61)


def at(minutes: float) -> dt.datetime:
    return BREACHED_AT + dt.timedelta(minutes=minutes)


@pytest.fixture
def receiver():
    yield from running_receiver()


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team(db, receiver):
    return TeamFactory(
        name="Billing ops",
        email="billing-ops@example.com",
        chat_webhook_url=receiver.url("/billing"),
        escalation_email="",
    )


@pytest.fixture
def breach(team, clock, settings) -> SlaBreach:
    """A contract that missed its one-hour SLA: the sweep has queued its notices."""
    settings.CT_PUBLIC_URL = "https://tower.example.com"
    SlaPolicyFactory(name="Contract to project in 1 h", target_minutes=60, team=team)
    FlowTransactionFactory(business_key="C-2041")
    clock.move_to(BREACHED_AT)
    assert sla_sweep() == {"breached": 1, "notifications": 2}
    return SlaBreach.objects.get()


def webhook(breach: SlaBreach) -> Notification:
    return breach.notifications.get(channel=NotificationChannel.WEBHOOK)


def test_a_breach_is_posted_to_the_chat_webhook_as_json_with_text_and_facts(breach, receiver):
    assert notifications_deliver() == {"sent": 2}

    [post] = receiver.accepted("/billing")
    body = post.body
    assert "SLA breached" in body["text"] and "C-2041" in body["text"]
    assert body["kind"] == "breach" and body["team"] == "Billing ops"
    assert body["policy"]["name"] == "Contract to project in 1 h"
    assert body["item"]["type"] == "transaction" and body["item"]["business_key"] == "C-2041"
    assert body["item"]["id"] == breach.transaction_id
    assert body["due"] == breach.due_at.isoformat()
    # The page a person opens, at the address people open the tower at: not the worker's
    # host, not the JSON API.
    assert body["link"] == f"/transactions/{breach.transaction_id}/"
    assert body["url"] == f"https://tower.example.com/transactions/{breach.transaction_id}/"
    assert body["url"] in body["text"]
    assert post.headers["Content-Type"] == "application/json"
    notice = webhook(breach)
    assert post.headers["X-Tower-Notification"] == str(notice.pk)
    notice.refresh_from_db()
    assert (notice.status, notice.attempts_count, notice.sent_at) == (
        NotificationStatus.SENT,
        1,
        BREACHED_AT,
    )
    [attempt] = notice.attempts.all()
    assert (attempt.number, attempt.ok, attempt.status_code) == (1, True, 200)


def test_a_breach_is_emailed_through_the_mail_backend(breach):
    notifications_deliver()

    [message] = mail.outbox
    assert message.to == ["billing-ops@example.com"]
    assert message.subject.startswith("[SLA breached] Transaction #")
    assert "C-2041" in message.body and "Team: Billing ops" in message.body
    assert f"Open: https://tower.example.com/transactions/{breach.transaction_id}/" in message.body
    notice = breach.notifications.get(channel=NotificationChannel.EMAIL)
    assert notice.status == NotificationStatus.SENT
    assert notice.attempts.get().ok


def test_a_failing_webhook_is_retried_with_backoff_until_it_answers(
    breach, receiver, clock, settings
):
    settings.CT_NOTIFY_BACKOFF_SECONDS = 30
    receiver.fail_next(2, status=503)

    assert notifications_deliver() == {"sent": 1, "retry": 1}  # the email went
    notice = webhook(breach)
    assert notice.next_attempt_at == at(0.5) and "HTTP 503" in notice.last_error

    clock.move_to(at(0.4))
    assert notifications_deliver() == {}  # not due yet
    clock.move_to(at(0.5))
    assert notifications_deliver() == {"retry": 1}
    webhook_notice = webhook(breach)
    assert webhook_notice.next_attempt_at == at(0.5 + 1)  # twice the wait
    clock.move_to(at(1.5))
    assert notifications_deliver() == {"sent": 1}

    notice = webhook(breach)
    assert (notice.status, notice.attempts_count, notice.last_error) == (
        NotificationStatus.SENT,
        3,
        "",
    )
    assert [(a.number, a.ok, a.status_code) for a in notice.attempts.all()] == [
        (1, False, 503),
        (2, False, 503),
        (3, True, 200),
    ]
    assert len(receiver.posts) == 3 and len(receiver.accepted()) == 1


def test_a_webhook_that_keeps_failing_is_given_up_after_the_last_attempt(
    breach, receiver, clock, settings
):
    settings.CT_NOTIFY_MAX_ATTEMPTS = 3
    settings.CT_NOTIFY_BACKOFF_SECONDS = 1
    receiver.fail_next(10)

    for minutes in (0, 1, 2, 3, 4):
        clock.move_to(at(minutes))
        notifications_deliver()

    notice = webhook(breach)
    assert (notice.status, notice.attempts_count) == (NotificationStatus.FAILED, 3)
    assert notice.next_attempt_at is None and "HTTP 500" in notice.last_error
    assert len(receiver.posts) == 3


def test_a_webhook_answering_404_is_not_retried(breach, receiver):
    receiver.fail_next(1, status=404)

    assert notifications_deliver() == {"sent": 1, "failed": 1}

    notice = webhook(breach)
    assert (notice.status, notice.attempts_count) == (NotificationStatus.FAILED, 1)
    assert notice.attempts.get().status_code == 404


def test_a_rate_limited_webhook_is_retried_after_the_time_it_asks_for(breach, receiver, settings):
    settings.CT_NOTIFY_BACKOFF_SECONDS = 5
    receiver.fail_next(1, status=429, headers={"Retry-After": "120"})

    notifications_deliver()

    notice = webhook(breach)
    assert notice.status == NotificationStatus.PENDING
    assert notice.next_attempt_at == BREACHED_AT + dt.timedelta(seconds=120)


def test_an_unreachable_webhook_is_retried(team, breach, settings):
    settings.CT_NOTIFY_TIMEOUT_SECONDS = 2
    notice = webhook(breach)
    Notification.objects.filter(pk=notice.pk).update(
        webhook_url=f"http://127.0.0.1:{closed_port()}/hook"
    )

    assert notifications_deliver() == {"sent": 1, "retry": 1}

    attempt = NotificationAttempt.objects.get(notification=notice)
    assert not attempt.ok and attempt.status_code is None
    assert "ConnectError" in attempt.error


def test_an_smtp_server_that_refuses_the_connection_is_retried(breach, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()

    assert notifications_deliver() == {"sent": 1, "retry": 1}

    notice = breach.notifications.get(channel=NotificationChannel.EMAIL)
    assert notice.status == NotificationStatus.PENDING
    assert "ConnectionRefusedError" in notice.attempts.get().error


# --- Maintenance windows -------------------------------------------------------


def test_a_maintenance_window_holds_alerts_and_releases_them_after(team, receiver, clock):
    SlaPolicyFactory(target_minutes=60, team=team)
    FlowTransactionFactory()
    MaintenanceWindowFactory(starts_at=T0, ends_at=at(30), team=None)

    clock.move_to(BREACHED_AT)
    # Data is not held: the breach is recorded during the window.
    assert sla_sweep() == {"breached": 1, "notifications": 2}
    assert notifications_deliver() == {"held": 2}
    assert receiver.posts == [] and mail.outbox == []
    held = Notification.objects.filter(status=NotificationStatus.HELD)
    assert {n.next_attempt_at for n in held} == {at(30)}

    clock.move_to(at(29))
    assert notifications_deliver() == {}
    clock.move_to(at(30))
    assert notifications_deliver() == {"released": 2, "sent": 2}
    clock.move_to(at(60))
    assert notifications_deliver() == {}

    assert [p.body["kind"] for p in receiver.accepted("/billing")] == ["breach"]
    assert len(mail.outbox) == 1
    assert not NotificationAttempt.objects.filter(ok=False).exists()


def test_a_teams_window_holds_only_that_teams_alerts(team, receiver, clock):
    other = TeamFactory(chat_webhook_url=receiver.url("/other"), email="")
    SlaPolicyFactory(target_minutes=60, team=team)
    SlaPolicyFactory(target_minutes=60, team=other, event_type="contract.signed")
    FlowTransactionFactory()
    MaintenanceWindowFactory(starts_at=T0, ends_at=at(30), team=team)

    clock.move_to(BREACHED_AT)
    sla_sweep()
    assert notifications_deliver() == {"held": 2, "sent": 1}

    assert receiver.accepted("/billing") == [] and len(receiver.accepted("/other")) == 1


def test_a_window_that_is_extended_keeps_holding(team, receiver, clock):
    SlaPolicyFactory(target_minutes=60, team=team)
    FlowTransactionFactory()
    window = MaintenanceWindowFactory(starts_at=T0, ends_at=at(30))
    clock.move_to(BREACHED_AT)
    sla_sweep()
    notifications_deliver()

    window.ends_at = at(90)
    window.save()
    clock.move_to(at(45))
    assert notifications_deliver() == {}
    clock.move_to(at(91))
    assert notifications_deliver() == {"released": 2, "sent": 2}


# --- Concurrency ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_send_a_notification_twice(receiver):
    team = TeamFactory(chat_webhook_url=receiver.url("/billing"), email="", escalation_email="")
    SlaPolicyFactory(target_minutes=60, team=team)
    receiver.delay_seconds = 0.05  # both workers are in flight at once
    with time_machine.travel(T0, tick=False) as clock:
        FlowTransactionFactory.create_batch(5)
        clock.move_to(BREACHED_AT)
        sla_sweep()
        start = threading.Barrier(2)
        results: list[dict] = []

        def deliver() -> None:
            try:
                start.wait()
                results.append(notifications_deliver())
            finally:
                connection.close()

        workers = [threading.Thread(target=deliver) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    assert sum(result.get("sent", 0) for result in results) == 5
    assert len(receiver.posts) == 5
    assert sorted(p.body["item"]["id"] for p in receiver.posts) == sorted(
        Notification.objects.values_list("breach__transaction_id", flat=True)
    )
    assert NotificationAttempt.objects.count() == 5
    assert set(Notification.objects.values_list("kind", flat=True)) == {NotificationKind.BREACH}


def test_a_chat_notice_names_its_webhook_masked_and_keeps_the_url_encrypted(
    breach, receiver, user_with_role, api_client_for
):
    assert notifications_deliver() == {"sent": 2}

    notice = webhook(breach)
    url = receiver.url("/billing")
    assert notice.recipient == f"http://127.0.0.1/…{url[-4:]}"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT webhook_url FROM controltower_notification WHERE id = %s", [notice.pk]
        )
        assert cursor.fetchone()[0].startswith("fernet:")
    viewer = user_with_role("viewer", "vic")
    client = api_client_for(viewer)
    client.force_login(viewer)
    shown = [
        client.get("/api/v1/notifications/").content.decode(),
        client.get("/slas/notifications/").content.decode(),
        b"".join(client.get("/slas/notifications/?export=csv").streaming_content).decode(),
    ]
    for text in shown:
        assert url not in text
