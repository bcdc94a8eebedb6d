"""The SLA sweep: at risk, breached, escalated, met; business hours, snooze, period close."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from controltower.operations.choices import NotificationKind, NotificationStatus, SlaState
from controltower.operations.models import AuditEvent, Notification, OwnershipRule, SlaBreach
from controltower.operations.services.notifications import notifications_deliver
from controltower.operations.services.sla import sla_sweep
from integrations.choices import FlowKind, TransactionState
from tests.factories.operations import (
    BusinessCalendarFactory,
    BusinessExceptionFactory,
    FlowTransactionFactory,
    HolidayFactory,
    PeriodCloseFactory,
    SlaPolicyFactory,
    TeamFactory,
)
from tests.support.receiver import running_receiver

UTC = dt.UTC
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
T0 = dt.datetime(2025, 6, 2, 8, 0, tzinfo=UTC)  # a Monday morning


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def receiver():
    yield from running_receiver()


@pytest.fixture
def team(db, receiver):
    return TeamFactory(
        name="Delivery ops",
        email="delivery-ops@example.com",
        chat_webhook_url=receiver.url("/team"),
        escalation_email="head-of-delivery@example.com",
        escalation_webhook_url=receiver.url("/lead"),
    )


@pytest.fixture
def policy(team):
    """Contract signed → project in the ERP within four hours; escalate an hour after."""
    return SlaPolicyFactory(
        name="Contract to project in 4 h",
        flow=FlowKind.CONTRACT_TO_PROJECT,
        event_type="contract.signed",
        target_minutes=240,
        escalate_after_minutes=60,
        team=team,
    )


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def kinds(posts) -> list[str]:
    return [post.body["kind"] for post in posts]


def test_an_open_item_goes_at_risk_then_breached_then_escalated(policy, team, receiver, clock):
    tx = FlowTransactionFactory()

    clock.move_to(at(120))
    assert sla_sweep() == {}
    assert not SlaBreach.objects.exists()

    clock.move_to(at(181))  # three quarters of four hours gone
    assert sla_sweep() == {"at_risk": 1, "notifications": 2}
    breach = SlaBreach.objects.get()
    assert (breach.transaction, breach.state, breach.team) == (tx, SlaState.AT_RISK, team)
    assert breach.started_at == T0 and breach.due_at == at(240) and breach.at_risk_at == at(181)
    notifications_deliver()
    assert kinds(receiver.accepted("/team")) == ["at_risk"]

    clock.move_to(at(241))
    assert sla_sweep() == {"breached": 1, "notifications": 2}
    breach.refresh_from_db()
    assert (breach.state, breach.breached_at, breach.escalated_at) == (
        SlaState.BREACHED,
        at(241),
        None,
    )
    audit = AuditEvent.objects.get(action="sla.breach")
    assert audit.actor is None and audit.after["transaction"] == tx.pk
    notifications_deliver()

    clock.move_to(at(300))  # only 59 minutes after the breach
    assert sla_sweep() == {}

    clock.move_to(at(302))
    assert sla_sweep() == {"escalated": 1, "notifications": 2}
    breach.refresh_from_db()
    assert breach.escalated_at == at(302)
    assert AuditEvent.objects.filter(action="sla.escalate", object_id=str(breach.pk)).exists()
    notifications_deliver()

    assert kinds(receiver.accepted("/team")) == ["at_risk", "breach"]
    assert kinds(receiver.accepted("/lead")) == ["escalation"]
    assert [(m.to, m.subject.split("]")[0]) for m in mail.outbox] == [
        (["delivery-ops@example.com"], "[SLA at risk"),
        (["delivery-ops@example.com"], "[SLA breached"),
        (["head-of-delivery@example.com"], "[SLA breach escalated"),
    ]


def test_sla_breaches_reach_the_owning_teams_webhook_once(policy, receiver, clock):
    late = [FlowTransactionFactory() for _ in range(3)]

    for minutes in (190, 245, 250, 260, 400, 401, 600):
        clock.move_to(at(minutes))
        sla_sweep()
        notifications_deliver()
        sla_sweep()
        notifications_deliver()

    breach_posts = [p for p in receiver.accepted("/team") if p.body["kind"] == "breach"]
    assert sorted(p.body["item"]["id"] for p in breach_posts) == sorted(tx.pk for tx in late)
    assert SlaBreach.objects.count() == 3
    assert AuditEvent.objects.filter(action="sla.breach").count() == 3
    assert len(receiver.accepted("/lead")) == 3


def test_a_breach_first_seen_late_is_recorded_as_breached_without_an_at_risk_notice(
    policy, receiver, clock
):
    FlowTransactionFactory()

    clock.move_to(at(500))
    assert sla_sweep() == {"breached": 1, "notifications": 2}

    breach = SlaBreach.objects.get()
    assert breach.state == SlaState.BREACHED and breach.at_risk_at is None
    assert set(Notification.objects.values_list("kind", flat=True)) == {NotificationKind.BREACH}


def test_an_at_risk_notice_not_yet_sent_is_dropped_once_the_item_breaches(policy, clock):
    FlowTransactionFactory()
    clock.move_to(at(200))
    sla_sweep()
    clock.move_to(at(250))
    sla_sweep()

    assert set(Notification.objects.values_list("kind", flat=True)) == {NotificationKind.BREACH}


def test_an_item_finished_in_time_meets_its_sla(policy, clock):
    tx = FlowTransactionFactory()
    clock.move_to(at(200))
    sla_sweep()

    tx.state, tx.finished_at = TransactionState.SUCCEEDED, at(210)
    tx.save()
    clock.move_to(at(215))
    assert sla_sweep() == {"met": 1}
    clock.move_to(at(900))
    assert sla_sweep() == {}

    breach = SlaBreach.objects.get()
    assert (breach.state, breach.met_at, breach.breached_at) == (SlaState.MET, at(210), None)
    assert not Notification.objects.filter(kind=NotificationKind.BREACH).exists()
    assert not Notification.objects.filter(status=NotificationStatus.PENDING).exists()


def test_an_item_finished_late_between_sweeps_is_recorded_as_a_breach(policy, clock):
    tx = FlowTransactionFactory()
    clock.move_to(at(200))
    sla_sweep()

    tx.state, tx.finished_at = TransactionState.SUCCEEDED, at(250)
    tx.save()
    clock.move_to(at(260))
    assert sla_sweep() == {"met": 1}

    breach = SlaBreach.objects.get()
    assert (breach.state, breach.breached_at, breach.met_at) == (
        SlaState.BREACHED,
        at(240),
        at(250),
    )
    assert AuditEvent.objects.filter(action="sla.breach").count() == 1
    # Nobody to chase: the work is done.
    assert not Notification.objects.filter(kind=NotificationKind.BREACH).exists()


def test_a_breached_item_that_finishes_is_not_escalated(policy, clock):
    tx = FlowTransactionFactory()
    clock.move_to(at(250))
    sla_sweep()
    tx.state, tx.finished_at = TransactionState.SUCCEEDED, at(260)
    tx.save()

    clock.move_to(at(400))
    assert sla_sweep() == {"met": 1}

    breach = SlaBreach.objects.get()
    assert (breach.state, breach.met_at, breach.escalated_at) == (SlaState.BREACHED, at(260), None)


def test_other_event_types_and_other_flows_are_not_counted(policy, clock):
    FlowTransactionFactory(event_type="contract.amended")
    FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time.approved")

    clock.move_to(at(1000))
    assert sla_sweep() == {}


def test_a_business_hours_sla_stops_its_clock_over_the_weekend_and_a_holiday(db, receiver):
    calendar = BusinessCalendarFactory(time_zone="Europe/Berlin")
    HolidayFactory(calendar=calendar, date=dt.date(2025, 4, 21), name="Easter Monday")
    team = TeamFactory(calendar=calendar, chat_webhook_url=receiver.url("/team"))
    SlaPolicyFactory(target_minutes=240, business_hours=True, team=team)
    friday_four_pm = dt.datetime(2025, 4, 18, 16, 0, tzinfo=BERLIN)

    with time_machine.travel(friday_four_pm, tick=False) as clock:
        FlowTransactionFactory()
        for moment in [
            dt.datetime(2025, 4, 19, 12, 0, tzinfo=BERLIN),  # Saturday: 1 h of 4 gone
            dt.datetime(2025, 4, 21, 12, 0, tzinfo=BERLIN),  # Easter Monday: still 1 h
            dt.datetime(2025, 4, 22, 10, 59, tzinfo=BERLIN),  # Tuesday: 2 h 59 min
        ]:
            clock.move_to(moment)
            assert sla_sweep() == {}, moment

        clock.move_to(dt.datetime(2025, 4, 22, 11, 1, tzinfo=BERLIN))
        assert sla_sweep()["at_risk"] == 1
        breach = SlaBreach.objects.get()
        assert breach.due_at == dt.datetime(2025, 4, 22, 12, 0, tzinfo=BERLIN)

        clock.move_to(dt.datetime(2025, 4, 22, 12, 1, tzinfo=BERLIN))
        assert sla_sweep()["breached"] == 1

        # Escalation an hour of business time after the breach: 13:01.
        clock.move_to(dt.datetime(2025, 4, 22, 13, 0, tzinfo=BERLIN))
        assert "escalated" not in sla_sweep()
        clock.move_to(dt.datetime(2025, 4, 22, 13, 2, tzinfo=BERLIN))
        assert sla_sweep()["escalated"] == 1
        notifications_deliver()

    [breach_post] = [p for p in receiver.accepted("/team") if p.body["kind"] == "breach"]
    assert "Tue 22 Apr 12:00 CEST" in breach_post.body["text"]


def test_a_flow_policy_without_a_team_is_owned_by_the_ownership_rules(db, receiver, clock):
    owner = TeamFactory(chat_webhook_url=receiver.url("/finance"))
    OwnershipRule.objects.create(team=owner, flow=FlowKind.TIME_TO_BILLING)
    SlaPolicyFactory(flow=FlowKind.TIME_TO_BILLING, target_minutes=24 * 60, team=None)
    FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time.approved")

    clock.move_to(at(24 * 60 + 1))
    sla_sweep()
    notifications_deliver()

    assert SlaBreach.objects.get().team == owner
    assert kinds(receiver.accepted("/finance")) == ["breach"]


def test_billing_breaches_escalate_at_once_ahead_of_the_period_close(team, clock):
    SlaPolicyFactory(flow=FlowKind.TIME_TO_BILLING, target_minutes=60, team=team)
    SlaPolicyFactory(flow=FlowKind.CONTRACT_TO_PROJECT, target_minutes=60, team=team)
    billing = FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time.approved")
    FlowTransactionFactory(kind=FlowKind.CONTRACT_TO_PROJECT)
    PeriodCloseFactory(closes_on=dt.date(2025, 6, 4), lead_days=3)

    clock.move_to(at(61))
    assert sla_sweep() == {"breached": 2, "escalated": 1, "notifications": 6}

    escalated = SlaBreach.objects.get(escalated_at__isnull=False)
    assert escalated.transaction == billing and escalated.escalated_at == escalated.breached_at
    reason = AuditEvent.objects.get(action="sla.escalate").reason
    assert "period close" in reason


def test_billing_breaches_wait_for_the_usual_escalation_outside_the_close_lead(team, clock):
    SlaPolicyFactory(flow=FlowKind.TIME_TO_BILLING, target_minutes=60, team=team)
    FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time.approved")
    PeriodCloseFactory(closes_on=dt.date(2025, 6, 30), lead_days=3)

    clock.move_to(at(61))
    assert sla_sweep() == {"breached": 1, "notifications": 2}


def test_an_open_breach_escalates_when_the_close_lead_begins(team, clock):
    SlaPolicyFactory(
        flow=FlowKind.TIME_TO_BILLING, target_minutes=60, escalate_after_minutes=10_000, team=team
    )
    FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time.approved")
    PeriodCloseFactory(closes_on=dt.date(2025, 6, 8), lead_days=3)

    clock.move_to(at(61))
    assert "escalated" not in sla_sweep()
    clock.move_to(dt.datetime(2025, 6, 5, 9, 0, tzinfo=UTC))
    assert sla_sweep() == {"escalated": 1, "notifications": 2}


# --- Exception policies --------------------------------------------------------


@pytest.fixture
def exception_policy(db):
    return SlaPolicyFactory(
        for_exceptions=True,
        name="Missing rate cards resolved in a business day",
        target_minutes=8 * 60,
        business_hours=True,
        escalate_after_minutes=120,
    )


def test_an_exception_runs_on_its_owning_teams_calendar(exception_policy, receiver):
    calendar = BusinessCalendarFactory(time_zone="Europe/Berlin")
    team = TeamFactory(
        calendar=calendar, email="", escalation_email="", chat_webhook_url=receiver.url("/rates")
    )
    thursday_three_pm = dt.datetime(2025, 6, 5, 15, 0, tzinfo=BERLIN)

    with time_machine.travel(thursday_three_pm, tick=False) as clock:
        exc = BusinessExceptionFactory(team=team)
        assert sla_sweep() == {"due_set": 1}
        exc.refresh_from_db()
        # Two hours on Thursday, six on Friday.
        assert exc.sla_due_at == dt.datetime(2025, 6, 6, 15, 0, tzinfo=BERLIN)

        clock.move_to(dt.datetime(2025, 6, 6, 13, 1, tzinfo=BERLIN))
        assert sla_sweep() == {"at_risk": 1, "notifications": 1}
        notifications_deliver()
        clock.move_to(dt.datetime(2025, 6, 6, 15, 1, tzinfo=BERLIN))
        assert sla_sweep() == {"breached": 1, "notifications": 1}
        # Two business hours after the breach: 119 minutes on Friday, one on Monday.
        clock.move_to(dt.datetime(2025, 6, 9, 9, 0, tzinfo=BERLIN))
        assert "escalated" not in sla_sweep()
        clock.move_to(dt.datetime(2025, 6, 9, 9, 2, tzinfo=BERLIN))
        assert sla_sweep() == {"escalated": 1}  # no escalation contact: recorded, not sent
        notifications_deliver()

    assert kinds(receiver.accepted("/rates")) == ["at_risk", "breach"]
    post = receiver.accepted("/rates")[1].body
    assert post["item"]["type"] == "exception" and post["item"]["id"] == exc.pk
    assert post["link"] == f"/exceptions/{exc.pk}/" and post["url"].endswith(post["link"])


def test_an_exception_a_flow_raises_is_due_at_once_on_its_teams_calendar(exception_policy):
    """The queue shows when it is due from the moment it is raised, not a sweep later."""
    from django.db import transaction

    from integrations.choices import ErrorClass
    from integrations.errors import IntegrationError
    from integrations.services.exceptions import exception_raise

    team = TeamFactory(calendar=BusinessCalendarFactory(time_zone="Europe/Berlin"))
    OwnershipRule.objects.create(team=team, exception_type="missing_rate_card")
    tx = FlowTransactionFactory(kind=FlowKind.TIME_TO_BILLING, event_type="time_entry.approved")
    failure = IntegrationError(
        "No Analyst rate for project P-1.",
        transient=False,
        error_class=ErrorClass.DATA,
        code="missing_rate_card",
    )
    with time_machine.travel(dt.datetime(2025, 6, 5, 15, 0, tzinfo=BERLIN), tick=False):
        with transaction.atomic():
            exc = exception_raise(tx=tx, failure=failure).businessexception
        exc.refresh_from_db()
        assert exc.team == team
        # Eight business hours: two on Thursday, six on Friday.
        assert exc.sla_due_at == dt.datetime(2025, 6, 6, 15, 0, tzinfo=BERLIN)
        assert "due_set" not in sla_sweep()


def test_a_resolved_exception_meets_its_sla(exception_policy, team, clock):
    exc = BusinessExceptionFactory(team=team)
    clock.move_to(at(7 * 60))
    sla_sweep()

    exc.status, exc.resolved_at = "resolved", at(7 * 60 + 5)
    exc.save()
    clock.move_to(at(7 * 60 + 10))
    assert sla_sweep() == {"met": 1}
    assert SlaBreach.objects.get().state == SlaState.MET


def test_exception_policies_match_on_type_and_severity(team, clock):
    SlaPolicyFactory(
        for_exceptions=True, exception_type="", severity="critical", target_minutes=30, team=None
    )
    critical = BusinessExceptionFactory(team=team, severity="critical")
    BusinessExceptionFactory(team=team, severity="low")

    clock.move_to(at(31))
    sla_sweep()

    assert list(SlaBreach.objects.values_list("exception", flat=True)) == [critical.pk]


def test_snoozing_an_exception_holds_its_alerts_not_its_clock(exception_policy, team, receiver):
    exception_policy.business_hours = False
    exception_policy.save()

    with time_machine.travel(T0, tick=False) as clock:
        exc = BusinessExceptionFactory(team=team, snoozed_until=at(12 * 60))
        clock.move_to(at(8 * 60 + 1))
        sla_sweep()
        notifications_deliver()

        breach = SlaBreach.objects.get()
        assert breach.state == SlaState.BREACHED  # the clock ran
        assert receiver.accepted() == [] and mail.outbox == []

        clock.move_to(at(12 * 60 + 1))
        notifications_deliver()

    assert kinds(receiver.accepted("/team")) == ["breach"]
    assert receiver.accepted("/team")[0].body["item"]["id"] == exc.pk
    assert len(mail.outbox) == 1


def test_billing_exceptions_escalate_at_once_ahead_of_the_period_close(
    exception_policy, team, clock
):
    exception_policy.business_hours = False
    exception_policy.save()
    PeriodCloseFactory(closes_on=dt.date(2025, 6, 3), lead_days=2)
    BusinessExceptionFactory(team=team, flow=FlowKind.TIME_TO_BILLING)
    BusinessExceptionFactory(team=team, flow=FlowKind.CONTRACT_TO_PROJECT)

    clock.move_to(at(8 * 60 + 1))
    counts = sla_sweep()

    assert (counts["breached"], counts["escalated"]) == (2, 1)
    assert SlaBreach.objects.get(escalated_at__isnull=False).exception.flow == "time_to_billing"


# --- Scale and races -----------------------------------------------------------


def test_a_sweep_takes_at_most_its_batch_and_the_next_takes_the_rest(policy, clock, settings):
    settings.CT_SLA_SWEEP_BATCH = 2
    FlowTransactionFactory.create_batch(5)
    clock.move_to(at(300))

    assert [sla_sweep()["breached"] for _ in range(3)] == [2, 2, 1]
    assert sla_sweep() == {}


def test_finished_history_costs_the_sweep_nothing(policy, clock):
    FlowTransactionFactory.create_batch(2)
    clock.move_to(at(300))
    sla_sweep()
    with CaptureQueriesContext(connection) as quiet:
        assert sla_sweep() == {}

    FlowTransactionFactory.create_batch(
        120, state=TransactionState.SUCCEEDED, received_at=at(-10_000), finished_at=at(-9_000)
    )
    with CaptureQueriesContext(connection) as with_history:
        assert sla_sweep() == {}

    assert len(with_history) == len(quiet)
    assert SlaBreach.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_record_each_breach_once(receiver):
    team = TeamFactory(chat_webhook_url=receiver.url("/team"))
    SlaPolicyFactory(target_minutes=60, team=team)
    with time_machine.travel(T0, tick=False) as clock:
        FlowTransactionFactory.create_batch(20)
        clock.move_to(at(61))
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def sweep() -> None:
            try:
                start.wait()
                sla_sweep()
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        notifications_deliver()

    assert errors == []
    assert SlaBreach.objects.count() == 20
    assert Notification.objects.filter(kind=NotificationKind.BREACH).count() == 40
    assert len([p for p in receiver.accepted("/team") if p.body["kind"] == "breach"]) == 20


def test_the_beat_tasks_take_a_breach_to_the_webhook_on_a_real_worker(celery_worker, receiver):
    from django.utils import timezone

    from controltower.operations.tasks import notifications_deliver_task, sla_sweep_task
    from tests.support.worker import wait_for

    team = TeamFactory(chat_webhook_url=receiver.url("/team"), email="", escalation_email="")
    SlaPolicyFactory(target_minutes=60, team=team)
    tx = FlowTransactionFactory(received_at=timezone.now() - dt.timedelta(hours=2))

    sla_sweep_task.delay()
    wait_for(
        lambda: Notification.objects.filter(breach__transaction=tx).exists(),
        timeout=60,
        what="the sweep on the worker",
        on_timeout=celery_worker.tail,
    )
    notifications_deliver_task.delay()
    wait_for(
        lambda: receiver.accepted("/team"),
        timeout=60,
        what="the webhook post",
        on_timeout=celery_worker.tail,
    )

    [post] = receiver.accepted("/team")
    assert post.body["kind"] == "breach" and post.body["item"]["id"] == tx.pk
    wait_for(
        lambda: Notification.objects.get().status == NotificationStatus.SENT,
        timeout=30,
        what="the notification to be marked sent",
    )
