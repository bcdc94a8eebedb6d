"""The demo's history: weeks of the systems' events taken in as if they had arrived over them.

``make run`` has the simulator build its traffic into a file (``generate_traffic --out``);
``load_history`` takes the file in here. Each request is read by the sending system's
adapter and stored by ``events_store`` (the path a poller's events take: idempotent, rules
applied, the rest enqueued) under a clock moved to a few minutes after its events
occurred, and processed there and then by the real engine (its tasks run in this
process), so transactions, roll-ups, exceptions and SLA breaches carry the day they
happened on. Each evening the demo's operator resolves part of the day's new exceptions
(the rest stay open and breach) and its approver approves part of the invoice candidates
(posted to the ERP); each midnight the SLA sweep runs; a reconciliation comes last.
Nothing is written behind the services.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import time_machine
from celery import current_app
from django.contrib.auth import get_user_model
from django.utils import timezone

from canonical.errors import ApplicationError
from canonical.models import Invoice
from controltower.operations.models import BusinessException
from controltower.operations.services.approvals import APPROVABLE, invoice_approve
from controltower.operations.services.exceptions import exception_resolve
from controltower.operations.services.sla import sla_sweep
from integrations import tasks  # noqa: F401  (registered in this process, so they run here)
from integrations.adapters import EventRejected, adapter_for
from integrations.choices import OPEN_STATUSES
from integrations.exception_types import APPROVAL_TYPES
from integrations.models import ConnectedSystem
from integrations.services.inbound import events_store
from integrations.services.mappings import mappings_of
from integrations.services.reconciliation import reconciliation_queue

# The demo operator's share of each day's new exceptions fixed the same day.
RESOLVED_SHARE = 0.4
RESOLUTION = "Fixed in the source system and sent again (demo history)."
# How long after its events occurred a request arrives.
ARRIVAL_LAG = timedelta(minutes=5)
# The demo approver's share of the invoice candidates a day old approved each evening.
APPROVED_SHARE = 0.6
APPROVAL = "Checked against the timesheets (demo history)."


@dataclass
class HistorySummary:
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    resolved: int = 0
    invoices_approved: int = 0
    sweeps: dict[str, int] = field(default_factory=dict)
    reconciliation: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "resolved": self.resolved,
            "invoices_approved": self.invoices_approved,
            "sweeps": self.sweeps,
            "reconciliation": self.reconciliation,
        }


def history_read(path: str) -> list[dict[str, Any]]:
    """The requests of a file ``generate_traffic --out`` wrote, in sending order."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    requests = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(requests, list):
        raise ApplicationError(f"{path} holds no requests.", errors={"requests": ["missing"]})
    return requests


def history_load(
    *,
    requests: list[dict[str, Any]],
    days: int = 30,
    now: datetime | None = None,
    seed: int = 7,
    actor: Any = None,
) -> HistorySummary:
    """Takes ``requests`` in over the ``days`` before ``now``, each when its events occurred.

    A request arrives a few minutes after the latest ``occurred_at`` of its events (kept
    within the window and before ``now``; ties in their sending order), and is stored and
    processed then. Each day ends (18:00 in the tower's zone) with the resolution of a share
    of that day's new exceptions by ``actor`` (the demo's operator, else its admin), the
    approval of a share of the day-old invoice candidates by the demo's approver, and at
    midnight an SLA sweep; today's reconciliation comes last.
    """
    if days < 1:
        raise ApplicationError("days must be 1 or more.", errors={"days": [str(days)]})
    now = now or timezone.now()
    start = now - timedelta(days=days)
    zone = timezone.get_current_timezone()
    chosen = random.Random(seed)
    actor = actor or _demo_actor()
    approver = get_user_model().objects.filter(username="approver").first()
    systems = {s.slug: s for s in ConnectedSystem.objects.all()}
    summary = HistorySummary(requests=len(requests))
    by_day: dict[date, list[tuple[datetime, dict[str, Any]]]] = {}
    for at, request in _schedule(requests, start=start, now=now):
        by_day.setdefault(at.astimezone(zone).date(), []).append((at, request))
    day = start.astimezone(zone).date()
    with _tasks_here():
        while day <= now.astimezone(zone).date():
            day_start = datetime.combine(day, time(0), tzinfo=zone)
            closing = datetime.combine(day, time(18), tzinfo=zone)
            arrivals = by_day.get(day, [])
            # The clock only moves forward: what arrives after the day's closing is stored
            # after it, so nothing is resolved before it was raised.
            for at, request in [(at, r) for at, r in arrivals if at < closing]:
                with time_machine.travel(at, tick=True):
                    _store(request, systems, summary)
            if closing < now:
                with time_machine.travel(closing, tick=True):
                    summary.resolved += _resolve_share(since=day_start, actor=actor, chosen=chosen)
                    if approver is not None:
                        summary.invoices_approved += _approve_share(
                            created=(day_start - timedelta(days=1), day_start),
                            actor=approver,
                            chosen=chosen,
                        )
            for at, request in [(at, r) for at, r in arrivals if at >= closing]:
                with time_machine.travel(at, tick=True):
                    _store(request, systems, summary)
            midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            with time_machine.travel(min(midnight, now), tick=True):
                for name, count in sla_sweep().items():
                    summary.sweeps[name] = summary.sweeps.get(name, 0) + count
            day += timedelta(days=1)
        # Today's reconciliation: the ERP's and the PSA's copies against what the weeks left.
        with time_machine.travel(now, tick=True):
            summary.reconciliation = reconciliation_queue().pk
    return summary


