"""The people's actions on transactions and flows.

Each is one service used alike by the API, the admin and the pages, and each
writes an audit row: who, what, before and after, and the reason.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from controltower.errors import ApplicationError, InvalidStateError, NotFoundError
from controltower.services import audit_record
from integrations.adapters import EventRejected, adapter_for
from integrations.choices import (
    CANCELLABLE_STATES,
    RETRYABLE_STATES,
    FlowKind,
    TransactionState,
)
from integrations.models import Flow, Transaction
from integrations.services.processing import transactions_enqueue

Actor = AbstractBaseUser | None


def _locked(transaction_id: int) -> Transaction:
    tx = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("flow", "source_system")
        .filter(pk=transaction_id)
        .first()
    )
    if tx is None:
        raise NotFoundError(f"Transaction {transaction_id} does not exist.")
    return tx


def _state_of(tx: Transaction) -> dict[str, Any]:
    return {"state": tx.state, "attempts_count": tx.attempts_count, "last_error": tx.last_error}


def transaction_retry(*, transaction_id: int, actor: Actor, reason: str = "") -> Transaction:
    """Runs a failed, dead or blocked transaction again, with a fresh attempt budget."""
    with transaction.atomic():
        tx = _locked(transaction_id)
        if tx.state not in RETRYABLE_STATES:
            raise InvalidStateError(
                f"Transaction {tx.pk} is {tx.state}; only {', '.join(RETRYABLE_STATES)} "
                "transactions can be retried.",
                errors={"state": [tx.state]},
            )
        before = _state_of(tx)
        _make_ready(tx)
        audit_record(
            actor=actor,
            action="transaction.retry",
            obj=tx,
            before=before,
            after=_state_of(tx),
            reason=reason,
        )
        transactions_enqueue(transactions=[tx])
    return tx


def _make_ready(tx: Transaction) -> None:
    tx.state = TransactionState.RECEIVED
    tx.next_attempt_at = None
    tx.finished_at = None
    tx.retry_round_start = tx.attempts_count
    tx.save(
        update_fields=["state", "next_attempt_at", "finished_at", "retry_round_start", "updated_at"]
    )


def transactions_bulk_retry(
    *, queryset: QuerySet[Transaction], actor: Actor, reason: str = "", description: str = ""
) -> int:
    """Retries every retryable transaction the filter selects; returns how many."""
    with transaction.atomic():
        # The filter may use DISTINCT, which cannot be locked: lock by id instead.
        selected = list(
            Transaction.objects.filter(pk__in=queryset.values("pk"), state__in=RETRYABLE_STATES)
            .select_for_update(of=("self",))
            .select_related("flow")
        )
        for tx in selected:
            _make_ready(tx)
        audit_record(
            actor=actor,
            action="transaction.bulk_retry",
            object_type="integrations.transaction",
            object_id="bulk",
            object_repr=f"{len(selected)} transactions",
            before={"filter": description},
            after={"ids": [tx.pk for tx in selected], "count": len(selected)},
            reason=reason,
        )
        transactions_enqueue(transactions=selected)
    return len(selected)


def transaction_replay(
    *, transaction_id: int, actor: Actor, payload: Any = None, reason: str = ""
) -> Transaction:
    """Runs a transaction's event again as a new transaction linked to the original.

    With ``payload`` the new transaction carries that edited canonical event,
    checked against its schema first; the audit row keeps both versions.
    """
    with transaction.atomic():
        original = _locked(transaction_id)
        if original.source_system_id is None:
            raise InvalidStateError(
                f"Transaction {original.pk} is the tower's own work; retry it instead of replaying it.",
                errors={"source_system": ["none"]},
            )
        if original.flow_id is None or original.normalized is None:
            raise InvalidStateError(
                f"Transaction {original.pk} was refused at the door and has no event to replay; "
                "the sender must send a corrected event.",
                errors={"state": [original.state]},
            )
        adapter = adapter_for(original.source_system)
        edited = payload is not None
        normalized = payload if edited else original.normalized
        try:
            event = adapter.validate_normalized(normalized)
        except EventRejected as exc:
            raise ApplicationError(
                f"The edited payload is invalid: {exc.message}",
                errors={f"payload.{key}": value for key, value in exc.errors.items()},
            ) from None
        if event.flow_kind != original.flow.kind:
            raise ApplicationError(
                f"The edited event belongs to flow {event.flow_kind}, not {original.flow.kind}.",
                errors={"payload.type": [event.event_type]},
            )
        replay = Transaction.objects.create(
            flow=original.flow,
            source_system=original.source_system,
            target_system=original.target_system,
            event_type=event.event_type,
            business_key=event.business_key[:100],
            external_id=event.external_id[:100],
            idempotency_key=None,
            event_version=event.version,
            correlation_id=original.correlation_id,
            parent=original,
            payload=original.payload,
            normalized=normalized,
            sla_due_at=original.sla_due_at,
        )
        audit_record(
            actor=actor,
            action="transaction.replay_edited" if edited else "transaction.replay",
            obj=original,
            before={"normalized": original.normalized},
            after={"replay_id": replay.pk, "normalized": normalized},
            reason=reason,
        )
        transactions_enqueue(transactions=[replay])
    return replay


def transaction_cancel(*, transaction_id: int, actor: Actor, reason: str) -> Transaction:
    if not reason.strip():
        raise ApplicationError("A reason is required to cancel.", errors={"reason": ["Required."]})
    with transaction.atomic():
        tx = _locked(transaction_id)
        if tx.state not in CANCELLABLE_STATES:
            raise InvalidStateError(
                f"Transaction {tx.pk} is {tx.state} and cannot be cancelled.",
                errors={"state": [tx.state]},
            )
        before = _state_of(tx)
        tx.state = TransactionState.CANCELLED
        tx.finished_at = timezone.now()
        tx.next_attempt_at = None
        tx.last_error = f"Cancelled: {reason}"
        tx.save(
            update_fields=["state", "finished_at", "next_attempt_at", "last_error", "updated_at"]
        )
        audit_record(
            actor=actor,
            action="transaction.cancel",
            obj=tx,
            before=before,
            after=_state_of(tx),
            reason=reason,
        )
    return tx


def flow_pause(*, flow: Flow, actor: Actor, reason: str = "") -> Flow:
    """Stops processing; events keep arriving and are stored."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if not flow.paused:
            flow.paused = True
            flow.save(update_fields=["paused", "updated_at"])
            audit_record(
                actor=actor,
                action="flow.pause",
                obj=flow,
                before={"paused": False},
                after={"paused": True},
                reason=reason,
            )
    return flow


