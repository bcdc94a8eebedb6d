"""Roll-ups: what each flow did per minute and per hour, kept by the engine as it works.

The engine adds to the row of the current bucket when transactions arrive
(``rollups_received``), when they succeed (``rollups_succeeded``) and when an attempt
fails (``rollups_failed``). Inside ``rollups_batch()`` (a chunk of transactions being
processed) the counts are gathered in memory and written with one upsert when the chunk
is done: the hot path pays one statement per chunk, not one per transaction.

An upsert that adds (``INSERT ... ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n``) is
written as SQL: Django's ``bulk_create(update_conflicts=True)`` can only overwrite a
column with the new value, and an ``F()`` update needs the row to exist first.

The transactions and their attempts stay the source of truth. Counts are written
after the work they count has committed, so a process that dies in between loses
them; ``rollups_rebuild`` recomputes any period from the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from integrations.choices import AttemptOutcome, RollupSpan, TransactionState
from integrations.models import Attempt, FlowRollup, RetentionSweep, Transaction

logger = logging.getLogger(__name__)

SPANS = (RollupSpan.MINUTE, RollupSpan.HOUR)
COUNTERS = (
    "received",
    "succeeded",
    "retried",
    "dead",
    "blocked",
    "recovered",
    "latency_us",
    "ignored",
)
OUTCOME_COUNTER = {
    AttemptOutcome.SUCCEEDED: "succeeded",
    AttemptOutcome.RETRY: "retried",
    AttemptOutcome.DEAD: "dead",
    AttemptOutcome.BLOCKED: "blocked",
}
# Outcomes that stop a transaction until someone or something sends it round again.
STOPS = (AttemptOutcome.DEAD, AttemptOutcome.BLOCKED)
# Minute buckets serve the last hour's chart; hours serve everything longer.
MINUTE_BUCKETS_KEPT = timedelta(days=2)
UPSERT_ROWS = 100  # rows per statement, well under SQLite's limit on parameters

Key = tuple[int, int, datetime]  # flow id, span, bucket start


def bucket_start(at: datetime, span: int) -> datetime:
    """The start (UTC) of the minute or hour that holds ``at``."""
    at = at.astimezone(UTC)
    if span == RollupSpan.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(second=0, microsecond=0)


class RollupCounts:
    """Counts to add, per flow, span and bucket."""

    def __init__(self) -> None:
        self._rows: dict[Key, list[int]] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def add(
        self, *, flow_id: int, at: datetime, spans: tuple[int, ...] = SPANS, **counts: int
    ) -> None:
        for span in spans:
            row = self._rows.setdefault(
                (flow_id, span, bucket_start(at, span)), [0] * len(COUNTERS)
            )
            for name, n in counts.items():
                row[COUNTERS.index(name)] += n

    def rows(self) -> list[tuple[Key, list[int]]]:
        # Always the same order: two writers locking the same rows never deadlock.
        return sorted(self._rows.items())

    def write(self) -> None:
        """Adds the counts to the stored rows in one statement (per 100 rows), then forgets them."""
        rows = self.rows()
        self._rows = {}
        for start in range(0, len(rows), UPSERT_ROWS):
            _upsert(rows[start : start + UPSERT_ROWS])


def _upsert(rows: list[tuple[Key, list[int]]]) -> None:
    qn = connection.ops.quote_name
    table = qn(FlowRollup._meta.db_table)
    columns = ["flow_id", "span", "bucket", *COUNTERS]
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({qn('span')}, {qn('bucket')}, {qn('flow_id')}) DO UPDATE SET "
        + ", ".join(f"{qn(c)} = {table}.{qn(c)} + EXCLUDED.{qn(c)}" for c in COUNTERS)
    )
    params: list[object] = []
    for (flow_id, span, bucket), values in rows:
        params += [flow_id, span, connection.ops.adapt_datetimefield_value(bucket), *values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


_batch: ContextVar[RollupCounts | None] = ContextVar("rollups_batch", default=None)


@contextmanager
def rollups_batch() -> Iterator[RollupCounts]:
    """Gathers the counts recorded inside and writes them once, on the way out."""
    counts = RollupCounts()
    token = _batch.set(counts)
    try:
        yield counts
    finally:
        _batch.reset(token)
        _write(counts)


@contextmanager
def _recording() -> Iterator[RollupCounts]:
    """The current batch to add to; outside one, counts of their own, written on the way out."""
    batch = _batch.get()
    if batch is not None:
        yield batch
        return
    counts = RollupCounts()
    yield counts
    _write(counts)


def _write(counts: RollupCounts) -> None:
    """Writes the counts; a failure is logged, never raised: the work they count is done."""
    if not counts:
        return
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failure leaves the caller's work alone
                counts.write()
        else:
            counts.write()  # one statement in autocommit: no transaction to open around it
    except DatabaseError:
        logger.exception("Roll-up counts were not written; rollups_rebuild repairs them.")


def rollups_received(*, transactions: Iterable[Transaction]) -> None:
    """Counts transactions that arrived, in the bucket of their ``received_at``: as received,
    or as ignored when a rule ignored them."""
    with _recording() as counts:
        for tx in transactions:
            if tx.flow_id is None:  # refused at the door before its flow was known
                continue
            if tx.state == TransactionState.IGNORED:
                counts.add(flow_id=tx.flow_id, at=tx.received_at, ignored=1)
            else:
                counts.add(flow_id=tx.flow_id, at=tx.received_at, received=1)


def rollups_failed(*, tx: Transaction, outcome: AttemptOutcome, started_at: datetime) -> None:
    """Counts one failed attempt's outcome in the bucket of its start (as its Attempt row says)."""
    with _recording() as counts:
        counts.add(flow_id=tx.flow_id, at=started_at, **{OUTCOME_COUNTER[outcome]: 1})


