"""The health probes, liveness (``/healthz``) and readiness (``/readyz``), and the overview's
banner about the runtime.

The probes answer JSON, always: 200 when fine, 503 with ``status`` and ``reasons`` when not,
also when the database is down. The checks are the engine's
(``integrations.selectors.runtime``); this module only words them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from controltower.web.templatetags.tower import duration, thousands
from integrations.choices import ProcessRole
from integrations.selectors.health import SystemHealth, breakers_open
from integrations.selectors.runtime import (
    ComponentStatus,
    database_check,
    runtime_alerts,
    runtime_status,
)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: this web server answers and reaches its database. Restart it when not."""
    database = database_check()
    body: dict[str, object] = {"status": "ok" if database.ok else "down"}
    body["database"] = database.details.get("vendor", "")
    if not database.ok:
        body["reasons"] = [database.reason]
    return _json(body, ok=database.ok)


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness of the tower as a whole: the database and the broker answer, a worker and
    beat have recorded a heartbeat within their limits, and no ready work waits too long."""
    status = runtime_status(fresh_broker=True)
    return _json(status.as_json(), ok=status.ready)


def _json(body: dict[str, object], *, ok: bool) -> JsonResponse:
    response = JsonResponse(body, status=200 if ok else 503)
    if not ok:
        response["Retry-After"] = str(settings.CT_UNAVAILABLE_RETRY_AFTER_SECONDS)
    add_never_cache_headers(response)
    return response


@dataclass(frozen=True)
class RuntimeNotice:
    """One part of the tower that does not do its work, in words for the overview's banner.

    ``headline`` says what stopped, since when and what it means for the business;
    ``operator_hint`` is for those who can act on the runtime, ``reader_hint`` for everyone
    else.
    """

    component: str
    headline: str
    operator_hint: str
    reader_hint: str


def runtime_notices(*, now: datetime | None = None) -> list[RuntimeNotice]:
    """The banner's lines: each dead or silent part, each system the tower stopped calling,
    since when, and what to do."""
    now = now or timezone.now()
    return [
        *(_notice(alert, now) for alert in runtime_alerts(now=now)),
        *(_breaker_notice(item, now) for item in breakers_open()),
    ]


def _breaker_notice(item: SystemHealth, now: datetime) -> RuntimeNotice:
    breaker = item.breaker
    assert breaker is not None
    waiting = (
        f"{thousands(item.waiting)} transaction{'' if item.waiting == 1 else 's'} wait for it"
        if item.waiting
        else "work that needs it waits"
    )
    if breaker.manual:
        return RuntimeNotice(
            f"breaker-{item.system.slug}",
            f"The tower is not calling {item.system.name}: its breaker was opened by hand at "
            f"{_since(breaker.opened_at, now)}; {waiting}.",
            "Close its breaker on the Systems page when it may be called again; what waited "
            "goes out first, in order.",
            "Nothing is lost: the work waits and goes out when the system is called again.",
        )
    return RuntimeNotice(
        f"breaker-{item.system.slug}",
        f"{item.system.name} is not answering: the tower stopped calling it at "
        f"{_since(breaker.opened_at, now)}, after {breaker.failures} failed calls; {waiting}.",
        "It tries again by itself now and then and sends the waiting work, in order, once "
        f"{item.system.name} answers. Last error: {breaker.last_error or 'none recorded'}.",
        "Nothing is lost and nothing is counted as failed: the work waits and goes out by "
        "itself when the system is back.",
    )


def _notice(alert: ComponentStatus, now: datetime) -> RuntimeNotice:
    since = _since(alert.since, now)
    if alert.component == ProcessRole.WORKER:
        waiting = alert.details.get("waiting") or 0
        wait = (
            f"{thousands(waiting)} transaction{'' if waiting == 1 else 's'} wait"
            if waiting
            else "new work waits"
        )
        return RuntimeNotice(
            "worker",
            f"No worker has done any work since {since}: {wait}.",
            "Nothing is lost: the work is stored and runs when a worker is back. The worker's "
            "supervisor (manage.py run_worker) replaces a stuck worker by itself; if this "
            "lasts, check that the supervisor runs and read its log.",
            "Nothing is lost: the work is stored and runs when a worker is back. Tell "
            "integration operations if this lasts more than a few minutes.",
        )
    if alert.component == ProcessRole.BEAT:
        return RuntimeNotice(
            "beat",
            f"The scheduler has been silent since {since}: retries that fall due, SLA checks, "
            "invoice polling and the re-sending of work a worker lost wait.",
            "Check that beat runs (manage.py run_beat starts it again when it exits) and "
            "read its log; work already sent to the workers goes on.",
            "Work already under way goes on. Tell integration operations if this lasts more "
            "than a few minutes.",
        )
    return RuntimeNotice(
        alert.component,
        f"The message broker cannot be reached (seen since {since}): new work is stored "
        "but not started.",
        "Check Redis (REDIS_URL) or, embedded, the broker folder (CT_BROKER_DIR); workers "
        "and beat reconnect by themselves.",
        "Events are still received and stored. Tell integration operations if this lasts "
        "more than a few minutes.",
    )


def _since(moment: datetime | None, now: datetime) -> str:
    """ "14:02 (6 min)", with the day when it is not today, in the reader's time zone."""
    if moment is None:
        return "the tower started"
    local, today = timezone.localtime(moment), timezone.localtime(now)
    clock = (
        local.strftime("%H:%M")
        if local.date() == today.date()
        else local.strftime("%a %d %b %H:%M")
    )
    # Whole minutes, so that the banner (and the live partial's version) changes once a minute.
    minutes = int(max((now - moment).total_seconds(), 0) // 60)
    ago = duration(minutes * 60) if minutes else "under a minute"
    return f"{clock} ({ago})"
