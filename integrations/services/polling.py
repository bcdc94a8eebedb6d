"""Running pollers: incremental pulls from systems that send no webhooks.

A run claims its poller with a conditional update (one run at a time; a claim older than
``CT_POLLER_CLAIM_SECONDS`` is a dead run's and may be taken over), reads every page
changed since the cursor minus the overlap window, and stores each page's records
through the webhook's own door before it asks for the next. The PSA lists changed records
by id, not by change, so a page does not bound the changes still to come: the cursor
moves to the latest change read only once the last page is stored, and a run that fails
leaves it where it was, with the error, to read the same records again (as duplicates)
next time.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from canonical.errors import ApplicationError, ConflictError
from integrations.adapters import EventRejected, InboundEvent
from integrations.choices import PollerRunOutcome
from integrations.errors import IntegrationError
from integrations.models import Poller
from integrations.pollers import source_for
from integrations.services.inbound import events_store, transaction_reject

logger = logging.getLogger(__name__)


@dataclass
class PollRun:
    """What one run did."""

    poller_id: int
    ok: bool
    received: int = 0
    stored: int = 0
    refused: int = 0
    pages: int = 0
    cursor: datetime | None = None
    error: str = ""


def poller_claim(*, poller_id: int, now: datetime | None = None) -> datetime | None:
    """Takes the poller for one run; None when another run holds it."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.CT_POLLER_CLAIM_SECONDS)
    taken = (
        Poller.objects.filter(pk=poller_id)
        .filter(Q(running_since__isnull=True) | Q(running_since__lt=stale))
        .update(
            running_since=now,
            last_started_at=now,
            last_outcome=PollerRunOutcome.RUNNING,
            updated_at=now,
        )
    )
    return now if taken else None


def poller_run(*, poller_id: int) -> PollRun | None:
    """Runs one poll now; None when another run of the same poller is under way."""
    claimed_at = poller_claim(poller_id=poller_id)
    if claimed_at is None:
        return None
    poller = Poller.objects.select_related("system").get(pk=poller_id)
    run = PollRun(poller_id=poller.pk, ok=False, cursor=poller.cursor)
    try:
        _pages_read(poller, run)
    except (IntegrationError, ApplicationError, LookupError) as exc:
        run.error = str(exc)
    except Exception as exc:  # the claim must be let go whatever went wrong
        logger.exception("Poller %s failed", poller.pk)
        run.error = f"{type(exc).__name__}: {exc}"
    else:
        run.ok = True
    finished = timezone.now()
    outcome = {
        "running_since": None,
        "last_finished_at": finished,
        "last_outcome": PollerRunOutcome.OK if run.ok else PollerRunOutcome.FAILED,
        "last_error": run.error,
        "last_received": run.received,
        "last_stored": run.stored,
        "last_pages": run.pages,
        "updated_at": finished,
    }
    if run.ok:
        outcome["cursor"] = run.cursor
    # Only the run that holds the claim writes its outcome (a run that outlived its claim
    # lost it to another one).
    Poller.objects.filter(pk=poller.pk, running_since=claimed_at).update(**outcome)
    return run


def _pages_read(poller: Poller, run: PollRun) -> None:
    if not poller.system.enabled:
        # As its webhooks are refused: nothing is read from a disabled system.
        raise ConflictError(f"System {poller.system.slug!r} is disabled; nothing was read.")
    source = source_for(poller)
    since = poller.cursor - timedelta(seconds=poller.overlap_seconds) if poller.cursor else None
    offset = 0
    while True:
        page = source.page(poller.system, since=since, offset=offset, limit=poller.page_size)
        run.pages += 1
        events: list[InboundEvent] = []
        for record in page.records:
            try:
                changed_at = source.changed_at(record)
                events.append(source.event(record))
            except (EventRejected, ValueError) as exc:
                _refuse(poller, record, exc)
                run.refused += 1
                continue
            if run.cursor is None or changed_at > run.cursor:
                run.cursor = changed_at
        if events:
            run.stored += len(events_store(system=poller.system, events=events).accepted)
        run.received += len(page.records)
        if not page.has_more or not page.records:
            return
        offset += len(page.records)


def _refuse(poller: Poller, record: dict, exc: Exception) -> None:
    """A record that does not fit is kept as a refused transaction, like a refused webhook,
    and the run goes on with the others."""
    rejection = (
        exc
        if isinstance(exc, EventRejected)
        else EventRejected(str(exc), errors={"updated_at": [str(exc)]})
    )
    transaction_reject(
        system=poller.system,
        body=json.dumps(record, default=str).encode(),
        rejection=rejection,
    )


def pollers_run_due(*, now: datetime | None = None) -> list[PollRun]:
    """Runs every enabled poller whose interval has passed since its last start."""
    now = now or timezone.now()
    due = [
        poller.pk
        for poller in Poller.objects.filter(enabled=True, system__enabled=True)
        if poller.is_due(now)
    ]
    return [run for poller_id in due if (run := poller_run(poller_id=poller_id)) is not None]