def _schedule(
    requests: list[dict[str, Any]], *, start: datetime, now: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """When each request arrives: a few minutes after its events occurred, in the window."""
    planned = []
    for index, request in enumerate(requests):
        occurred = [_moment(event) for event in request.get("events") or []]
        known = [moment for moment in occurred if moment is not None]
        at = max(known) + ARRIVAL_LAG if known else start
        planned.append((min(max(at, start), now - ARRIVAL_LAG), index, request))
    planned.sort(key=lambda item: (item[0], item[1]))
    return [(at, request) for at, _, request in planned]


def _moment(event: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(event.get("occurred_at")))
    except (AttributeError, TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else None


def _store(
    request: dict[str, Any], systems: dict[str, ConnectedSystem], summary: HistorySummary
) -> None:
    system = systems.get(request.get("system", ""))
    if system is None or not system.enabled:
        summary.rejected += len(request.get("events") or [])
        return
    body = json.dumps(request.get("events") or [], separators=(",", ":")).encode()
    mappings = mappings_of(system)
    try:
        events = adapter_for(system).parse(body=body, mappings=mappings)
    except EventRejected:
        summary.rejected += len(request.get("events") or [])
        return
    result = events_store(system=system, events=events, versions=mappings.versions)
    summary.accepted += len(result.accepted)


def _resolve_share(*, since: datetime, actor: Any, chosen: random.Random) -> int:
    raised = list(
        BusinessException.objects.filter(
            created_at__gte=since,
            status__in=OPEN_STATUSES,
        )
        .exclude(exception_type__in=APPROVAL_TYPES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    resolved = 0
    for pk in chosen.sample(raised, k=round(len(raised) * RESOLVED_SHARE)):
        try:
            exception_resolve(exception_id=pk, actor=actor, resolution=RESOLUTION)
        except ApplicationError:  # closed meanwhile by a re-run of another one
            continue
        resolved += 1
    return resolved


def _approve_share(*, created: tuple[datetime, datetime], actor: Any, chosen: random.Random) -> int:
    """The demo's approver approves part of the candidates made in the ``created`` window
    (four eyes: it prepared none of them); each approval posts the invoice to the ERP. The
    rest wait in the approvals inbox."""
    waiting = list(
        Invoice.objects.filter(status__in=APPROVABLE, created_at__range=created)
        .exclude(prepared_by=actor)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    approved = 0
    for pk in chosen.sample(waiting, k=round(len(waiting) * APPROVED_SHARE)):
        try:
            invoice_approve(invoice_id=pk, actor=actor, reason=APPROVAL)
        except ApplicationError:
            continue
        approved += 1
    return approved


def _demo_actor() -> Any:
    users = get_user_model().objects
    return users.filter(username="operator").first() or users.filter(is_superuser=True).first()


@contextmanager
def _tasks_here() -> Iterator[None]:
    """Runs the engine's tasks in this process, under the moved clock, instead of a worker's
    (which would stamp them with today)."""
    conf = current_app.conf
    eager, propagates = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, False
    try:
        yield
    finally:
        conf.task_always_eager, conf.task_eager_propagates = eager, propagates
