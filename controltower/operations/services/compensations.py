"""People acting on the engine's proposed compensations: execute, approve (four eyes where
money moves), reject. Every action needs a reason and is written to the audit log."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from canonical.errors import InvalidStateError, NotFoundError
from controltower.operations.services.approvals import FourEyesError, four_eyes_check
from controltower.operations.services.audit import audit_record
from controltower.operations.services.exceptions import required_text
from integrations.choices import OPEN_COMPENSATION_STATES, CompensationState
from integrations.flows.compensation import flow_of
from integrations.models import Compensation
from integrations.services.compensations import compensation_execution_queue

REQUESTABLE = (CompensationState.PROPOSED, CompensationState.FAILED)


def _state(compensation: Compensation) -> dict[str, Any]:
    return {
        "state": compensation.state,
        "action": compensation.action,
        "external_id": compensation.external_id,
        "amount": str(compensation.amount) if compensation.amount is not None else None,
        "currency": compensation.currency,
        "requested_by": compensation.requested_by_id,
        "approved_by": compensation.approved_by_id,
        "execution": compensation.execution_id,
    }


def _locked(compensation_id: int, states: tuple[str, ...], verb: str) -> Compensation:
    compensation = Compensation.objects.select_for_update().filter(pk=compensation_id).first()
    if compensation is None:
        raise NotFoundError(f"Compensation {compensation_id} does not exist.")
    if compensation.state not in states:
        raise InvalidStateError(
            f"Compensation {compensation.pk} is {compensation.get_state_display().lower()}; "
            f"it cannot be {verb}.",
            errors={"state": [compensation.state]},
        )
    return compensation


def _permitted(actor: Any, permission: str, what: str) -> None:
    if actor is None or not actor.has_perm(permission):
        raise FourEyesError(f"{what} needs the {permission.split('.')[1].split('_')[0]} right.")


def compensation_request(*, compensation_id: int, actor: Any, reason: str) -> Compensation:
    """Asks for a proposed (or failed) compensation to be executed. One that moves no money
    is queued at once; one that moves money waits for a second person's approval."""
    text = required_text(reason, "A reason")
    _permitted(actor, "integrations.request_compensation", "Executing a compensation")
    with transaction.atomic():
        compensation = _locked(compensation_id, REQUESTABLE, "executed")
        before = _state(compensation)
        compensation.requested_by = actor
        compensation.decision_reason = text
        if compensation.moves_money:
            compensation.state = CompensationState.AWAITING_APPROVAL
            compensation.approved_by = None
            compensation.save(
                update_fields=[
                    "requested_by",
                    "approved_by",
                    "decision_reason",
                    "state",
                    "updated_at",
                ]
            )
        else:
            compensation.save(update_fields=["requested_by", "decision_reason", "updated_at"])
            compensation_execution_queue(compensation=compensation, flow=flow_of(compensation))
        audit_record(
            actor=actor,
            action="compensation.request",
            obj=compensation,
            before=before,
            after=_state(compensation),
            reason=text,
        )
    return compensation


def compensation_approve(*, compensation_id: int, actor: Any, reason: str) -> Compensation:
    """Approves a compensation that moves money and queues its execution. Four eyes: the
    person who asked for it cannot approve it."""
    text = required_text(reason, "A reason")
    with transaction.atomic():
        compensation = _locked(compensation_id, (CompensationState.AWAITING_APPROVAL,), "approved")
        four_eyes_check(
            actor=actor,
            preparer_id=compensation.requested_by_id,
            what=f"compensation {compensation.pk} ({compensation.amount} {compensation.currency})",
        )
        _permitted(actor, "integrations.approve_compensation", "Approving a compensation")
        before = _state(compensation)
        compensation.approved_by = actor
        compensation.decision_reason = text
        compensation.save(update_fields=["approved_by", "decision_reason", "updated_at"])
        compensation_execution_queue(compensation=compensation, flow=flow_of(compensation))
        audit_record(
            actor=actor,
            action="compensation.approve",
            obj=compensation,
            before=before,
            after=_state(compensation),
            reason=text,
        )
    return compensation


def compensation_reject(*, compensation_id: int, actor: Any, reason: str) -> Compensation:
    """Decides a compensation is not to be executed: the side effect stays, on record."""
    text = required_text(reason, "A reason")
    with transaction.atomic():
        compensation = _locked(compensation_id, OPEN_COMPENSATION_STATES, "rejected")
        permission = (
            "integrations.approve_compensation"
            if compensation.moves_money
            else "integrations.request_compensation"
        )
        _permitted(actor, permission, "Rejecting a compensation")
        before = _state(compensation)
        compensation.state = CompensationState.REJECTED
        compensation.decided_by = actor
        compensation.decision_reason = text
        compensation.save(update_fields=["state", "decided_by", "decision_reason", "updated_at"])
        audit_record(
            actor=actor,
            action="compensation.reject",
            obj=compensation,
            before=before,
            after=_state(compensation),
            reason=text,
        )
    return compensation
