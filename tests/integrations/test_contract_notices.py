"""Renewal and obligation notices: a contract nearing its end date or its cap raises a notice
to its owning team, once per contract and threshold, with the value that remains."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from canonical.models import Contract
from controltower.operations.choices import NotificationKind
from controltower.operations.models import BusinessException, Notification
from controltower.operations.services.notifications import notifications_deliver
from integrations.choices import ExceptionStatus, ExceptionType, Severity, TransactionState
from integrations.services.contract_notices import contract_notices_queue
from integrations.services.processing import transactions_process
from integrations.tasks import contract_notices_task
from tests.factories.canonical import (
    ContractFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    ProjectFactory,
)
from tests.factories.operations import OwnershipRuleFactory, TeamFactory
from tests.support.pages import signed_in


def notices_run(day: date | None = None) -> None:
    run = contract_notices_queue(day=day)
    transactions_process(ids=[run.pk])
    run.refresh_from_db()
    assert run.state == TransactionState.SUCCEEDED, run.last_error


def notices() -> list[BusinessException]:
    return list(
        BusinessException.objects.filter(
            exception_type=ExceptionType.CONTRACT_NEARING_END
        ).order_by("pk")
    )


def billed(contract: Contract, amount: str) -> None:
    project = ProjectFactory(contract=contract)
    InvoiceLineFactory(
        invoice=InvoiceFactory(project=project, amount=Decimal(amount)),
        quantity=Decimal("1"),
        rate=Decimal(amount),
    )


@pytest.fixture
def ending_soon(db) -> Contract:
    """K-8001 ends in 30 days (inside the 60-day notice period), with 50,000.00 of its cap left."""
    return ContractFactory(
        number="K-8001",
        start_date=timezone.localdate() - timedelta(days=300),
        end_date=timezone.localdate() + timedelta(days=30),
        cap_amount=Decimal("50000.00"),
    )


def test_the_thresholds_are_settings_and_the_look_runs_daily_on_beat():
    assert (settings.CT_RENEWAL_NOTICE_DAYS, settings.CT_RENEWAL_CAP_PERCENT) == (60, 80)
    entry = settings.CELERY_BEAT_SCHEDULE["contract-notices-daily"]
    assert entry["task"] == "integrations.tasks.contract_notices_task"


@pytest.mark.django_db
def test_a_contract_nearing_its_end_raises_a_notice_for_its_owning_team(ending_soon):
    team = TeamFactory(name="Account management")
    OwnershipRuleFactory(team=team, exception_type=ExceptionType.CONTRACT_NEARING_END)
    notices_run()
    [notice] = notices()
    assert (notice.team, notice.severity, notice.business_key) == (team, Severity.LOW, "K-8001")
    assert (notice.money_at_risk, notice.currency) == (Decimal("50000.00"), "USD")
    assert notice.message.startswith("Contract K-8001 ends on ")
    assert "in 30 days; 50,000.00 USD of it remains." in notice.message
    assert notice.record == ending_soon
    assert notice.money_note == (
        "The contract's remaining value: The cap of 50,000.00 USD less 0.00 USD billed."
    )


@pytest.mark.django_db
def test_the_owning_team_is_sent_the_notice_by_email_with_the_remaining_value(
    ending_soon, mailoutbox
):
    team = TeamFactory(name="Account management", email="accounts@example.com")
    OwnershipRuleFactory(team=team, exception_type=ExceptionType.CONTRACT_NEARING_END)
    notices_run()
    [queued] = Notification.objects.filter(kind=NotificationKind.NOTICE)
    assert (queued.team, queued.recipient) == (team, "accounts@example.com")
    assert notifications_deliver() == {"sent": 1}
    [mail] = mailoutbox
    assert mail.subject.startswith("[Notice] Contract K-8001 ends on ")
    assert "Remaining value: 50,000.00 USD" in mail.body
    notices_run()  # the next day's look sends nothing again
    assert Notification.objects.filter(kind=NotificationKind.NOTICE).count() == 1


@pytest.mark.django_db
def test_a_contract_past_its_cap_percentage_raises_a_notice_with_the_cap_left(db):
    contract = ContractFactory(number="K-8002", cap_amount=Decimal("100000.00"))
    billed(contract, "85000.00")
    notices_run()
    [notice] = notices()
    assert notice.money_at_risk == Decimal("15000.00")
    assert notice.message == (
        "Contract K-8002 has billed 85.0 % of its cap of 100,000.00 USD; 15,000.00 USD remains."
    )


@pytest.mark.django_db
def test_a_contract_far_from_its_end_and_cap_raises_nothing(db):
    contract = ContractFactory(
        number="K-8003",
        end_date=timezone.localdate() + timedelta(days=200),
        cap_amount=Decimal("100000.00"),
    )
    billed(contract, "79000.00")
    notices_run()
    assert notices() == []


@pytest.mark.django_db
def test_the_daily_run_raises_each_notice_once_even_after_it_was_resolved(ending_soon):
    notices_run()
    [notice] = notices()
    BusinessException.objects.filter(pk=notice.pk).update(status=ExceptionStatus.DISMISSED)
    # The beat task queues the next look, and a second one on the same day changes nothing.
    transactions_process(ids=[contract_notices_task()])
    notices_run()
    [again] = notices()
    assert (again.pk, again.occurrences, again.status) == (notice.pk, 1, ExceptionStatus.DISMISSED)


@pytest.mark.django_db
def test_a_moved_end_date_resolves_the_notice_and_gives_a_new_one_when_it_nears(ending_soon):
    notices_run()
    Contract.objects.filter(pk=ending_soon.pk).update(
        end_date=timezone.localdate() + timedelta(days=45)
    )
    notices_run()
    old, new = notices()
    assert (old.status, new.status) == (ExceptionStatus.RESOLVED, ExceptionStatus.OPEN)
    assert "in 45 days" in new.message


@pytest.mark.django_db
def test_a_notice_stays_open_past_the_end_and_an_ended_contract_raises_none(ending_soon):
    ContractFactory(
        number="K-8004",
        start_date=timezone.localdate() - timedelta(days=300),
        end_date=timezone.localdate() - timedelta(days=1),
    )
    notices_run()
    notices_run(day=timezone.localdate() + timedelta(days=31))
    [notice] = notices()
    assert (notice.business_key, notice.status) == ("K-8001", ExceptionStatus.OPEN)


@pytest.mark.django_db
def test_the_contract_page_shows_its_term_cap_remaining_value_and_notice(
    ending_soon, user_with_role
):
    billed(ending_soon, "10000.00")
    notices_run()
    page = signed_in(user_with_role("approver")).get(f"/records/contract/{ending_soon.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Term and cap" in text
    assert "(30 days left)" in text
    assert "20.0 % (10,000.00 USD of 50,000.00 USD)" in text
    assert "<strong>40,000.00 USD</strong>" in text
    assert "Contract K-8001 ends on" in text


@pytest.mark.django_db
def test_the_contract_page_masks_the_amounts_for_a_viewer(ending_soon, user_with_role):
    page = signed_in(user_with_role("viewer")).get(f"/records/contract/{ending_soon.pk}/")
    text = page.content.decode()
    assert "(30 days left)" in text
    assert "50,000.00 USD" not in text
