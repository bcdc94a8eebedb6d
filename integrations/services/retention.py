"""Retention: finished transactions older than ``CT_RETENTION_DAYS`` leave the hot tables.

A million transactions a year is a table the pages must not grow with. Beat runs
``transactions_retention`` every ``CT_RETENTION_SECONDS``:

1. The cutoff is the start of the hour ``CT_RETENTION_DAYS`` ago. The hours from the last
   run's cutoff (the first time: the oldest transaction) up to it are recounted from the
   rows into the roll-ups (``rollups_rebuild``), so that the roll-ups hold every count of
   what is about to go; the run's row then makes that cutoff the roll-ups' floor, before
   which they are never recounted again (the rows are gone; the counts stay).
2. Removable transactions are taken oldest id first, ``CT_RETENTION_BATCH`` at a time, at
   most ``CT_RETENTION_BATCHES`` batches a run: each batch is written to the archive
   (JSON Lines, one gzip file per day received, under ``CT_RETENTION_ARCHIVE_DIR``) and
   then deleted with its attempts in one short database transaction, so no statement
   holds many rows and the pages do not wait. A run that reaches its limit says so
   (``more``) and the next one goes on.

Removable: finished (succeeded, replaced, cancelled, ignored, refused), received and
finished before the cutoff, and nothing still needs it: not held by an open exception,
not the parent, replay or wait of unfinished work, not a record's last sync event, and
not named after an invoice not yet posted or a time entry not yet on a posted invoice.
Open work is never removed, however old.

Archived, not only deleted: an auditor asked about a transaction of three years ago gets
its payload and attempts from the archive, while the hot tables hold only the retention
period. After a crash between the archive write and the commit, a batch may be written
twice; its lines carry their ids.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice, TimeEntry
from integrations.choices import OPEN_STATUSES, RollupSpan, TransactionState
from integrations.models import Attempt, RetentionSweep, SyncState, Transaction
from integrations.services.rollups import bucket_start, rollups_floor, rollups_rebuild

logger = logging.getLogger(__name__)

# States no one and nothing moves a transaction out of again.
FINISHED_STATES = (
    TransactionState.SUCCEEDED,
    TransactionState.REPLACED,
    TransactionState.CANCELLED,
    TransactionState.IGNORED,
    TransactionState.REJECTED,
)
POSTED_STATUSES = (InvoiceStatus.POSTED, InvoiceStatus.PAID, InvoiceStatus.REJECTED)


def retention_cutoff(*, now: datetime | None = None) -> datetime | None:
    """The start of the hour ``CT_RETENTION_DAYS`` ago (None: retention is off)."""
    days = settings.CT_RETENTION_DAYS
    if not days:
        return None
    return bucket_start((now or timezone.now()) - timedelta(days=days), RollupSpan.HOUR)


def transactions_removable(*, cutoff: datetime) -> QuerySet[Transaction]:
    """The transactions the retention may remove at ``cutoff``: finished before it, and
    nothing open needs them."""
    unfinished = Transaction.objects.exclude(state__in=FINISHED_STATES)
    needed_by_work = (
        Q(pk__in=unfinished.filter(parent__isnull=False).values("parent_id"))
        | Q(pk__in=unfinished.filter(replaced_by__isnull=False).values("replaced_by_id"))
        | Q(pk__in=unfinished.filter(waiting_for__isnull=False).values("waiting_for_id"))
    )
    last_synced = SyncState.objects.filter(last_transaction__isnull=False).values(
        "last_transaction_id"
    )
    unposted_invoices = Invoice.objects.exclude(status__in=POSTED_STATUSES).values("number")
    unbilled_time = TimeEntry.objects.exclude(invoice__status__in=POSTED_STATUSES).values("number")
    return (
        Transaction.objects.filter(
            state__in=FINISHED_STATES, received_at__lt=cutoff, finished_at__lt=cutoff
        )
        .exclude(exception__status__in=OPEN_STATUSES)
        .exclude(needed_by_work)
        .exclude(pk__in=last_synced)
        .exclude(business_key__in=unposted_invoices)
        .exclude(business_key__in=unbilled_time)
    )


def transactions_retention(*, now: datetime | None = None) -> RetentionSweep | None:
    """Recounts the roll-ups up to the cutoff, then archives and deletes the removable
    transactions in bounded batches; returns the run's record (None: retention is off)."""
    cutoff = retention_cutoff(now=now)
    if cutoff is None:
        return None
    floor = rollups_floor()
    if floor is None or floor < cutoff:
        oldest = Transaction.objects.aggregate(oldest=Min("received_at"))["oldest"]
        since = floor or oldest
        if since is not None and since < cutoff:
            rollups_rebuild(since=since, until=cutoff)
    sweep = RetentionSweep.objects.create(
        cutoff=cutoff,
        started_at=timezone.now(),
        archive_dir=str(settings.CT_RETENTION_ARCHIVE_DIR),
    )
    removable = transactions_removable(cutoff=sweep.cutoff)
    batch = max(1, settings.CT_RETENTION_BATCH)
    last = 0
    for _ in range(max(1, settings.CT_RETENTION_BATCHES)):
        ids = list(
            removable.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        last = ids[-1]
        removed, attempts = _remove(removable, ids)
        if removed:
            sweep.first_id = min(sweep.first_id or ids[0], ids[0])
            sweep.last_id = last
        sweep.removed += removed
        sweep.attempts_removed += attempts
        sweep.batches += 1
    else:
        sweep.more = removable.filter(pk__gt=last).exists()
    sweep.finished_at = timezone.now()
    sweep.save()
    if sweep.removed:
        logger.info(
            "Retention removed %s transactions received before %s (%s attempts).",
            sweep.removed,
            sweep.cutoff.isoformat(),
            sweep.attempts_removed,
        )
    return sweep


def _remove(removable: QuerySet[Transaction], ids: list[int]) -> tuple[int, int]:
    """Archives and deletes one batch; returns (transactions, attempts) removed."""
    with transaction.atomic():
        # Locked and judged again: a transaction replayed or re-linked since it was picked stays.
        ids = list(
            removable.filter(pk__in=ids)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        if not ids:
            return 0, 0
        rows = list(Transaction.objects.filter(pk__in=ids).order_by("pk").values())
        attempts: dict[int, list[dict]] = defaultdict(list)
        for attempt in Attempt.objects.filter(transaction_id__in=ids).order_by("pk").values():
            attempts[attempt["transaction_id"]].append(attempt)
        _archive(rows, attempts)
        _, deleted = Transaction.objects.filter(pk__in=ids).delete()
    return deleted.get(Transaction._meta.label, 0), deleted.get(Attempt._meta.label, 0)


def _archive(rows: list[dict], attempts: dict[int, list[dict]]) -> None:
    """Appends each transaction, with its attempts, to the file of the day it was received."""
    folder = Path(settings.CT_RETENTION_ARCHIVE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        line = json.dumps({**row, "attempts": attempts.get(row["id"], [])}, cls=DjangoJSONEncoder)
        by_day[row["received_at"].date().isoformat()].append(line)
    for day, lines in by_day.items():
        with gzip.open(folder / f"transactions-{day}.jsonl.gz", "at", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
