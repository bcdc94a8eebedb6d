"""Compensations: proposed by the engine, queued for execution once a person allows it."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction

from integrations.choices import CompensationAction, CompensationState, FlowKind
from integrations.flows.catalog import COMPENSATION_EVENT
from integrations.models import Compensation
from integrations.services.queueing import transaction_internal_create, transactions_enqueue

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


def compensation_propose(
    *,
    key: str,
    step: str,
    action: CompensationAction,
    system: ConnectedSystem,
    record_kind: str,
    external_id: str,
    business_key: str,
    reason: str,
    source: Transaction | None,
    amount: Decimal | None = None,
    rate: Decimal | None = None,
    currency: str = "",
    details: dict[str, Any] | None = None,
) -> Compensation:
    """Records what undoes a side effect ``system`` kept, once per ``key``: the step that
    proposes it again on a retry finds the proposal it made (and refreshes its reason)."""
    with transaction.atomic():
        compensation, created = Compensation.objects.get_or_create(
            key=key,
            defaults={
                "step": step,
                "action": action,
                "system": system,
                "record_kind": record_kind,
                "external_id": external_id,
                "business_key": business_key,
                "correlation_id": source.correlation_id if source is not None else "",
                "reason": reason,
                "source_transaction": source,
                "amount": amount,
                "rate": rate,
                "currency": currency,
                "details": details or {},
            },
        )
        if not created and compensation.state == CompensationState.PROPOSED:
            Compensation.objects.filter(pk=compensation.pk).update(reason=reason)
            compensation.reason = reason
    return compensation


def compensation_execution_queue(*, compensation: Compensation, flow: FlowKind) -> Transaction:
    """A new transaction that executes ``compensation`` through the push path, sent to its
    flow's queue when the caller's database transaction commits. Call inside it, with the
    compensation's row locked."""
    execution = transaction_internal_create(
        flow=flow,
        event_type=COMPENSATION_EVENT,
        business_key=compensation.business_key,
        correlation_id=compensation.correlation_id,
        target_system=compensation.system,
        data={"compensation": compensation.pk, "action": compensation.action},
    )
    compensation.state = CompensationState.EXECUTING
    compensation.execution = execution
    compensation.last_error = ""
    compensation.save(update_fields=["state", "execution", "last_error", "updated_at"])
    transactions_enqueue(transactions=[execution])
    return execution


def compensation_finish(
    *, compensation_id: int, result_id: str = "", details: dict[str, Any] | None = None
) -> None:
    """Marks the compensation done with what its execution made or changed."""
    with transaction.atomic():
        compensation = Compensation.objects.select_for_update().get(pk=compensation_id)
        compensation.state = CompensationState.DONE
        compensation.result_id = result_id
        compensation.details = {**compensation.details, **(details or {})}
        compensation.last_error = ""
        compensation.save(
            update_fields=["state", "result_id", "details", "last_error", "updated_at"]
        )


def compensation_fail(*, compensation_id: int, error: str) -> None:
    """The target system refused the compensation for good: a person may ask again or reject it."""
    Compensation.objects.filter(pk=compensation_id, state=CompensationState.EXECUTING).update(
        state=CompensationState.FAILED, last_error=error[:2000]
    )
