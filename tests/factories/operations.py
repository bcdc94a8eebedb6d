"""Factories of the operations layer: teams, calendars, SLA policies, windows and the items SLAs watch.

FlowTransactionFactory makes a transaction of an existing flow (open by default, for
SLA clocks; pass ``kind``, ``state`` and ``exception`` for a blocked one).
"""

from __future__ import annotations

import datetime as dt
import uuid

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from controltower.operations.choices import (
    BulkAction,
    NotificationChannel,
    NotificationKind,
    SlaKind,
    SlaState,
)
from controltower.operations.models import (
    BulkOperation,
    BusinessCalendar,
    BusinessException,
    ExceptionComment,
    Holiday,
    MaintenanceWindow,
    Notification,
    NotificationAttempt,
    OwnershipRule,
    PeriodClose,
    SlaBreach,
    SlaPolicy,
    Team,
)
from integrations.choices import ExceptionType, FlowKind, Severity, TransactionState
from integrations.flows.catalog import flows_ensure
from integrations.models import Flow, Transaction

__all__ = [
    "BulkOperationFactory",
    "BusinessCalendarFactory",
    "BusinessExceptionFactory",
    "ExceptionCommentFactory",
    "FlowTransactionFactory",
    "HolidayFactory",
    "MaintenanceWindowFactory",
    "NotificationAttemptFactory",
    "NotificationFactory",
    "OwnershipRuleFactory",
    "PeriodCloseFactory",
    "SlaBreachFactory",
    "SlaPolicyFactory",
    "TeamFactory",
]


class BusinessCalendarFactory(DjangoModelFactory):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Office hours {n}")
    time_zone = "Europe/Berlin"
    working_days = factory.LazyFunction(lambda: [0, 1, 2, 3, 4])
    day_start = dt.time(9)
    day_end = dt.time(17)


class HolidayFactory(DjangoModelFactory):
    class Meta:
        model = Holiday

    calendar = factory.SubFactory(BusinessCalendarFactory)
    date = factory.Sequence(lambda n: dt.date(2025, 12, 25) + dt.timedelta(days=n))
    name = "Holiday"


class TeamFactory(DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    email = factory.LazyAttribute(lambda team: f"{team.name.lower().replace(' ', '-')}@example.com")
    chat_webhook_url = ""
    escalation_email = factory.LazyAttribute(
        lambda team: f"lead-{team.name.lower().replace(' ', '-')}@example.com"
    )
    escalation_webhook_url = ""
    calendar = None


class SlaPolicyFactory(DjangoModelFactory):
    """A flow policy by default: contract signed to project created within four hours."""

    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"SLA {n}")
    kind = SlaKind.FLOW
    flow = FlowKind.CONTRACT_TO_PROJECT
    target_minutes = 240
    escalate_after_minutes = 60
    # In place before any exception a test raises, whatever time the test travels to; a
    # test of a policy added later says when it was.
    created_at = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    class Params:
        for_exceptions = factory.Trait(
            kind=SlaKind.EXCEPTION,
            flow="",
            exception_type=ExceptionType.MISSING_RATE_CARD,
        )


class MaintenanceWindowFactory(DjangoModelFactory):
    class Meta:
        model = MaintenanceWindow

    name = factory.Sequence(lambda n: f"ERP upgrade {n}")
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda window: window.starts_at + dt.timedelta(hours=2))
    team = None


class PeriodCloseFactory(DjangoModelFactory):
    class Meta:
        model = PeriodClose

    closes_on = factory.Sequence(lambda n: timezone.localdate() + dt.timedelta(days=2 + 31 * n))
    name = "Month end"
    lead_days = 3


class BusinessExceptionFactory(DjangoModelFactory):
    class Meta:
        model = BusinessException

    exception_type = ExceptionType.MISSING_RATE_CARD
    severity = Severity.HIGH
    flow = FlowKind.TIME_TO_BILLING
    message = "No rate for the role on the project's rate card."
    fingerprint = factory.Sequence(lambda n: f"missing_rate_card|time_to_billing|RC-{n}")
    business_key = factory.Sequence(lambda n: f"P-{1000 + n}")


def _flow(kind: str) -> Flow:
    """The flow row; a database flushed by a transactional test gets the flows back."""
    flow = Flow.objects.filter(kind=kind).first()
    if flow is None:
        flows_ensure(Flow)
        flow = Flow.objects.get(kind=kind)
    return flow


class FlowTransactionFactory(DjangoModelFactory):
    """A transaction of one of the flows the migrations create, still open (received)."""

    class Meta:
        model = Transaction

    class Params:
        kind = FlowKind.CONTRACT_TO_PROJECT

    flow = factory.LazyAttribute(lambda tx: _flow(tx.kind))
    event_type = "contract.signed"
    business_key = factory.Sequence(lambda n: f"K-{2000 + n}")
    correlation_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    state = TransactionState.RECEIVED
    received_at = factory.LazyFunction(timezone.now)


class OwnershipRuleFactory(DjangoModelFactory):
    class Meta:
        model = OwnershipRule

    team = factory.SubFactory(TeamFactory)
    exception_type = ExceptionType.MISSING_RATE_CARD


class ExceptionCommentFactory(DjangoModelFactory):
    class Meta:
        model = ExceptionComment

    exception = factory.SubFactory(BusinessExceptionFactory)
    body = "Asked finance for the rate."


class SlaBreachFactory(DjangoModelFactory):
    """A breached exception SLA."""

    class Meta:
        model = SlaBreach

    policy = factory.SubFactory(SlaPolicyFactory, for_exceptions=True)
    exception = factory.SubFactory(BusinessExceptionFactory)
    state = SlaState.BREACHED
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=5))
    due_at = factory.LazyAttribute(lambda o: o.started_at + dt.timedelta(hours=4))
    breached_at = factory.LazyAttribute(lambda o: o.due_at)


class NotificationFactory(DjangoModelFactory):
    class Meta:
        model = Notification

    breach = factory.SubFactory(SlaBreachFactory)
    team = factory.SubFactory(TeamFactory)
    kind = NotificationKind.BREACH
    channel = NotificationChannel.EMAIL
    recipient = factory.LazyAttribute(lambda o: o.team.email)
    subject = "SLA breached"


class NotificationAttemptFactory(DjangoModelFactory):
    class Meta:
        model = NotificationAttempt

    notification = factory.SubFactory(NotificationFactory)
    number = factory.Sequence(lambda n: n + 1)
    ok = True


class BulkOperationFactory(DjangoModelFactory):
    class Meta:
        model = BulkOperation

    action = BulkAction.DISMISS
    selection = factory.LazyFunction(lambda: {"ids": []})
    params = factory.LazyFunction(lambda: {"reason": "Duplicates"})