def rollups_succeeded(
    *, transactions: list[Transaction], started_at: datetime, finished_at: datetime
) -> None:
    """Counts transactions that succeeded, with their received-to-succeeded time.

    A transaction that a rule or the retry limit had stopped before, and that a fix or
    a person sent round again, also counts its earlier stops as ``recovered``: they no
    longer stand. Only such a re-run (``retry_round_start`` set) costs a query.
    """
    rerun = [tx.pk for tx in transactions if tx.retry_round_start]
    stops = dict(
        Attempt.objects.filter(transaction_id__in=rerun, outcome__in=STOPS)
        .values_list("transaction_id")
        .annotate(n=Count("*"))
        .order_by()
        if rerun
        else ()
    )
    with _recording() as counts:
        for tx in transactions:
            counts.add(
                flow_id=tx.flow_id,
                at=started_at,
                succeeded=1,
                recovered=stops.get(tx.pk, 0),
                latency_us=(finished_at - tx.received_at) // timedelta(microseconds=1),
            )


def rollups_rebuild(*, since: datetime, until: datetime | None = None) -> int:
    """Recomputes the roll-ups from the hour that holds ``since`` up to ``until`` (an hour's
    start; now if None); returns rows written.

    Arrivals are counted from the transactions, outcomes from their attempts; hour
    buckets for the whole period, minute buckets only for the minutes still kept.
    Hours before the retention's floor (``rollups_floor``) are left as they are: their
    rows are gone, their counts live only in the roll-ups.
    Counts that running workers write while this runs may be counted twice or not at
    all for the current minute; rebuild a past period, or again when it is quiet.
    """
    start = bucket_start(since, RollupSpan.HOUR)
    floor = rollups_floor()
    if floor is not None:
        start = max(start, floor)
    end = until or timezone.now() + timedelta(hours=1)
    minutes_from = max(start, bucket_start(timezone.now() - MINUTE_BUCKETS_KEPT, RollupSpan.HOUR))
    counts = RollupCounts()
    for span, trunc, first in (
        (RollupSpan.HOUR, TruncHour, start),
        (RollupSpan.MINUTE, TruncMinute, minutes_from),
    ):
        if first < end:
            _recount(counts, span=span, trunc=trunc, since=first, until=end)
    rows = [
        FlowRollup(
            flow_id=flow_id, span=span, bucket=bucket, **dict(zip(COUNTERS, values, strict=True))
        )
        for (flow_id, span, bucket), values in counts.rows()
    ]
    with transaction.atomic():
        FlowRollup.objects.filter(bucket__gte=start, bucket__lt=end).delete()
        FlowRollup.objects.bulk_create(rows, batch_size=2_000)
    return len(rows)


