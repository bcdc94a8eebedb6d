"""Heartbeats: each process of the tower records that it is alive and doing its work.

A worker's heartbeat is written by ``heartbeat_task`` from inside its pool (its supervisor
sends the task to a queue only that worker consumes), beat's from its scheduler loop, a web
server's from its event loop. ``integrations.selectors.runtime`` reads them for the health
probes and the overview.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import Error as DatabaseError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from integrations.choices import ProcessRole
from integrations.models import ProcessHeartbeat

logger = logging.getLogger(__name__)

# Rows of processes gone this long are forgotten, except the newest of each role: the
# overview can still say since when no worker (or beat) has been heard of.
FORGET_AFTER = timedelta(days=7)


def process_identity() -> dict[str, Any]:
    """Where this process runs, for the heartbeat's details."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def heartbeat_record(
    *,
    role: ProcessRole,
    name: str,
    started_at: datetime | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ProcessHeartbeat:
    """Records that process ``name`` proved it works at ``at`` (now).

    ``details`` replaces what the row said before; ``started_at`` is kept when not given.
    """
    at = at or timezone.now()
    values: dict[str, Any] = {"role": role, "beat_at": at, "details": details or {}}
    if started_at is not None:
        values["started_at"] = started_at
    with transaction.atomic():
        if not ProcessHeartbeat.objects.filter(name=name).update(**values):
            values.setdefault("started_at", started_at or at)
            ProcessHeartbeat.objects.create(name=name, **values)
    return ProcessHeartbeat.objects.get(name=name)


def heartbeat_starting(
    *,
    role: ProcessRole,
    name: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> datetime:
    """Records that a new incarnation of ``name`` is starting; returns its start time.

    Its last heartbeat stays as it was, older than the start: until the new process proves
    it works, it is "starting", and a supervisor or the overview knows since when.
    """
    at = at or timezone.now()
    values = {"role": role, "started_at": at, "details": details or {}}
    with transaction.atomic():
        if not ProcessHeartbeat.objects.filter(name=name).update(**values):
            ProcessHeartbeat.objects.create(name=name, **values)
    return at


def heartbeat_of(*, name: str) -> ProcessHeartbeat | None:
    return ProcessHeartbeat.objects.filter(name=name).first()


def heartbeats_prune(*, now: datetime | None = None) -> int:
    """Forgets processes silent for a week (renamed hosts, old web server pids), keeping the
    newest row of each role."""
    before = (now or timezone.now()) - FORGET_AFTER
    newest = ProcessHeartbeat.objects.values("role").annotate(last=Max("beat_at"))
    keep = [
        pk
        for row in newest
        if (
            pk := ProcessHeartbeat.objects.filter(role=row["role"], beat_at=row["last"])
            .values_list("pk", flat=True)
            .first()
        )
    ]
    silent = Q(beat_at__lt=before) | Q(beat_at__isnull=True, started_at__lt=before)
    deleted, _ = ProcessHeartbeat.objects.filter(silent).exclude(pk__in=keep).delete()
    return deleted


def worker_heartbeat_record(
    *, node: str, started_at: str, sent_at: float, supervisor: dict[str, Any] | None = None
) -> None:
    """Records a worker's heartbeat from inside its pool: the worker ran this task.

    ``sent_at`` (Unix seconds) is when the supervisor sent it, so the lag says how long the
    worker took to get to it. A heartbeat sent to an earlier incarnation of the worker and
    run by this one still proves that the pool works, but says nothing of this incarnation:
    it moves only the time.
    """
    now = timezone.now()
    started = datetime.fromisoformat(started_at)
    details = {
        **(supervisor or {}),
        "pool": process_identity(),
        "sent_at": sent_at,
        "lag_seconds": round(max(now.timestamp() - sent_at, 0.0), 3),
    }
    rows = ProcessHeartbeat.objects.filter(name=node)
    with transaction.atomic():
        if rows.filter(started_at__lte=started).update(
            role=ProcessRole.WORKER, started_at=started, beat_at=now, details=details
        ):
            return
        if rows.update(beat_at=now):
            return
        ProcessHeartbeat.objects.create(
            role=ProcessRole.WORKER, name=node, started_at=started, beat_at=now, details=details
        )


_last_pool_proof = float("-inf")


def worker_pool_proof(*, node: str | None) -> None:
    """A pool process of worker ``node`` took or finished a task: the pool works.

    The heartbeat task waits behind long tasks like any other; this keeps a busy worker's
    heartbeat fresh meanwhile. At most once per ``CT_HEARTBEAT_SECONDS`` per process, and only
    for a worker that has a row (a supervised one): an unsupervised worker that fell idle
    must not look like one that stopped.
    """
    global _last_pool_proof
    clock = time.monotonic()
    if not node or clock - _last_pool_proof < settings.CT_HEARTBEAT_SECONDS:
        return
    _last_pool_proof = clock
    try:
        ProcessHeartbeat.objects.filter(name=node, role=ProcessRole.WORKER).update(
            beat_at=timezone.now()
        )
    except DatabaseError as exc:  # the task's own work meets the same error and says so
        logger.debug("Pool heartbeat of %s not recorded: %s", node, exc)
