"""The demo's history: weeks of the systems' events taken in as if they had arrived over them.

``make run`` has the simulator build its traffic into a file (``generate_traffic --out``);
``load_history`` takes the file in here. Each request is read by the sending system's
adapter and stored by ``events_store`` (the path a poller's events take: idempotent, rules
applied, the rest enqueued) under a clock moved to its moment in the window, and processed
there and then by the real engine (tasks run in this process), so transactions, roll-ups,
exceptions and SLA breaches carry the day they happened on. At the end of each day the SLA
sweep runs, and the operators of the demo resolve part of what was raised that day (the
rest stays open and breaches); a reconciliation runs at the end. Nothing is written behind
the services.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import time_machine
from celery import current_app
from django.contrib.auth import get_user_model
from django.utils import timezone

from canonical.errors import ApplicationError
from controltower.operations.models import BusinessException
from controltower.operations.services.exceptions import exception_resolve
from controltower.operations.services.sla import sla_sweep
from integrations import tasks  # noqa: F401  (registered in this process, so they run here)
from integrations.adapters import EventRejected, adapter_for
from integrations.choices import ExceptionStatus
from integrations.exception_types import APPROVAL_TYPES
from integrations.models import ConnectedSystem
from integrations.services.inbound import events_store
from integrations.services.mappings import mappings_of
from integrations.services.reconciliation import reconciliation_queue

# The demo operator's share of each day's new exceptions fixed the same day.
RESOLVED_SHARE = 0.4
RESOLUTION = "Fixed in the source system and sent again (demo history)."


@dataclass
class HistorySummary:
    requests: int = 0
    accepted: int = 0
    rejected: int = 0
    resolved: int = 0
    sweeps: dict[str, int] = field(default_factory=dict)
    reconciliation: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "resolved": self.resolved,
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
    """Takes ``requests`` in spread evenly over the ``days`` before ``now``, in their order.

    Each request is stored and processed at its moment; each day ends with an SLA sweep and
    the resolution of a share of that day's new exceptions by ``actor`` (the demo's
    operator, else its admin).
    """
    if days < 1:
        raise ApplicationError("days must be 1 or more.", errors={"days": [str(days)]})
    now = now or timezone.now()
    start = now - timedelta(days=days)
    # The working hours of each day, 08:00 to 18:00 in the tower's zone.
    zone = timezone.get_current_timezone()
    first_day = start.astimezone(zone).date()
    chosen = random.Random(seed)
    actor = actor or _demo_actor()
    systems = {s.slug: s for s in ConnectedSystem.objects.all()}
    summary = HistorySummary(requests=len(requests))
    by_day: dict[int, list[dict[str, Any]]] = {}
    for index, request in enumerate(requests):
        by_day.setdefault(index * days // max(1, len(requests)), []).append(request)
    with _tasks_here():
        for day in range(days):
            date = first_day + timedelta(days=day)
            opening = datetime.combine(date, datetime.min.time(), tzinfo=zone) + timedelta(hours=8)
            todays = by_day.get(day, [])
            step = timedelta(hours=10) / max(1, len(todays))
            for index, request in enumerate(todays):
                with time_machine.travel(opening + step * index, tick=True):
                    _store(request, systems, summary)
            closing = opening + timedelta(hours=10)
            with time_machine.travel(closing, tick=True):
                summary.resolved += _resolve_share(since=opening, actor=actor, chosen=chosen)
            with time_machine.travel(closing + timedelta(hours=6), tick=True):
                for name, count in sla_sweep().items():
                    summary.sweeps[name] = summary.sweeps.get(name, 0) + count
        # Today's reconciliation: the ERP's and the PSA's copies against what the weeks left.
        with time_machine.travel(now, tick=True):
            summary.reconciliation = reconciliation_queue().pk
    return summary


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
            status__in=(ExceptionStatus.OPEN, ExceptionStatus.IN_PROGRESS),
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
