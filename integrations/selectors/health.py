"""Reads of the connected systems and flows: their health over the last hour and day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from integrations.choices import (
    OPEN_STATUSES,
    AttemptOutcome,
    BreakerState,
    ExceptionType,
    RollupSpan,
    SyncOutcome,
    TransactionState,
)
from integrations.models import (
    Attempt,
    CircuitBreaker,
    ConnectedSystem,
    ExceptionRecord,
    Flow,
    FlowRollup,
    SyncState,
    Transaction,
)
from integrations.services.exceptions import waiting_key
from integrations.services.rollups import bucket_start


def system_list() -> QuerySet[ConnectedSystem]:
    return ConnectedSystem.objects.all()


def flow_list() -> QuerySet[Flow]:
    return Flow.objects.all()


def authentication_exception(system: ConnectedSystem) -> ExceptionRecord | None:
    """The open exception that holds the work because ``system`` refused the tower's
    credentials, if there is one."""
    return ExceptionRecord.objects.filter(
        exception_type=ExceptionType.AUTHENTICATION_FAILED,
        waiting_on=waiting_key("system_auth", system.slug),
        status__in=OPEN_STATUSES,
    ).first()


# Systems and flows ----------------------------------------------------------------------

FAILED_STATES = (TransactionState.REJECTED, TransactionState.DEAD, TransactionState.BLOCKED)
QUEUE_STATES = (
    TransactionState.RECEIVED,
    TransactionState.RETRY_SCHEDULED,
    TransactionState.DEAD,
    TransactionState.BLOCKED,
)


@dataclass
class Rate:
    """Failures out of a total over a window; ``share`` is None when nothing happened."""

    failed: int = 0
    total: int = 0

    @property
    def share(self) -> float | None:
        return self.failed / self.total if self.total else None

    @property
    def percent(self) -> str:
        return share_text(self.share)


def share_text(share: float | None) -> str:
    """A share as a person reads it: 0 %, < 0.1 %, 7.5 %, 61 %."""
    if share is None:
        return "none"
    value = share * 100
    if value == 0:
        return "0 %"
    if value < 0.1:
        return "< 0.1 %"
    return f"{value:.1f} %" if value < 10 else f"{value:.0f} %"


@dataclass
class SystemHealth:
    """One connected system as the systems page shows it."""

    system: ConnectedSystem
    inbound_1h: Rate = field(default_factory=Rate)
    inbound_24h: Rate = field(default_factory=Rate)
    calls_1h: Rate = field(default_factory=Rate)
    calls_24h: Rate = field(default_factory=Rate)
    retrying: int = 0
    last_inbound_success: datetime | None = None
    last_sync: datetime | None = None
    breaker: CircuitBreaker | None = None
    waiting: int = 0  # transactions waiting for it behind its open breaker

    @property
    def breaker_open(self) -> bool:
        return self.breaker is not None and self.breaker.is_open

    @property
    def outbound(self) -> bool:
        return bool(self.system.base_url)

    @property
    def last_success(self) -> datetime | None:
        times = [t for t in (self.last_inbound_success, self.last_sync) if t is not None]
        return max(times) if times else None

    @property
    def rate_1h(self) -> Rate:
        return Rate(
            self.inbound_1h.failed + self.calls_1h.failed,
            self.inbound_1h.total + self.calls_1h.total,
        )

    @property
    def rate_24h(self) -> Rate:
        return Rate(
            self.inbound_24h.failed + self.calls_24h.failed,
            self.inbound_24h.total + self.calls_24h.total,
        )


def _outbound_prefix(system: ConnectedSystem) -> str:
    return system.base_url.rstrip("/") + "/"


def systems_health(*, now: datetime | None = None) -> list[SystemHealth]:
    """Each connected system's last success, error rates over 1 h and 24 h and freshness,
    in four queries bounded by the last day.

    Inbound: the events the system sent in the window (the ``received_at`` index); failed
    means rejected at the door, dead or blocked. Outbound (a system the tower calls): the
    attempts of the window that called it, failed when the call is what failed.
    Last sync: the newest sync state of the system (records held or sent).
    """
    now = now or timezone.now()
    day_ago, hour_ago = now - timedelta(hours=24), now - timedelta(hours=1)
    systems = list(ConnectedSystem.objects.select_related("breaker").order_by("slug"))
    health = {system.pk: SystemHealth(system, breaker=_breaker_of(system)) for system in systems}
    for system_id, waiting in waiting_for_systems().items():
        if system_id in health:
            health[system_id].waiting = waiting
    failed = Q(state__in=FAILED_STATES)
    recent = Q(received_at__gte=hour_ago)
    rows = (
        Transaction.objects.filter(received_at__gte=day_ago, source_system__isnull=False)
        .values_list("source_system_id")
        .annotate(
            total=Count("pk"),
            failed=Count("pk", filter=failed),
            total_1h=Count("pk", filter=recent),
            failed_1h=Count("pk", filter=recent & failed),
            retrying=Count("pk", filter=Q(state=TransactionState.RETRY_SCHEDULED)),
            last_success=Max("finished_at", filter=Q(state=TransactionState.SUCCEEDED)),
        )
        .order_by()
    )
    for system_id, total, failed_n, total_1h, failed_1h, retrying, last_success in rows:
        item = health.get(system_id)
        if item is not None:
            item.inbound_24h = Rate(failed_n, total)
            item.inbound_1h = Rate(failed_1h, total_1h)
            item.retrying = retrying
            item.last_inbound_success = last_success
    outbound = [system for system in systems if system.base_url]
    if outbound:
        counts: dict[str, Any] = {}
        for system in outbound:
            prefix = _outbound_prefix(system)
            called = Q(outbound_summary__contains=prefix)
            broke = Q(error_message__contains=prefix) & ~Q(outcome=AttemptOutcome.SUCCEEDED)
            hour = Q(started_at__gte=hour_ago)
            counts[f"calls_{system.pk}"] = Count("pk", filter=called)
            counts[f"failed_{system.pk}"] = Count("pk", filter=broke)
            counts[f"calls_1h_{system.pk}"] = Count("pk", filter=called & hour)
            counts[f"failed_1h_{system.pk}"] = Count("pk", filter=broke & hour)
        totals = Attempt.objects.filter(started_at__gte=day_ago).aggregate(**counts)
        for system in outbound:
            item = health[system.pk]
            item.calls_24h = Rate(totals[f"failed_{system.pk}"], totals[f"calls_{system.pk}"])
            item.calls_1h = Rate(totals[f"failed_1h_{system.pk}"], totals[f"calls_1h_{system.pk}"])
    for system_id, last_sync in (
        SyncState.objects.filter(outcome=SyncOutcome.SYNCED)
        .values_list("system_id")
        .annotate(last=Max("synced_at"))
        .order_by()
    ):
        if system_id in health:
            health[system_id].last_sync = last_sync
    return [health[system.pk] for system in systems]


def _breaker_of(system: ConnectedSystem) -> CircuitBreaker | None:
    try:
        return system.breaker
    except CircuitBreaker.DoesNotExist:
        return None


def waiting_for_systems() -> dict[int, int]:
    """How many transactions wait behind each system's open breaker, by system id."""
    return dict(
        Transaction.objects.filter(
            waiting_for__isnull=False, state=TransactionState.RETRY_SCHEDULED
        )
        .values_list("waiting_for")
        .annotate(n=Count("pk"))
        .order_by()
    )


