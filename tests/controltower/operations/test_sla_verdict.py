"""One verdict per exception: the most specific policy, fixed when it is raised."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction

from canonical.errors import ApplicationError
from controltower.operations.choices import SlaState
from controltower.operations.models import AuditEvent, BusinessException, SlaBreach
from controltower.operations.selectors.exceptions import exception_sla_states
from controltower.operations.services.sla import exceptions_sla_rejudge, sla_sweep
from integrations.choices import ErrorClass, ExceptionType, FlowKind, Severity
from integrations.errors import IntegrationError
from integrations.services.exceptions import exception_raise
from tests.factories.operations import FlowTransactionFactory, SlaPolicyFactory, TeamFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def raise_missing_rate_card(key: str = "TE-1") -> BusinessException:
    tx = FlowTransactionFactory(
        kind=FlowKind.TIME_TO_BILLING, event_type="time_entry.approved", business_key=key
    )
    failure = IntegrationError(
        f"No Analyst rate for {key}.",
        transient=False,
        error_class=ErrorClass.DATA,
        code=ExceptionType.MISSING_RATE_CARD,
    )
    with transaction.atomic():
        return exception_raise(tx=tx, failure=failure).businessexception


@pytest.fixture
def policies(db):
    TeamFactory(is_default=True)
    return {
        "default": SlaPolicyFactory(
            for_exceptions=True,
            name="Any exception in 3 days",
            exception_type="",
            target_minutes=3 * 24 * 60,
        ),
        "high": SlaPolicyFactory(
            for_exceptions=True,
            name="High severity in 2 h",
            exception_type="",
            severity=Severity.HIGH,
            target_minutes=120,
        ),
        "flow": SlaPolicyFactory(
            for_exceptions=True,
            name="Billing in 1 day",
            exception_type="",
            flow=FlowKind.TIME_TO_BILLING,
            target_minutes=24 * 60,
        ),
        "code": SlaPolicyFactory(
            for_exceptions=True,
            name="Rate cards in 11 h",
            exception_type=ExceptionType.MISSING_RATE_CARD,
            target_minutes=11 * 60,
        ),
    }


def test_the_most_specific_policy_judges_an_exception_and_no_other(policies):
    with time_machine.travel(T0, tick=False) as clock:
        exc = raise_missing_rate_card()
        # The code's policy (11 h), not the severity's shorter 2 h, nor the flow's, nor the default.
        assert exc.sla_policy == policies["code"]
        assert exc.sla_due_at == T0 + dt.timedelta(hours=11)

        clock.move_to(T0 + dt.timedelta(hours=3))
        assert sla_sweep() == {}  # the 2 h policy does not judge it: nothing breached
        clock.move_to(T0 + dt.timedelta(hours=10))
        assert sla_sweep() == {"at_risk": 1, "notifications": 1}
        clock.move_to(T0 + dt.timedelta(hours=11, minutes=1))
        assert sla_sweep() == {"breached": 1, "notifications": 1}

    assert list(SlaBreach.objects.values_list("policy__name", "state")) == [
        ("Rate cards in 11 h", SlaState.BREACHED)
    ]


def test_without_a_policy_for_its_code_the_flow_then_the_severity_then_the_default_judge(
    policies,
):
    with time_machine.travel(T0, tick=False):
        policies["code"].delete()
        assert raise_missing_rate_card("TE-2").sla_policy == policies["flow"]
        policies["flow"].delete()
        assert raise_missing_rate_card("TE-3").sla_policy == policies["high"]
        policies["high"].delete()
        assert raise_missing_rate_card("TE-4").sla_policy == policies["default"]


def test_a_policy_added_later_judges_new_exceptions_not_open_ones_until_an_admin_says(
    policies, user_with_role
):
    admin = user_with_role("admin")
    with time_machine.travel(T0, tick=False) as clock:
        old = raise_missing_rate_card("TE-OLD")
        clock.move_to(T0 + dt.timedelta(hours=1))
        quick = SlaPolicyFactory(
            for_exceptions=True,
            name="Rate cards of billing, high, in 30 min",
            flow=FlowKind.TIME_TO_BILLING,
            severity=Severity.HIGH,
            target_minutes=30,
            created_at=T0 + dt.timedelta(hours=1),
        )
        new = raise_missing_rate_card("TE-NEW")
        assert new.sla_policy == quick
        old.refresh_from_db()
        assert old.sla_policy == policies["code"]

        clock.move_to(T0 + dt.timedelta(hours=2))
        assert sla_sweep() == {"breached": 1, "notifications": 1}  # the new one only
        assert SlaBreach.objects.get().exception_id == new.pk

        with pytest.raises(ApplicationError):
            exceptions_sla_rejudge(actor=admin, reason=" ")
        assert exceptions_sla_rejudge(actor=admin, reason="Faster rate-card fixes from today") == 1

    old.refresh_from_db()
    assert old.sla_policy == quick and old.sla_due_at == T0 + dt.timedelta(minutes=30)
    event = AuditEvent.objects.get(action="exception.sla_rejudge")
    assert event.before["sla_policy"] == policies["code"].pk
    assert event.after == {"sla_policy": quick.pk, "sla_due_at": old.sla_due_at.isoformat()}
    assert event.reason == "Faster rate-card fixes from today"


def test_the_verdict_shown_is_the_judging_policys_alone(policies):
    with time_machine.travel(T0, tick=False) as clock:
        exc = raise_missing_rate_card()
        # A breach recorded under another policy (before a re-judging, say) is history.
        SlaBreach.objects.create(
            policy=policies["high"],
            exception=exc,
            state=SlaState.BREACHED,
            started_at=T0,
            due_at=T0 + dt.timedelta(hours=2),
            breached_at=T0 + dt.timedelta(hours=2),
        )
        clock.move_to(T0 + dt.timedelta(hours=3))
        assert exception_sla_states([exc]) == {}
        clock.move_to(T0 + dt.timedelta(hours=10))
        sla_sweep()
        assert exception_sla_states([exc]) == {exc.pk: SlaState.AT_RISK}
