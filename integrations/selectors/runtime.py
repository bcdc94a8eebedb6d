"""Whether the tower is doing its work: the database, the broker, the workers, beat, the backlog.

Read by the health probes (``/healthz``, ``/readyz``) and the overview's banner. Each check
says in a sentence what is wrong and since when; none of them raises, so a probe can always
answer, also when the database is down.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from integrations.choices import ProcessRole, TransactionState
from integrations.models import ProcessHeartbeat, Transaction

logger = logging.getLogger(__name__)

# How long the broker check may take, and how long its answer is reused: the overview asks
# on every refresh of every open page, and an unreachable broker must not slow each one down.
BROKER_TIMEOUT_SECONDS = 2.0
BROKER_ANSWER_KEPT_SECONDS = 5.0

OK = "ok"
STARTING = "starting"  # a process started and has not yet proved it works (within its limit)
SILENT = "silent"  # heard of before, and not within its limit
NEVER = "never"  # no heartbeat of this kind was ever recorded
DOWN = "down"  # cannot be reached
LATE = "late"  # work waits longer than it should


@dataclass(frozen=True)
class ComponentStatus:
    """One part of the runtime and whether it does its work.

    ``reason`` is a sentence for an operator or a probe's log; ``since`` is when it was
    last seen working (or when the oldest waiting work became ready), if known.
    """

    component: str
    state: str
    reason: str = ""
    since: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state == OK


@dataclass(frozen=True)
class RuntimeStatus:
    """The runtime's parts at ``checked_at``; ready when every part is."""

    checked_at: datetime
    components: list[ComponentStatus]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.components)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.components if not c.ok]

    def get(self, component: str) -> ComponentStatus | None:
        return next((c for c in self.components if c.component == component), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "reasons": self.reasons,
            "checked_at": self.checked_at.isoformat(),
            "components": {
                c.component: {
                    "state": c.state,
                    **({"reason": c.reason} if c.reason else {}),
                    **({"since": c.since.isoformat()} if c.since else {}),
                    **c.details,
                }
                for c in self.components
            },
        }


