"""Claiming and running transactions.

The database is the source of truth. A task gets ids; it claims those still ready
(``select_for_update(skip_locked=True)`` on PostgreSQL, a conditional update in
one write transaction elsewhere), runs each through its flow's handler, writes an
Attempt, and moves the row on. The final state update is conditional on the
claim still being ours, in the same database transaction as the flow's effect,
so a claim taken back from a vanished worker can never be applied twice.

Work a batch handler applies set-based needs no claim: it is locked, applied and moved to
its final state in the one database transaction that claims the rest of the chunk.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from canonical.errors import RuleViolation
from integrations.choices import AttemptOutcome, ErrorClass, TransactionState
from integrations.clients.transport import calls_var
from integrations.correlation import correlation_id_var
from integrations.errors import IntegrationError
from integrations.exception_types import UnknownExceptionCode
from integrations.flows.registry import batch_handler_for, domain_of, handler_for, runs_atomically
from integrations.live import figures_changed
from integrations.models import Attempt, Flow, Transaction
from integrations.services.breakers import breakers_probe_due
from integrations.services.enrichment import transaction_enrich
from integrations.services.exceptions import exception_raise
from integrations.services.mappings import transaction_remap
from integrations.services.matching import references_match
from integrations.services.ownership import owner_of, ownership_check
from integrations.services.queueing import transactions_enqueue
from integrations.services.replays import replays_settle
from integrations.services.rollups import (
    rollups_batch,
    rollups_failed,
    rollups_succeeded,
)
from integrations.signals import transactions_processed

logger = logging.getLogger(__name__)

WORKER = socket.gethostname()


def backoff_delay(
    *,
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): exponential, full jitter.

    A ``Retry-After`` from the other system is a floor: never call back sooner.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    delay = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def ready_q(now: datetime) -> Q:
    return Q(state=TransactionState.RECEIVED) | Q(
        state=TransactionState.RETRY_SCHEDULED, next_attempt_at__lte=now
    )


def transactions_claim(*, ids: list[int], token: str | None = None) -> list[Transaction]:
    """Claims the given transactions that are still ready, under one claim ``token``.

    The claim's lease (``claimed_at``) is renewed while the work runs
    (``ClaimLease``); a claim whose lease ran out belongs to a worker that is gone.
    """
    token = token or uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        claimed = _ready_locked(ids, now)
        _claim(claimed, token=token, now=now)
    return claimed


def _ready_locked(ids: list[int], now: datetime) -> list[Transaction]:
    """The given transactions still ready, locked until the database transaction ends."""
    # The rows are found by primary key only and judged ready here, not in SQL: a state
    # condition lets the planner scan the (state, ...) indexes through every row received
    # since the last ANALYZE (thousands during a burst) instead of probing the ids.
    rows = (
        Transaction.objects.filter(pk__in=ids)
        .select_related("flow", "source_system")
        .order_by("pk")
    )
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    # On SQLite the write lock is taken when the transaction begins (IMMEDIATE): this
    # read and the update after it cannot interleave with another claim either.
    return [tx for tx in rows if _is_ready(tx, now)]


def _claim(txs: list[Transaction], *, token: str, now: datetime) -> None:
    if not txs:
        return
    Transaction.objects.filter(pk__in=[tx.pk for tx in txs]).update(
        state=TransactionState.PROCESSING, claimed_at=now, claim_token=token, updated_at=now
    )
    for tx in txs:
        tx.state, tx.claimed_at, tx.claim_token, tx.updated_at = (
            TransactionState.PROCESSING,
            now,
            token,
            now,
        )


def _is_ready(tx: Transaction, now: datetime) -> bool:
    """``ready_q`` for a row in hand (and its flow not paused)."""
    if tx.flow is None or tx.flow.paused:
        return False
    if tx.state == TransactionState.RECEIVED:
        return True
    return (
        tx.state == TransactionState.RETRY_SCHEDULED
        and tx.next_attempt_at is not None
        and tx.next_attempt_at <= now
    )


class ClaimLease:
    """Keeps a claim's lease fresh while its worker runs the claimed work.

    A thread renews ``claimed_at`` of the rows still held under ``token`` every
    ``CT_LEASE_RENEW_SECONDS``, so a slow chunk (a slow downstream system) is never taken
    back from a worker that lives, and the sweep takes back the work of one that died
    within a lease (``CT_PROCESSING_LEASE_SECONDS``).
    """

    def __init__(self, token: str) -> None:
        self.token = token
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{token[:8]}", daemon=True)

    def __enter__(self) -> ClaimLease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.CT_LEASE_RENEW_SECONDS):
                try:
                    claims_renew(token=self.token)
                except DatabaseError:  # a renewal missed is made good by the next one
                    logger.warning("Could not renew the lease of claim %s.", self.token)
        finally:
            connections.close_all()  # this thread's own connections


def claims_renew(*, token: str) -> int:
    """Renews the lease of the rows still held under ``token``; returns how many."""
    now = timezone.now()
    return Transaction.objects.filter(state=TransactionState.PROCESSING, claim_token=token).update(
        claimed_at=now
    )


@dataclass
class ProcessSummary:
    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    dead: int = 0
    blocked: int = 0
    lost_claim: int = 0


def transactions_process(*, ids: list[int]) -> ProcessSummary:
    """Claims and runs the given transactions, oldest first.

    Transactions whose event type has a batch handler are applied together (set-based) in
    the database transaction that locks the chunk and claims the rest; the ones a batch
    leaves run one by one. When that fails, the chunk is claimed as a whole, its batches
    tried again, and what they still leave, or all when they fail, runs one by one.
    """
    # Roll-up counts of the whole chunk are written in one statement when it is done.
    with rollups_batch():
        summary = _process(ids)
    if summary.claimed:  # one "figures changed" per chunk, throttled, for the live pages
        figures_changed()
        transactions_processed.send(sender=None, ids=ids)
    return summary


def _process(ids: list[int]) -> ProcessSummary:
    summary = ProcessSummary()
    token = uuid.uuid4().hex
    try:
        claimed = _claim_and_apply(ids, token=token, summary=summary)
    except Exception:
        # Nothing of it was kept: claimed as a whole, its batches are tried again (a
        # conflict with a concurrent chunk) before their transactions go one by one.
        logger.info(
            "Chunk of %s could not be applied as claimed; claiming it.", len(ids), exc_info=True
        )
        summary = ProcessSummary()
        claimed = transactions_claim(ids=ids, token=token)
        summary.claimed = len(claimed)
        if claimed:
            with ClaimLease(token):
                _process_claimed(claimed, summary)
        return summary
    if claimed:
        with ClaimLease(token):
            _one_by_one(claimed, summary)
    return summary


def _claim_and_apply(ids: list[int], *, token: str, summary: ProcessSummary) -> list[Transaction]:
    """Locks the ready transactions, applies those of a batch handler and claims the rest
    under ``token``, in one database transaction; returns the claimed rest.

    Applied set-based, a transaction goes from ready to final in one write: its row lock,
    not a claim, keeps other workers off it, and a worker that dies leaves it ready.
    """
    now = timezone.now()
    runs: list[_BatchRun] = []
    with transaction.atomic():
        ready = _ready_locked(ids, now)
        summary.claimed = len(ready)
        batches, rest = _split(ready)
        for batch, txs in batches:
            # Locked here, not claimed: still ready as it was read.
            run = _batch_run(batch, txs, still_ours=ready_q(now))
            runs.append(run)
            rest.extend(run.left)
        _claim(rest, token=token, now=now)
    for run in runs:
        run.roll_up()
        summary.succeeded += len(run.done)
    return rest


def _split(
    claimed: list[Transaction],
) -> tuple[list[tuple[object, list[Transaction]]], list[Transaction]]:
    """The transactions a batch handler takes, by handler, and those that go one by one."""
    by_type: dict[str, list[Transaction]] = defaultdict(list)
    for tx in claimed:
        by_type[tx.event_type].append(tx)
    batches: list[tuple[object, list[Transaction]]] = []
    one_by_one: list[Transaction] = []
    for event_type, txs in by_type.items():
        batch = batch_handler_for(event_type)
        if batch is not None and (domain := domain_of(event_type)):
            # A sender that does not own the data goes the one-by-one way, which refuses it.
            owner = owner_of(domain)
            foreign = [tx for tx in txs if owner is not None and tx.source_system_id != owner]
            one_by_one.extend(foreign)
            txs = [tx for tx in txs if tx not in foreign]
        # One the mapping could not read is mapped again on its own (it may be parked), and
        # a thin one reads its record first: both go one by one.
        one_by_one.extend(tx for tx in txs if tx.errors or tx.fetch)
        txs = [tx for tx in txs if not (tx.errors or tx.fetch)]
        if batch is None or len(txs) < 2:
            one_by_one.extend(txs)
        else:
            batches.append((batch, txs))
    return batches, one_by_one


def _process_claimed(claimed: list[Transaction], summary: ProcessSummary) -> None:
    batches, one_by_one = _split(claimed)
    for batch, txs in batches:
        done, left = _run_batch(batch, txs)
        summary.succeeded += done
        one_by_one.extend(left)
    _one_by_one(one_by_one, summary)


def _one_by_one(claimed: list[Transaction], summary: ProcessSummary) -> None:
    for tx in sorted(claimed, key=lambda t: t.pk):
        state = transaction_run(tx)
        if state is None:
            summary.lost_claim += 1
        elif state == TransactionState.SUCCEEDED:
            summary.succeeded += 1
        elif state == TransactionState.RETRY_SCHEDULED:
            summary.retried += 1
        elif state == TransactionState.DEAD:
            summary.dead += 1
        elif state == TransactionState.BLOCKED:
            summary.blocked += 1


def _run_batch(batch, txs: list[Transaction]) -> tuple[int, list[Transaction]]:
    """Applies claimed ``txs`` with a batch handler; returns how many succeeded and the ones
    left. When it fails, nothing of it is kept and they are all left to one by one."""
    # What the handler sets on the rows in hand (a correlation id) is rolled back with the
    # database, so that one by one writes it again.
    as_claimed = [dict(vars(tx)) for tx in txs]
    try:
        return _batch_apply(batch, txs)
    except Exception:
        for tx, was in zip(txs, as_claimed, strict=True):
            vars(tx).clear()
            vars(tx).update(was)
        logger.info(
            "Batch of %s %s fell back to one by one.", len(txs), txs[0].event_type, exc_info=True
        )
        return 0, txs


def _batch_apply(batch, txs: list[Transaction]) -> tuple[int, list[Transaction]]:
    with transaction.atomic():
        run = _batch_run(
            batch,
            txs,
            still_ours=Q(
                state=TransactionState.PROCESSING,
                claim_token__in={tx.claim_token for tx in txs},
            ),
        )
    run.roll_up()
    return len(run.done), run.left


@dataclass
class _BatchRun:
    """What one batch handler applied (moved to succeeded), what it left, and when."""

    done: list[Transaction]
    left: list[Transaction]
    started_at: datetime
    finished_at: datetime

    def roll_up(self) -> None:
        """Into the roll-ups, once the database transaction that applied them committed."""
        rollups_succeeded(
            transactions=self.done, started_at=self.started_at, finished_at=self.finished_at
        )


def _batch_run(batch, txs: list[Transaction], *, still_ours: Q) -> _BatchRun:
    """Runs a batch handler over ``txs`` in the caller's database transaction and moves
    those it applied (still ``still_ours``) to succeeded, each with its outcome and an
    attempt."""
    started_at, clock = timezone.now(), time.perf_counter()
    outcomes, left = batch(txs)
    finished_at = timezone.now()
    done = [tx for tx in txs if tx.pk in outcomes]
    by_outcome: dict[str, list[Transaction]] = defaultdict(list)
    for tx in done:
        by_outcome[outcomes[tx.pk]].append(tx)
    for outcome, group in by_outcome.items():
        updated = Transaction.objects.filter(still_ours, pk__in=[tx.pk for tx in group]).update(
            **_succeeded_columns(outcome, finished_at)
        )
        if updated != len(group):
            raise ClaimLost
    replays_settle(replays=[tx for tx in done if tx.parent_id])
    duration = int((time.perf_counter() - clock) * 1000)
    Attempt.objects.bulk_create(
        Attempt(
            transaction_id=tx.pk,
            number=tx.attempts_count + 1,
            started_at=started_at,
            duration_ms=duration,
            outcome=AttemptOutcome.SUCCEEDED,
            worker=WORKER,
        )
        for tx in done
    )
    return _BatchRun(done=done, left=left, started_at=started_at, finished_at=finished_at)


def _succeeded_columns(outcome: str, finished_at: datetime) -> dict[str, object]:
    """The columns of a transaction that succeeded with ``outcome``: an attempt more, and its
    claim, schedule and last error cleared."""
    return {
        "state": TransactionState.SUCCEEDED,
        "outcome": outcome,
        "attempts_count": F("attempts_count") + 1,
        "finished_at": finished_at,
        "updated_at": finished_at,
        "next_attempt_at": None,
        "claimed_at": None,
        "claim_token": "",
        "failing_since": None,
        "waiting_for": None,
        "error_class": "",
        "error_code": "",
        "last_error": "",
    }


class ClaimLost(Exception):
    """Another worker took this transaction over; our work is rolled back."""


def _ours(tx: Transaction):
    return Transaction.objects.filter(
        pk=tx.pk, state=TransactionState.PROCESSING, claim_token=tx.claim_token
    )


def transaction_run(tx: Transaction) -> TransactionState | None:
    """Runs one claimed transaction and records the attempt. Returns its new state."""
    correlation = correlation_id_var.set(tx.correlation_id)
    calls = calls_var.set([])  # the attempt's outbound calls, for its Attempt row
    try:
        return _run(tx)
    finally:
        calls_var.reset(calls)
        correlation_id_var.reset(correlation)


def _run(tx: Transaction) -> TransactionState | None:
    number = tx.attempts_count + 1
    started_at = timezone.now()
    clock = time.perf_counter()
    # Still ours? (A claim the sweep took back runs elsewhere: calling other systems for it
    # here too would do their work twice.) Checking renews the lease as well.
    if not _ours(tx).update(claimed_at=started_at):
        logger.warning("Transaction %s is no longer ours to run; skipped.", tx.pk)
        return None
    try:
        if tx.fetch:  # a thin event: its record is read from the sender, then mapped
            enriched = transaction_enrich(tx)
            if enriched.ignored:
                return _ignore(tx, number, started_at, clock, enriched.ignored)
            remapped = transaction_remap(tx)
            if remapped.ignored:
                return _ignore(tx, number, started_at, clock, remapped.ignored)
        elif tx.errors:  # business values the mapping could not give when it arrived
            remapped = transaction_remap(tx)
            if remapped.ignored:
                return _ignore(tx, number, started_at, clock, remapped.ignored)
        references_match(tx)  # the sender's ids nobody linked yet, found as the mapping says
        handler = handler_for(tx.event_type)
        if domain := domain_of(tx.event_type):
            ownership_check(tx=tx, domain=domain)
        outcome = None if runs_atomically(tx.event_type) else handler(tx)
        with transaction.atomic():
            if outcome is None:
                outcome = handler(tx)
            finished_at = timezone.now()
            if not _ours(tx).update(**_succeeded_columns(outcome, finished_at)):
                raise ClaimLost
            _attempt(tx, number, started_at, clock, AttemptOutcome.SUCCEEDED)
            if tx.parent_id:  # a replay that succeeded settles its original
                replays_settle(replays=[tx])
        rollups_succeeded(transactions=[tx], started_at=started_at, finished_at=finished_at)
        return TransactionState.SUCCEEDED
    except ClaimLost:
        logger.warning("Transaction %s was taken over by another worker; skipped.", tx.pk)
        return None
    except RuleViolation as exc:
        failure = _rule_failure(tx, exc)
    except IntegrationError as exc:
        failure = exc
    except Exception as exc:  # a bug or an unexpected outage: retried, and visible
        logger.exception("Transaction %s failed unexpectedly.", tx.pk)
        failure = IntegrationError(
            f"{type(exc).__name__}: {exc}", transient=True, error_class=ErrorClass.INTERNAL
        )
    return _record_failure(tx, number, started_at, clock, failure)


def _ignore(
    tx: Transaction, number: int, started_at: datetime, clock: float, reason: str
) -> TransactionState | None:
    """The mapping in force now ignores what an earlier one could not read: final, kept."""
    with transaction.atomic():
        finished_at = timezone.now()
        if not _ours(tx).update(
            state=TransactionState.IGNORED,
            attempts_count=F("attempts_count") + 1,
            finished_at=finished_at,
            updated_at=finished_at,
            next_attempt_at=None,
            claimed_at=None,
            claim_token="",
            error_class="",
            error_code="",
            last_error=reason,
            errors=None,
        ):
            return None
        _attempt(tx, number, started_at, clock, AttemptOutcome.SUCCEEDED)
    return TransactionState.IGNORED


def _rule_failure(tx: Transaction, violation: RuleViolation) -> IntegrationError:
    """A canonical rule's refusal as the flow's business failure; a code the registry lacks
    is a bug (retried and shown as internal), never an exception of some other type."""
    try:
        return IntegrationError.business(
            violation.message,
            code=violation.code,
            details=violation.details,
            waiting_on=violation.waiting_on,
            money_at_risk=violation.money_at_risk,
            currency=violation.currency,
        )
    except UnknownExceptionCode as unknown:
        logger.error("Transaction %s: %s", tx.pk, unknown)
        return IntegrationError(
            f"{unknown} The rule said: {violation.message}",
            transient=True,
            error_class=ErrorClass.INTERNAL,
        )


def _attempt(
    tx: Transaction,
    number: int,
    started_at: datetime,
    clock: float,
    outcome: AttemptOutcome,
    failure: IntegrationError | None = None,
) -> None:
    calls = calls_var.get() or []
    Attempt.objects.create(
        transaction_id=tx.pk,
        number=number,
        started_at=started_at,
        duration_ms=int((time.perf_counter() - clock) * 1000),
        outcome=outcome,
        error_class=failure.error_class if failure else "",
        error_message=failure.message if failure else "",
        outbound_status=calls[-1].status if calls else None,
        outbound_summary="\n".join(str(call) for call in calls),
        worker=WORKER,
    )


def _record_failure(
    tx: Transaction, number: int, started_at: datetime, clock: float, failure: IntegrationError
) -> TransactionState | None:
    flow = tx.flow
    now = timezone.now()
    changes: dict[str, object] = {
        "attempts_count": F("attempts_count") + 1,
        "claimed_at": None,
        "claim_token": "",
        "updated_at": now,
        "error_class": failure.error_class,
        "error_code": failure.code,
        "last_error": failure.message,
    }
    delay = None
    waiting_for = getattr(failure, "waiting_for", None)
    if not failure.transient:
        state, attempt_outcome = TransactionState.BLOCKED, AttemptOutcome.BLOCKED
        changes.update(next_attempt_at=None, finished_at=now)
    elif waiting_for is not None:
        # The system's breaker is open: the work waits for it, not ready until a probe gets
        # through (``breakers_probe_due``) and releases it; its retry budget does not run.
        state, attempt_outcome = TransactionState.RETRY_SCHEDULED, AttemptOutcome.RETRY
        changes.update(next_attempt_at=None, waiting_for=waiting_for, failing_since=None)
    elif _budget_spent(tx, failure, flow, number, now):
        state, attempt_outcome = TransactionState.DEAD, AttemptOutcome.DEAD
        changes.update(next_attempt_at=None, finished_at=now)
    else:
        state, attempt_outcome = TransactionState.RETRY_SCHEDULED, AttemptOutcome.RETRY
        delay = backoff_delay(
            attempt=number - tx.retry_round_start,
            base=flow.backoff_base_seconds,
            cap=flow.backoff_cap_seconds,
            retry_after=failure.retry_after,
        )
        changes.update(next_attempt_at=now + timedelta(seconds=delay))
        if failure.system is not None:
            changes.update(failing_since=tx.failing_since or now)
    try:
        with transaction.atomic():
            if state == TransactionState.BLOCKED:
                changes["exception"] = exception_raise(tx=tx, failure=failure)
            if not _ours(tx).update(state=state, **changes):
                raise ClaimLost
            _attempt(tx, number, started_at, clock, attempt_outcome, failure)
            if delay is not None:
                transactions_enqueue(transactions=[tx], countdown=delay)
    except ClaimLost:
        return None
    if waiting_for is None:  # waiting for a system that is down is not a failure of the work
        rollups_failed(tx=tx, outcome=attempt_outcome, started_at=started_at)
    return state


def _budget_spent(
    tx: Transaction, failure: IntegrationError, flow: Flow, number: int, now: datetime
) -> bool:
    """Whether a transient failure ends the retries. A failure of a system's call is retried
    for that system's retry budget (time, since the round's first failure: an outage of
    hours is ridden out); any other for the flow's number of attempts."""
    if failure.system is not None:
        since = tx.failing_since or now
        return now - since >= failure.system.retry_budget
    return number - tx.retry_round_start >= flow.max_attempts