def flow_resume(*, flow: Flow, actor: Actor, reason: str = "") -> Flow:
    """Starts processing again, beginning with what arrived while paused."""
    with transaction.atomic():
        flow = Flow.objects.select_for_update().get(pk=flow.pk)
        if flow.paused:
            flow.paused = False
            flow.save(update_fields=["paused", "updated_at"])
            audit_record(
                actor=actor,
                action="flow.resume",
                obj=flow,
                before={"paused": True},
                after={"paused": False},
                reason=reason,
            )
            waiting = list(
                Transaction.objects.filter(
                    flow=flow,
                    state__in=[TransactionState.RECEIVED, TransactionState.RETRY_SCHEDULED],
                )
                .select_related("flow")
                .order_by("pk")
            )
            transactions_enqueue(transactions=waiting)
    return flow


def reconciliation_start(*, actor: Actor, reason: str = "") -> Transaction:
    """Queues a reconciliation run (beat starts one nightly; a person may start one now)."""
    now = timezone.now()
    with transaction.atomic():
        run = Transaction.objects.create(
            flow=Flow.objects.get(kind=FlowKind.RECONCILIATION),
            source_system=None,
            event_type="reconciliation.run",
            business_key=f"reconciliation {now:%Y-%m-%d %H:%M}",
            correlation_id=uuid.uuid4().hex,
            normalized={"type": "reconciliation.run", "data": {"requested_at": now.isoformat()}},
        )
        if actor is not None:
            audit_record(actor=actor, action="reconciliation.start", obj=run, reason=reason)
        transactions_enqueue(transactions=[run])
    return run
