"""Putting work in a flow's queue: the work the tower gives itself, and the ids of ready
transactions sent to their flow's queue.

The message carries only ids; the rows are the truth, so a lost message delays work
but loses nothing (the sweep sends again what waits). The task is named, not imported:
the tasks module is the engine's outermost door and imports the services.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from integrations.choices import RETRYABLE_STATES, FlowKind, TransactionState
from integrations.flows.registry import batch_handler_for, calls_out
from integrations.models import ConnectedSystem, Flow, Transaction
from integrations.services.rollups import rollups_received

logger = logging.getLogger(__name__)

# The task that processes a chunk of transaction ids (``integrations.tasks``).
PROCESS_TASK = "integrations.tasks.process_transactions_task"


def transactions_enqueue(
    *, transactions: Iterable[Transaction], countdown: float | None = None, stamp: bool = True
) -> None:
    """Sends the ids of ready transactions to their flow's queue in chunks, after commit.

    A paused flow's transactions are stored but not sent; resuming sends them.
    """
    by_flow: dict[tuple[int, int], list[int]] = defaultdict(list)
    flows: dict[int, Flow] = {}
    for tx in transactions:
        if tx.flow_id is None:
            continue
        by_flow[(tx.flow_id, chunk_size_for(tx.event_type))].append(tx.pk)
        flows.setdefault(tx.flow_id, tx.flow)
    _send_on_commit(by_flow=by_flow, flows=flows, countdown=countdown, stamp=stamp)


def _send_on_commit(
    *,
    by_flow: dict[tuple[int, int], list[int]],
    flows: dict[int, Flow],
    countdown: float | None,
    stamp: bool,
) -> None:
    messages: list[tuple[str, list[int]]] = []
    for (flow_id, size), ids in by_flow.items():
        flow = flows[flow_id]
        if flow.paused:
            continue
        messages.extend((flow.queue, ids[i : i + size]) for i in range(0, len(ids), size))
    if not messages:
        return
    all_ids = [pk for _, ids in messages for pk in ids]
    if stamp:  # the inbound path stores enqueued_at with the insert
        Transaction.objects.filter(pk__in=all_ids).update(enqueued_at=timezone.now())

    def send() -> None:
        index = 0
        try:
            # One producer (one connection) for every chunk: a bulk retry sends a hundred.
            with current_app.producer_or_acquire() as producer:
                for index, (queue, ids) in enumerate(messages):  # noqa: B007
                    current_app.signature(PROCESS_TASK, args=[ids]).apply_async(
                        queue=queue, countdown=countdown, producer=producer
                    )
        except (KombuOperationalError, OSError) as exc:
            # The rows are committed: the work is held. Failing the request now would
            # make a sender send again what the tower already holds; marking the rows
            # unsent lets the next sweep send them without waiting out the grace.
            unsent = [pk for _, rest in messages[index:] for pk in rest]
            logger.warning(
                "The broker cannot be reached; %s transactions wait for the sweep: %s",
                len(unsent),
                exc,
            )
            _mark_unsent(unsent)

    transaction.on_commit(send)


def chunk_size_for(event_type: str) -> int:
    """How many transactions of ``event_type`` one task takes."""
    # Work that calls other systems goes in small chunks: a slow system then holds up a few
    # items in one worker process, not a hundred, and the other processes go on. Work applied
    # set-based goes in large ones: its chunk costs a few statements whatever its size.
    if calls_out(event_type):
        return settings.CT_OUTBOUND_CHUNK_SIZE
    if batch_handler_for(event_type) is not None:
        return settings.CT_BATCH_CHUNK_SIZE
    return settings.CT_CHUNK_SIZE


def _mark_unsent(ids: list[int]) -> None:
    try:
        Transaction.objects.filter(pk__in=ids).update(enqueued_at=None)
    except DatabaseError:
        logger.warning(
            "Could not mark %s unsent transactions; the sweep sends them later.", len(ids)
        )


def transaction_internal_create(
    *,
    flow: FlowKind,
    event_type: str,
    business_key: str,
    data: dict[str, Any],
    correlation_id: str = "",
    idempotency_key: str | None = None,
    target_system: ConnectedSystem | None = None,
) -> Transaction:
    """Stores work the tower gives itself (no sender); the caller queues or holds it.

    It counts as an arrival in its flow, and carries the correlation id of the contract
    it belongs to when there is one, so that it shows in that contract's lineage.
    """
    tx = Transaction.objects.create(
        flow=Flow.objects.get(kind=flow),
        source_system=None,
        target_system=target_system,
        event_type=event_type,
        business_key=business_key,
        idempotency_key=idempotency_key,
        correlation_id=correlation_id or uuid.uuid4().hex,
        normalized={"type": event_type, "data": data},
    )
    rollups_received(transactions=[tx])
    return tx


def transactions_requeue_selected(*, queryset: QuerySet[Transaction]) -> list[int]:
    """The set-based ``transactions_requeue``, for thousands at once (bulk retry): locks the
    retryable transactions the queryset selects, makes them ready again with a fresh attempt
    budget in one UPDATE, and sends them to their queues once the database transaction
    commits. Returns their ids, in id order.

    Call inside ``transaction.atomic``. The filter may use DISTINCT, which cannot be locked:
    the rows are locked by id instead, in ascending id order as everywhere else, so that two
    requests over the same rows wait for each other in turn and never deadlock.
    """
    selected = Transaction.objects.filter(pk__in=queryset.values("pk"), state__in=RETRYABLE_STATES)
    rows = list(
        selected.select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "flow_id", "event_type")
    )
    if not rows:
        return []
    now = timezone.now()
    flows = Flow.objects.in_bulk()
    held = [pk for pk, flow in flows.items() if flow.paused]
    ready = {
        "state": TransactionState.RECEIVED,
        "retry_round_start": F("attempts_count"),
        "next_attempt_at": None,
        "finished_at": None,
        "failing_since": None,  # a new round, with a whole retry budget
        "waiting_for": None,
        "updated_at": now,
    }
    # The rows are locked: the filter itself names them, with no list of ids to send.
    # Stamped as sent, as transactions_enqueue does, unless their flow holds them.
    locked = selected.filter(pk__lte=rows[-1][0])
    if held:
        locked.filter(flow_id__in=held).update(**ready)
    locked.update(**ready, enqueued_at=now)
    by_flow: dict[tuple[int, int], list[int]] = defaultdict(list)
    for pk, flow_id, event_type in rows:
        by_flow[(flow_id, chunk_size_for(event_type))].append(pk)
    _send_on_commit(by_flow=by_flow, flows=flows, countdown=None, stamp=False)
    return [pk for pk, _, _ in rows]


def transactions_requeue(*, transactions: list[Transaction]) -> None:
    """Makes blocked, failed or dead transactions ready again, with a fresh attempt budget,
    and sends them to their queues once the current database transaction commits.

    Call with the rows locked.
    """
    now = timezone.now()
    for tx in transactions:
        tx.state = TransactionState.RECEIVED
        tx.retry_round_start = tx.attempts_count
        tx.next_attempt_at = None
        tx.finished_at = None
        tx.failing_since = None  # a new round, with a whole retry budget
        tx.waiting_for = None
        tx.updated_at = now  # bulk_update leaves auto_now alone
    Transaction.objects.bulk_update(
        transactions,
        [
            "state",
            "retry_round_start",
            "next_attempt_at",
            "finished_at",
            "failing_since",
            "waiting_for",
            "updated_at",
        ],
    )
    transactions_enqueue(transactions=transactions)