def rollups_floor() -> datetime | None:
    """The hour before which the retention removed transactions (None: nothing removed):
    the roll-ups before it are the only count left and are never recounted."""
    return RetentionSweep.objects.aggregate(floor=Max("cutoff"))["floor"]


def _recount(counts: RollupCounts, *, span: int, trunc, since: datetime, until: datetime) -> None:
    """Adds to ``counts`` the buckets of one span from ``since`` to ``until``, counted in the
    database."""
    arrivals = (
        Transaction.objects.filter(
            received_at__gte=since, received_at__lt=until, flow__isnull=False
        )
        .annotate(bucket=trunc("received_at", tzinfo=UTC))
        .values_list("flow_id", "bucket", "state")
        .annotate(n=Count("*"))
        .order_by()
    )
    for flow_id, bucket, state, n in arrivals:
        counter = "ignored" if state == TransactionState.IGNORED else "received"
        counts.add(flow_id=flow_id, at=bucket, spans=(span,), **{counter: n})
    latency = ExpressionWrapper(
        F("transaction__finished_at") - F("transaction__received_at"), output_field=DurationField()
    )
    outcomes = (
        Attempt.objects.filter(
            started_at__gte=since, started_at__lt=until, transaction__flow__isnull=False
        )
        .annotate(bucket=trunc("started_at", tzinfo=UTC))
        .values_list("transaction__flow_id", "bucket", "outcome")
        .annotate(n=Count("*"), latency=Sum(latency, filter=Q(outcome=AttemptOutcome.SUCCEEDED)))
        .order_by()
    )
    for flow_id, bucket, outcome, n, total in outcomes:
        extra = {"latency_us": total // timedelta(microseconds=1)} if total else {}
        counts.add(
            flow_id=flow_id, at=bucket, spans=(span,), **{OUTCOME_COUNTER[outcome]: n}, **extra
        )
    # A success counts the stops of its transaction's earlier rounds as recovered.
    earlier_stops = (
        Attempt.objects.filter(
            transaction_id=OuterRef("transaction_id"),
            number__lt=OuterRef("number"),
            outcome__in=STOPS,
        )
        .values("transaction_id")
        .annotate(n=Count("*"))
        .values("n")
    )
    recoveries = (
        Attempt.objects.filter(
            started_at__gte=since,
            started_at__lt=until,
            outcome=AttemptOutcome.SUCCEEDED,
            number__gt=1,
            transaction__flow__isnull=False,
        )
        .annotate(bucket=trunc("started_at", tzinfo=UTC), stops=Subquery(earlier_stops))
        .filter(stops__gt=0)
        .values_list("transaction__flow_id", "bucket")
        .annotate(n=Sum("stops"))
        .order_by()
    )
    for flow_id, bucket, n in recoveries:
        counts.add(flow_id=flow_id, at=bucket, spans=(span,), recovered=n)


def rollups_prune(*, now: datetime | None = None) -> int:
    """Deletes minute buckets older than the overview reads; hours are kept."""
    before = (now or timezone.now()) - MINUTE_BUCKETS_KEPT
    deleted, _ = FlowRollup.objects.filter(span=RollupSpan.MINUTE, bucket__lt=before).delete()
    return deleted
