"""The circuit breaker of each connected system: stop calling a system that is down, let
one call try it now and then, and release the work that waited when it answers.

An outage of hours (a maintenance window, a limit reset at midnight) must not fill the
dead-letter queue: while the breaker is open, the work that needs the system waits for
it (``Transaction.waiting_for``), its retry budget paused, and is released in the order
it arrived once a probe gets through.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.choices import BreakerState, ErrorClass, TransactionState
from integrations.errors import IntegrationError
from integrations.live import figures_changed
from integrations.models import CircuitBreaker, ConnectedSystem, Transaction
from integrations.services.queueing import transactions_enqueue


def breaker_of(system: ConnectedSystem) -> CircuitBreaker:
    breaker, _ = CircuitBreaker.objects.get_or_create(system=system)
    return breaker


class SystemUnavailable(IntegrationError):
    """The system's breaker is open: the work waits for the system; nothing was called."""

    def __init__(self, system: ConnectedSystem, breaker: CircuitBreaker) -> None:
        wait = (
            max((breaker.probe_at - timezone.now()).total_seconds(), 1.0)
            if breaker.probe_at
            else None
        )
        why = "opened by hand" if breaker.manual else f"{breaker.failures} calls failed in a row"
        super().__init__(
            f"Waiting for {system.name}: its breaker is open ({why}"
            + (f"; last error: {breaker.last_error}" if breaker.last_error else "")
            + ").",
            transient=True,
            error_class=ErrorClass.TRANSIENT,
            retry_after=wait,
        )
        self.waiting_for = system


def breaker_admit(system: ConnectedSystem) -> None:
    """Lets a call to ``system`` go, or raises ``SystemUnavailable``.

    While the breaker is open nothing goes, until its probe time: then the one caller
    that turns it half open makes the probe call.
    """
    breaker = CircuitBreaker.objects.filter(system=system).first()
    if breaker is None or breaker.state == BreakerState.CLOSED:
        return
    now = timezone.now()
    # A probe whose caller never reported back (a killed worker) gives way to the next one.
    if (
        not breaker.manual
        and breaker.probe_at is not None
        and breaker.probe_at <= now
        and CircuitBreaker.objects.filter(
            pk=breaker.pk, state=breaker.state, probe_at=breaker.probe_at
        ).update(state=BreakerState.HALF_OPEN, probe_at=now + _probe_interval(breaker))
    ):
        return  # this call is the probe
    raise SystemUnavailable(system, breaker)


def breaker_success(system: ConnectedSystem) -> None:
    """A call to ``system`` worked: the failure count starts again, and an open breaker
    closes and releases what waited."""
    updated = CircuitBreaker.objects.filter(system=system).exclude(
        failures=0, state=BreakerState.CLOSED
    )
    if not updated.exists():
        return
    with transaction.atomic():
        breaker = CircuitBreaker.objects.select_for_update().get(system=system)
        if breaker.manual:
            return  # a person opened it; a person closes it
        was_open = breaker.state != BreakerState.CLOSED
        breaker.state = BreakerState.CLOSED
        breaker.failures = 0
        breaker.opened_at = breaker.probe_at = None
        breaker.probe_interval_seconds = 0
        breaker.last_error = ""
        breaker.save()
        if was_open:
            waiting_release(system=system)


def breaker_failure(system: ConnectedSystem, *, error: str) -> CircuitBreaker:
    """A call to ``system`` failed the way an outage does (no answer, 5xx): after
    ``CT_BREAKER_FAILURES`` in a row the breaker opens; a failed probe opens it again, longer.
    Returns the breaker as it is now: when it is open, the caller's work waits for the
    system (``SystemUnavailable``) instead of spending its retries."""
    breaker_of(system)
    CircuitBreaker.objects.filter(system=system).update(
        failures=F("failures") + 1, last_error=error[:500]
    )
    with transaction.atomic():
        breaker = CircuitBreaker.objects.select_for_update().get(system=system)
        now = timezone.now()
        if breaker.state == BreakerState.HALF_OPEN or (
            breaker.state == BreakerState.CLOSED
            and breaker.failures >= settings.CT_BREAKER_FAILURES
        ):
            interval = (
                settings.CT_BREAKER_PROBE_SECONDS
                if breaker.state == BreakerState.CLOSED
                else min(breaker.probe_interval_seconds * 2, settings.CT_BREAKER_PROBE_MAX_SECONDS)
            )
            if breaker.state == BreakerState.CLOSED:
                breaker.opened_at = now
            breaker.state = BreakerState.OPEN
            breaker.probe_interval_seconds = interval
            breaker.probe_at = now + timedelta(seconds=interval)
            breaker.save()
            figures_changed()
    return breaker


def _probe_interval(breaker: CircuitBreaker) -> timedelta:
    return timedelta(seconds=breaker.probe_interval_seconds or settings.CT_BREAKER_PROBE_SECONDS)


def breaker_set(*, system: ConnectedSystem, state: BreakerState) -> CircuitBreaker:
    """Opens or closes ``system``'s breaker by hand. Opened, it stays open (no probe) until a
    person closes it; closed, the work that waited for the system is released."""
    breaker_of(system)
    with transaction.atomic():
        breaker = CircuitBreaker.objects.select_for_update().get(system=system)
        now = timezone.now()
        if state == BreakerState.OPEN:
            breaker.state = BreakerState.OPEN
            breaker.manual = True
            breaker.opened_at = breaker.opened_at or now
            breaker.probe_at = None
        else:
            breaker.state = BreakerState.CLOSED
            breaker.manual = False
            breaker.failures = 0
            breaker.opened_at = breaker.probe_at = None
            breaker.probe_interval_seconds = 0
            breaker.last_error = ""
            waiting_release(system=system)
        breaker.save()
        figures_changed()
    return breaker


def waiting_release(*, system: ConnectedSystem) -> int:
    """Sends the work that waited for ``system`` back to its queues, oldest first; its retry
    budget starts again. Call inside a transaction. Returns how many."""
    waiting = list(
        Transaction.objects.select_for_update(of=("self",))
        .filter(waiting_for=system, state=TransactionState.RETRY_SCHEDULED)
        .select_related("flow")
        .order_by("pk")
    )
    now = timezone.now()
    for tx in waiting:
        tx.waiting_for = None
        tx.failing_since = None
        tx.next_attempt_at = now
    Transaction.objects.bulk_update(waiting, ["waiting_for", "failing_since", "next_attempt_at"])
    transactions_enqueue(transactions=waiting)
    return len(waiting)


def breakers_probe_due() -> int:
    """For each breaker whose probe time has come, makes the oldest work waiting for its
    system ready again: it runs, and is the probe (it closes the breaker and releases the
    rest, or opens it again for longer). Returns how many probes were sent."""
    now = timezone.now()
    sent = 0
    for breaker in CircuitBreaker.objects.filter(
        state__in=(BreakerState.OPEN, BreakerState.HALF_OPEN), manual=False, probe_at__lte=now
    ).select_related("system"):
        with transaction.atomic():
            waiting = Transaction.objects.select_for_update(of=("self",)).filter(
                waiting_for=breaker.system, state=TransactionState.RETRY_SCHEDULED
            )
            if waiting.filter(next_attempt_at__isnull=False).exists():
                continue  # a probe is on its way already (a lost one is sent again by the sweep)
            oldest = waiting.select_related("flow").order_by("pk").first()
            if oldest is None:
                continue  # nothing waits: the next call to the system is the probe
            oldest.next_attempt_at = now
            oldest.save(update_fields=["next_attempt_at", "updated_at"])
            transactions_enqueue(transactions=[oldest])
            sent += 1
    return sent
