"""The one-click fix of a reconciliation drift: re-push the record to the system that differs,
create the missing record through its normal flow, or build the missing invoice candidate.

Each runs through the same services as the record page's re-push and the approvals'
rebuild, is audited on the drift's exception, and is checked against the person's role.
The drift stays open until the next reconciliation run no longer finds it.
"""

from __future__ import annotations

from datetime import date
from http import HTTPStatus
from typing import Any

from django.db import transaction

from canonical.errors import ApplicationError, ConflictError, NotFoundError
from canonical.models import Invoice, Project
from controltower.operations.models import BusinessException
from controltower.operations.selectors.reconciliation import (
    DRIFT_ACTION_PERMISSION,
    DriftAction,
    drift_action_of,
)
from controltower.operations.services.actions import record_repush
from controltower.operations.services.audit import audit_record
from integrations.choices import OPEN_STATUSES, ExceptionType, FlowKind, TransactionState
from integrations.models import ConnectedSystem, Transaction
from integrations.services.queueing import transaction_internal_create, transactions_enqueue

_PENDING = (
    TransactionState.RECEIVED,
    TransactionState.PROCESSING,
    TransactionState.RETRY_SCHEDULED,
)


def drift_act(*, exception_id: int, actor: Any, reason: str = "") -> Transaction:
    """Runs the drift's action (``drift_action_of``) and returns the transaction it queued."""
    if actor is not None and not actor.has_perm(DRIFT_ACTION_PERMISSION):
        raise ApplicationError(
            "Acting on a reconciliation drift needs the operator role.",
            status_code=HTTPStatus.FORBIDDEN,
        )
    with transaction.atomic():
        exc = (
            BusinessException.objects.select_for_update()
            .filter(pk=exception_id, exception_type=ExceptionType.RECONCILIATION_DRIFT)
            .first()
        )
        if exc is None:
            raise NotFoundError(f"Reconciliation drift {exception_id} does not exist.")
        if exc.status not in OPEN_STATUSES:
            raise ConflictError(
                f"Drift {exc.pk} is {exc.get_status_display().lower()}; there is nothing to fix.",
                errors={"status": [exc.status]},
            )
        action = drift_action_of(exc)
        if action is None:
            raise ApplicationError(
                "This drift has no one-click fix: correct it in the other system (or dismiss "
                "it on the exception), and the next reconciliation resolves it.",
                errors={"action": ["None."]},
            )
        details = exc.details or {}
        text = reason or f"Reconciliation drift {exc.pk}: {action.label.lower()}."
        if action.code == DriftAction.REBUILD:
            tx = _rebuild(details)
        else:
            tx = record_repush(
                record=_record_of(details),
                system=_system_of(details),
                actor=actor,
                reason=text,
                recreate=action.code == DriftAction.RECREATE,
            )
        audit_record(
            actor=actor,
            action="reconciliation.drift_action",
            obj=exc,
            before={"kind": details.get("kind"), "status": exc.status},
            after={"action": action.code, "transaction": tx.pk},
            reason=text,
        )
    return tx


def _record_of(details: dict) -> Invoice | Project:
    if details.get("kind") == "invoice":
        record = Invoice.objects.filter(number=details.get("invoice", "")).first()
    else:
        record = Project.objects.filter(code=details.get("project", "")).first()
    if record is None:
        raise NotFoundError("The drift's record is no longer in the tower.")
    return record


def _system_of(details: dict) -> ConnectedSystem:
    system = ConnectedSystem.objects.filter(slug=details.get("system", "")).first()
    if system is None:
        raise ApplicationError(
            f"System {details.get('system')!r} no longer exists.",
            errors={"system": ["Unknown system."]},
        )
    return system


def _rebuild(details: dict) -> Transaction:
    """Queues the time-to-billing flow's rebuild: the month's time that no invoice holds goes
    on a new candidate for approval."""
    project = Project.objects.filter(code=details.get("project", "")).first()
    if project is None:
        raise NotFoundError(f"Project {details.get('project')} is no longer in the tower.")
    period = date.fromisoformat(details["period_start"])
    key = f"{project.code} {period:%Y-%m}"
    pending = (
        Transaction.objects.filter(
            event_type="invoice.rebuild", business_key=key, state__in=_PENDING
        )
        .values_list("pk", flat=True)
        .first()
    )
    if pending is not None:
        raise ConflictError(
            f"A new candidate for {key} is already being built (transaction {pending}).",
            errors={"action": [f"Queued as transaction {pending}."]},
        )
    contract = project.contract
    tx = transaction_internal_create(
        flow=FlowKind.TIME_TO_BILLING,
        event_type="invoice.rebuild",
        business_key=key,
        correlation_id=contract.correlation_id if contract else "",
        data={"project": project.code, "period_start": period.isoformat()},
    )
    transactions_enqueue(transactions=[tx])
    return tx