def database_check() -> ComponentStatus:
    """The database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Health check: the database does not answer: %s", exc)
        return ComponentStatus(
            "database",
            DOWN,
            f"the database does not answer ({type(exc).__name__}: {_first_line(exc)})",
            details={"vendor": connection.vendor},
        )
    return ComponentStatus("database", OK, details={"vendor": connection.vendor})


_broker_lock = threading.Lock()
_broker_answer: tuple[float, ComponentStatus] | None = None
_broker_down_since: datetime | None = None  # as seen by this process


def broker_check(*, fresh: bool = False) -> ComponentStatus:
    """The Celery broker takes a connection (and, embedded, its folder is there to write to).

    The answer is kept a few seconds unless ``fresh`` is asked for. An unreachable broker
    leaves no row behind, so "since" is the first failed check this process made.
    """
    global _broker_answer, _broker_down_since
    with _broker_lock:
        if (
            not fresh
            and _broker_answer is not None
            and time.monotonic() - _broker_answer[0] < BROKER_ANSWER_KEPT_SECONDS
        ):
            return _broker_answer[1]
    status = _broker_probe()
    with _broker_lock:
        if status.ok:
            _broker_down_since = None
        else:
            _broker_down_since = _broker_down_since or timezone.now()
            status = replace(status, since=_broker_down_since)
        _broker_answer = (time.monotonic(), status)
    return status


def _broker_probe() -> ComponentStatus:
    app = current_app
    try:
        with app.connection_for_write(connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            transport = conn.transport_cls
            # No retries and no sleeping: a probe reports, the worker reconnects by itself.
            conn.ensure_connection(max_retries=0, interval_start=0, timeout=BROKER_TIMEOUT_SECONDS)
            conn.default_channel  # noqa: B018 - opening a channel is what talks to the server
            folder = (conn.transport_options or {}).get("data_folder_in")
    except Exception as exc:  # every transport has its own errors; all mean "not reachable"
        logger.warning("Health check: the broker cannot be reached: %s", exc)
        return ComponentStatus("broker", DOWN, f"the broker cannot be reached ({_first_line(exc)})")
    if folder and not _writable_folder(Path(folder)):
        return ComponentStatus(
            "broker", DOWN, f"the broker's folder {folder} is missing or cannot be written"
        )
    return ComponentStatus("broker", OK, details={"transport": str(transport)})


def _writable_folder(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def heartbeat_check(
    *, role: ProcessRole, limit_seconds: float, rows: Iterable[ProcessHeartbeat], now: datetime
) -> ComponentStatus:
    """Whether at least one process of ``role`` proved it works within ``limit_seconds``."""
    rows = [row for row in rows if row.role == role]
    component = str(role)
    label = role.label.lower()
    limit = f"{limit_seconds:g} s"
    fresh = [row for row in rows if row.is_fresh(limit_seconds=limit_seconds, now=now)]
    listing = {
        "processes": {
            row.name: {
                "started_at": row.started_at.isoformat(),
                "beat_at": row.beat_at.isoformat() if row.beat_at else None,
                "fresh": row in fresh,
            }
            for row in rows
        }
    }
    if fresh:
        last = max(row.beat_at for row in fresh if row.beat_at)
        return ComponentStatus(component, OK, since=last, details=listing)
    if not rows:
        return ComponentStatus(
            component, NEVER, f"no {label} heartbeat has ever been recorded", details=listing
        )
    last_beat = max((row.beat_at for row in rows if row.beat_at), default=None)
    starting = [
        row
        for row in rows
        if (row.beat_at is None or row.started_at > row.beat_at)
        and (now - row.started_at).total_seconds() < limit_seconds
    ]
    if starting:
        names = ", ".join(row.name for row in starting)
        return ComponentStatus(
            component,
            STARTING,
            f"{label} {names} started and has not yet recorded a heartbeat",
            since=last_beat,
            details=listing,
        )
    since = last_beat or min(row.started_at for row in rows)
    silent_for = (now - since).total_seconds()
    return ComponentStatus(
        component,
        SILENT,
        f"no {label} heartbeat for {silent_for:.0f} s (limit {limit})",
        since=since,
        details=listing,
    )


def web_check(*, rows: Iterable[ProcessHeartbeat], now: datetime) -> ComponentStatus:
    """The web servers heard of lately, for the record: one of them answers this check, so
    the web is never the part that is wrong here (the liveness probe watches each)."""
    limit = settings.CT_WORKER_STALL_SECONDS
    recent = {
        row.name: {"started_at": row.started_at.isoformat(), "beat_at": row.beat_at.isoformat()}
        for row in rows
        if row.role == ProcessRole.WEB and row.is_fresh(limit_seconds=limit, now=now)
    }
    return ComponentStatus("web", OK, details={"processes": recent})


def backlog_check(*, now: datetime, limit_seconds: float) -> ComponentStatus:
    """Whether the oldest work ready to run waits less than ``limit_seconds``.

    Ready is received, or a retry that is due; a paused flow's work waits by design and is
    left out. A received row waits since it became received (its last update), a retry
    since it fell due.
    """
    waiting = Transaction.objects.filter(
        Q(state=TransactionState.RECEIVED)
        | Q(state=TransactionState.RETRY_SCHEDULED, next_attempt_at__lte=now),
        flow__paused=False,
    ).aggregate(
        count=Count("id"),
        received=Min("updated_at", filter=Q(state=TransactionState.RECEIVED)),
        due=Min("next_attempt_at", filter=Q(state=TransactionState.RETRY_SCHEDULED)),
    )
    oldest = min((t for t in (waiting["received"], waiting["due"]) if t), default=None)
    details = {"waiting": waiting["count"], "oldest_age_seconds": None}
    if oldest is None:
        return ComponentStatus("backlog", OK, details=details)
    age = max((now - oldest).total_seconds(), 0.0)
    details["oldest_age_seconds"] = round(age, 1)
    if age <= limit_seconds:
        return ComponentStatus("backlog", OK, since=oldest, details=details)
    return ComponentStatus(
        "backlog",
        LATE,
        f"the oldest of {waiting['count']} ready transactions has waited {age:.0f} s "
        f"(limit {limit_seconds:g} s)",
        since=oldest,
        details=details,
    )


def runtime_status(*, now: datetime | None = None, fresh_broker: bool = False) -> RuntimeStatus:
    """Every part of the runtime; what cannot be read because the database is down says so."""
    now = now or timezone.now()
    database = database_check()
    components = [database, broker_check(fresh=fresh_broker)]
    if not database.ok:
        unknown = "unknown while the database does not answer"
        components += [
            ComponentStatus(name, DOWN, f"{name}: {unknown}") for name in ("worker", "beat")
        ]
        return RuntimeStatus(checked_at=now, components=components)
    try:
        rows = list(ProcessHeartbeat.objects.all())
        components += [
            web_check(rows=rows, now=now),
            heartbeat_check(
                role=ProcessRole.WORKER,
                limit_seconds=settings.CT_WORKER_STALL_SECONDS,
                rows=rows,
                now=now,
            ),
            heartbeat_check(
                role=ProcessRole.BEAT,
                limit_seconds=settings.CT_BEAT_STALL_SECONDS,
                rows=rows,
                now=now,
            ),
            backlog_check(now=now, limit_seconds=settings.CT_READY_MAX_WAIT_SECONDS),
        ]
    except DatabaseError as exc:  # it answered a moment ago; it may have gone since
        components[0] = ComponentStatus(
            "database", DOWN, f"the database failed a query ({_first_line(exc)})"
        )
    return RuntimeStatus(checked_at=now, components=components)


def runtime_alerts(*, now: datetime | None = None) -> list[ComponentStatus]:
    """What the overview warns about: the broker, and workers or beat that were heard of and
    fell silent.

    A process that has only just started, or a kind never heard of (a tower whose workers run
    without a supervisor), is for the readiness probe, not the banner. A silent worker's alert
    says how much work waits (``waiting``) and since when (``oldest``).
    """
    now = now or timezone.now()
    rows = list(ProcessHeartbeat.objects.filter(role__in=[ProcessRole.WORKER, ProcessRole.BEAT]))
    checks = [
        broker_check(),
        heartbeat_check(
            role=ProcessRole.WORKER,
            limit_seconds=settings.CT_WORKER_STALL_SECONDS,
            rows=rows,
            now=now,
        ),
        heartbeat_check(
            role=ProcessRole.BEAT, limit_seconds=settings.CT_BEAT_STALL_SECONDS, rows=rows, now=now
        ),
    ]
    alerts = []
    for check in checks:
        if check.state not in (DOWN, SILENT):
            continue
        if check.component == ProcessRole.WORKER:
            backlog = backlog_check(now=now, limit_seconds=settings.CT_READY_MAX_WAIT_SECONDS)
            check = replace(
                check,
                details={
                    **check.details,
                    "waiting": backlog.details["waiting"],
                    "oldest": backlog.since,
                },
            )
        alerts.append(check)
    return alerts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
