"""A system's circuit breaker: it opens after failed calls in a row, lets one probe through at
its time, closes on a call that works and releases the waiting work oldest first."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from integrations.choices import BreakerState, TransactionState
from integrations.models import CircuitBreaker, ConnectedSystem, Transaction
from integrations.services.breakers import (
    SystemUnavailable,
    breaker_admit,
    breaker_failure,
    breaker_set,
    breaker_success,
    breakers_probe_due,
)
from tests.factories.operations import FlowTransactionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp(settings) -> ConnectedSystem:
    settings.CT_BREAKER_FAILURES = 3
    settings.CT_BREAKER_PROBE_SECONDS = 30
    settings.CT_BREAKER_PROBE_MAX_SECONDS = 100
    return ConnectedSystem.objects.create(slug="erp-x", name="ERP", kind="erp")


def waiting(system: ConnectedSystem, n: int) -> list[Transaction]:
    return [
        FlowTransactionFactory(
            kind="time_to_billing",
            event_type="invoice.approved",
            state=TransactionState.RETRY_SCHEDULED,
            waiting_for=system,
            next_attempt_at=None,
        )
        for _ in range(n)
    ]


def test_it_opens_after_failed_calls_in_a_row_and_a_call_that_works_resets_the_count(erp):
    breaker_failure(erp, error="503")
    breaker_failure(erp, error="503")
    breaker_success(erp)
    assert CircuitBreaker.objects.get(system=erp).failures == 0
    for _ in range(2):
        assert not breaker_failure(erp, error="timed out").is_open
    breaker = breaker_failure(erp, error="timed out")
    assert breaker.is_open and breaker.state == BreakerState.OPEN
    assert breaker.last_error == "timed out"
    with pytest.raises(SystemUnavailable, match="Waiting for ERP"):
        breaker_admit(erp)


def test_at_its_probe_time_one_call_goes_through_and_the_others_wait(erp):
    for _ in range(3):
        breaker_failure(erp, error="503")
    later = timezone.now() + dt.timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        breaker_admit(erp)  # the probe
        with pytest.raises(SystemUnavailable):
            breaker_admit(erp)
        assert CircuitBreaker.objects.get(system=erp).state == BreakerState.HALF_OPEN


def test_a_failed_probe_opens_it_again_for_twice_as_long(erp):
    for _ in range(3):
        breaker_failure(erp, error="503")
    later = timezone.now() + dt.timedelta(seconds=31)
    with time_machine.travel(later, tick=False):
        breaker_admit(erp)
        breaker = breaker_failure(erp, error="503 again")
    assert breaker.state == BreakerState.OPEN and breaker.probe_interval_seconds == 60
    assert breaker.probe_at == later + dt.timedelta(seconds=60)


def test_a_probe_that_works_closes_it_and_releases_the_waiting_work_oldest_first(
    erp, django_capture_on_commit_callbacks
):
    for _ in range(3):
        breaker_failure(erp, error="503")
    held = waiting(erp, 3)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        breaker_success(erp)
    assert CircuitBreaker.objects.get(system=erp).state == BreakerState.CLOSED
    released = Transaction.objects.filter(pk__in=[tx.pk for tx in held]).order_by("pk")
    assert all(tx.waiting_for_id is None and tx.next_attempt_at for tx in released)


def test_the_sweep_sends_the_oldest_waiting_work_as_the_probe_and_only_one(erp):
    for _ in range(3):
        breaker_failure(erp, error="503")
    first, second = waiting(erp, 2)
    assert breakers_probe_due() == 0  # not yet its time
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31), tick=False):
        assert breakers_probe_due() == 1
        assert breakers_probe_due() == 0  # one is on its way
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.next_attempt_at is not None and second.next_attempt_at is None


def test_a_breaker_opened_by_hand_is_not_probed_and_only_a_person_closes_it(erp):
    waiting(erp, 1)
    breaker_set(system=erp, state=BreakerState.OPEN)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2), tick=False):
        with pytest.raises(SystemUnavailable, match="opened by hand"):
            breaker_admit(erp)
        assert breakers_probe_due() == 0
        breaker_success(erp)  # a call that worked elsewhere does not close it
    assert CircuitBreaker.objects.get(system=erp).is_open
    breaker_set(system=erp, state=BreakerState.CLOSED)
    assert not Transaction.objects.filter(waiting_for=erp).exists()
