"""A replay that succeeds settles its original.

A replay is a new transaction linked to the one it replays (``parent``). When it succeeds,
the original, still stopped (dead, blocked, or waiting to retry), is settled as
``replaced``, linked to its replacement (``replaced_by``), and the exception that held it
is resolved with a resolution naming the replay, through the one ``exception_close``
(the operations layer audits it as a close by a fix). An exception that still holds other
work stays open for that work. A replay that fails leaves the original as it was.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from integrations.choices import (
    OPEN_STATUSES,
    REPLACEABLE_STATES,
    ExceptionStatus,
    TransactionState,
)
from integrations.models import ExceptionRecord, Transaction
from integrations.services.exceptions import HELD_STATES, exception_close

# How far up a chain of replays of replays a success settles (a guard, never reached).
CHAIN_LIMIT = 50


def replays_settle(*, replays: Iterable[Transaction]) -> list[int]:
    """Settles the originals of ``replays`` that just succeeded; returns the ids replaced.

    Call inside the database transaction that records the replays' success, so that the
    original is replaced only if the success commits. The update is conditional on the
    original's state: an original a worker is running again, or that already succeeded,
    is left alone. A replay of a replay that had stopped too settles the whole chain, each
    one replaced by the replay that succeeded.
    """
    replaced: list[int] = []
    for replay in sorted(replays, key=lambda tx: tx.pk):
        parent_id, seen = replay.parent_id, {replay.pk}
        while parent_id is not None and parent_id not in seen and len(seen) <= CHAIN_LIMIT:
            seen.add(parent_id)
            original = _replace(parent_id, replay=replay)
            if original is None:
                break
            replaced.append(original.pk)
            if original.exception_id:
                _exception_resolve(
                    original.exception_id, replay=replay, original_id=original.pk, settled=seen
                )
            parent_id = original.parent_id
    return replaced


def _replace(transaction_id: int, *, replay: Transaction) -> Transaction | None:
    """Settles one stopped transaction as replaced by ``replay``; None if it was not stopped."""
    original = (
        Transaction.objects.filter(pk=transaction_id, state__in=REPLACEABLE_STATES)
        .only("pk", "exception_id", "parent_id", "state")
        .first()
    )
    if original is None:
        return None
    now = timezone.now()
    updated = Transaction.objects.filter(pk=original.pk, state=original.state).update(
        state=TransactionState.REPLACED,
        replaced_by=replay.pk,
        finished_at=now,
        updated_at=now,
        next_attempt_at=None,
        waiting_for=None,
    )
    return original if updated else None


def _exception_resolve(
    exception_id: int, *, replay: Transaction, original_id: int, settled: set[int]
) -> None:
    """Resolves the exception that held the original, unless it still holds other work."""
    exception = (
        ExceptionRecord.objects.select_for_update()
        .filter(pk=exception_id, status__in=OPEN_STATUSES)
        .first()
    )
    if exception is None:
        return
    # Only work outside the chain just settled keeps the original's exception open.
    still_held = (
        Transaction.objects.filter(exception_id=exception.pk, state__in=HELD_STATES)
        .exclude(pk__in=settled)
        .exists()
    )
    if still_held:
        return
    exception_close(
        exception=exception,
        status=ExceptionStatus.RESOLVED,
        actor=None,
        text=f"Transaction #{original_id} was replaced by replay #{replay.pk}, which succeeded.",
        by_fix=True,
    )