@dataclass
class SweepSummary:
    taken_back: int = 0
    enqueued: int = 0
    probes: int = 0


def transactions_sweep(
    *,
    lease_seconds: int | None = None,
    grace_seconds: int | None = None,
    limit: int = 10_000,
) -> SweepSummary:
    """Takes back rows whose worker vanished and re-enqueues everything due.

    A message lost by the broker, a killed worker or a resumed flow delays work;
    this sweep makes sure it never loses it.
    """
    lease = settings.CT_PROCESSING_LEASE_SECONDS if lease_seconds is None else lease_seconds
    grace = settings.CT_RECEIVED_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = timezone.now()
    summary = SweepSummary()
    summary.taken_back = Transaction.objects.filter(
        state=TransactionState.PROCESSING, claimed_at__lt=now - timedelta(seconds=lease)
    ).update(
        state=TransactionState.RECEIVED,
        claimed_at=None,
        claim_token="",
        enqueued_at=None,
        updated_at=now,
    )
    if summary.taken_back:
        logger.warning("Took back %s transactions from vanished workers.", summary.taken_back)
    not_recently_sent = Q(enqueued_at__isnull=True) | Q(
        enqueued_at__lt=now - timedelta(seconds=grace)
    )
    due = list(
        Transaction.objects.filter(ready_q(now), not_recently_sent, flow__paused=False)
        .select_related("flow")
        .order_by("pk")[:limit]
    )
    with transaction.atomic():
        transactions_enqueue(transactions=due)
    summary.enqueued = len(due)
    summary.probes = breakers_probe_due()
    return summary