def breakers_open() -> list[SystemHealth]:
    """The systems the tower is not calling now (their breaker is open or half open), with
    the work that waits for each; for the overview's notices and the probes."""
    breakers = list(
        CircuitBreaker.objects.exclude(state=BreakerState.CLOSED)
        .select_related("system")
        .order_by("opened_at")
    )
    waiting = waiting_for_systems() if breakers else {}
    return [
        SystemHealth(b.system, breaker=b, waiting=waiting.get(b.system_id, 0)) for b in breakers
    ]


@dataclass
class FlowHealth:
    """One flow on the systems page: paused or running, its queues and its failure rates."""

    flow: Flow
    queues: dict[str, int]
    rate_1h: Rate
    rate_24h: Rate
    succeeded_24h: int = 0
    ignored_24h: int = 0  # events the mappings' rules ignored: kept, never run

    @property
    def queued(self) -> int:
        return sum(self.queues.values())


def flows_health(*, now: datetime | None = None) -> list[FlowHealth]:
    """Each flow with its queue depths (the partial index of live states) and the share of
    failed attempts over the last hour and day (the roll-ups: 60 minute rows and 24 hour
    rows per flow, whatever the history)."""
    now = now or timezone.now()
    flows = list(Flow.objects.order_by("kind"))
    queues: dict[int, dict[str, int]] = {flow.pk: dict.fromkeys(QUEUE_STATES, 0) for flow in flows}
    for state, flow_id, n in (
        Transaction.objects.filter(state__in=QUEUE_STATES)
        .values_list("state", "flow_id")
        .annotate(n=Count("*"))
        .order_by()
    ):
        if flow_id in queues:
            queues[flow_id][state] = n
    windows = {
        "1h": (RollupSpan.MINUTE, bucket_start(now, RollupSpan.MINUTE) - timedelta(minutes=59)),
        "24h": (RollupSpan.HOUR, bucket_start(now, RollupSpan.HOUR) - timedelta(hours=23)),
    }
    sums: dict[str, dict[int, tuple[int, ...]]] = {}
    for name, (span, first) in windows.items():
        sums[name] = {
            flow_id: tuple(n or 0 for n in counts)
            for flow_id, *counts in FlowRollup.objects.filter(span=span, bucket__gte=first)
            .values_list("flow_id")
            .annotate(Sum("succeeded"), Sum("retried"), Sum("dead"), Sum("blocked"), Sum("ignored"))
            .order_by()
        }

    def rate(name: str, flow_id: int) -> Rate:
        succeeded, retried, dead, blocked, _ = sums[name].get(flow_id, (0, 0, 0, 0, 0))
        failures = retried + dead + blocked
        return Rate(failures, succeeded + failures)

    return [
        FlowHealth(
            flow=flow,
            queues=queues[flow.pk],
            rate_1h=rate("1h", flow.pk),
            rate_24h=rate("24h", flow.pk),
            succeeded_24h=sums["24h"].get(flow.pk, (0,))[0],
            ignored_24h=sums["24h"].get(flow.pk, (0,) * 5)[4],
        )
        for flow in flows
    ]
