"""Four eyes: what posts money or overrides a rule needs an approver who did not prepare it.

Invoice candidates are prepared, approved (one or several at once) and rejected here;
approving queues the posting to the ERP. Amendment conflicts and edited replays of
financial events wait in exceptions of the types in ``APPROVAL_TYPES`` and are approved
or rejected here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.errors import ApplicationError, InvalidStateError, NotFoundError
from canonical.models import Invoice, TimeEntry
from controltower.operations.models import BusinessException
from controltower.operations.services.audit import audit_record
from controltower.operations.services.exceptions import (
    ensure_open,
    exception_state,
    locked_exception,
    required_text,
)
from integrations.choices import ExceptionStatus, ExceptionType, FlowKind, TransactionState
from integrations.errors import IntegrationError
from integrations.exception_types import APPROVAL_TYPES
from integrations.models import Transaction
from integrations.services.exceptions import exception_close, exception_raise
from integrations.services.queueing import transaction_internal_create, transactions_enqueue


class FourEyesError(ApplicationError):
    """The person who prepared an item tried to approve it."""

    status_code = HTTPStatus.FORBIDDEN


def four_eyes_check(*, actor: Any, preparer_id: int | None, what: str) -> None:
    """Refuses an approval by the item's preparer, or by someone without the approver role."""
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise FourEyesError(f"Approving {what} needs a signed-in approver.")
    if preparer_id is not None and preparer_id == actor.pk:
        raise FourEyesError(
            f"You prepared {what}; a second person with the approver role must approve it.",
            errors={"approver": ["Same person as the preparer."]},
        )


def _approvable(exception_id: int, verb: str) -> BusinessException:
    exc = locked_exception(exception_id)
    ensure_open(exc, verb)
    if exc.exception_type not in APPROVAL_TYPES:
        raise InvalidStateError(
            f"Exception {exc.pk} ({exc.get_exception_type_display()}) is not waiting for an "
            "approval; resolve or dismiss it instead.",
            errors={"exception_type": [exc.exception_type]},
        )
    return exc


def exception_approve(*, exception_id: int, actor: Any, reason: str = "") -> BusinessException:
    """Approves what the exception holds (an amendment conflict, an edited replay) and runs it."""
    with transaction.atomic():
        exc = _approvable(exception_id, "approved")
        four_eyes_check(actor=actor, preparer_id=exc.prepared_by_id, what=f"exception {exc.pk}")
        if not actor.has_perm("controltower.approve_businessexception"):
            raise FourEyesError("Approving needs the approver role.")
        before = exception_state(exc)
        exc.details = {
            **exc.details,
            "approved": {"by": actor.get_username(), "at": timezone.now().isoformat()},
        }
        exc.save(update_fields=["details", "updated_at"])
        rerun = exception_close(
            exception=exc,
            status=ExceptionStatus.RESOLVED,
            actor=actor,
            text=f"Approved by {actor.get_username()}" + (f": {reason}" if reason else "."),
        )
        audit_record(
            actor=actor,
            action="exception.approve",
            obj=exc,
            before=before,
            after={**exception_state(exc), "rerun_transactions": [tx.pk for tx in rerun]},
            reason=reason,
        )
    return exc


def exception_reject(*, exception_id: int, actor: Any, reason: str) -> BusinessException:
    """Rejects what the exception holds: its transactions are cancelled with the reason."""
    text = required_text(reason, "A reason")
    with transaction.atomic():
        exc = _approvable(exception_id, "rejected")
        if not actor.has_perm("controltower.approve_businessexception"):
            raise FourEyesError("Rejecting needs the approver role.")
        before = exception_state(exc)
        cancelled = exception_close(
            exception=exc, status=ExceptionStatus.DISMISSED, actor=actor, text=f"Rejected: {text}"
        )
        audit_record(
            actor=actor,
            action="exception.reject",
            obj=exc,
            before=before,
            after={**exception_state(exc), "cancelled_transactions": [tx.pk for tx in cancelled]},
            reason=text,
        )
    return exc


APPROVABLE = (InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)
# Candidates one request may approve together (a month's close, a page of the inbox at a time).
MAX_APPROVALS = 500


def _locked_invoice(invoice_id: int) -> Invoice:
    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise NotFoundError(f"Invoice {invoice_id} does not exist.")
    if invoice.status not in APPROVABLE:
        raise InvalidStateError(
            f"Invoice {invoice.number} is {invoice.status}; only candidates awaiting approval "
            "can be approved or rejected.",
            errors={"status": [invoice.status]},
        )
    return invoice


def invoice_prepare(*, invoice_id: int, actor: AbstractBaseUser, note: str = "") -> Invoice:
    """A person checked the candidate and puts it forward for approval; they cannot approve it."""
    with transaction.atomic():
        invoice = _locked_invoice(invoice_id)
        before = {"status": invoice.status, "prepared_by": invoice.prepared_by_id}
        invoice.status = InvoiceStatus.AWAITING_APPROVAL
        invoice.prepared_by = actor
        invoice.save(update_fields=["status", "prepared_by", "updated_at"])
        audit_record(
            actor=actor,
            action="invoice.prepare",
            obj=invoice,
            before=before,
            after={
                "status": invoice.status,
                "prepared_by": actor.pk,
                "amount": str(invoice.amount),
            },
            reason=note,
        )
    return invoice


def invoice_approve(*, invoice_id: int, actor: AbstractBaseUser, reason: str = "") -> Transaction:
    """Approves a candidate and queues its posting to the ERP; returns the posting transaction.

    Four eyes: the person who prepared the candidate cannot approve it.
    """
    with transaction.atomic():
        invoice = _locked_invoice(invoice_id)
        four_eyes_check(
            actor=actor, preparer_id=invoice.prepared_by_id, what=f"invoice {invoice.number}"
        )
        if not invoice.lines.exists():
            raise ApplicationError(
                f"Invoice {invoice.number} has no lines.", errors={"lines": ["Empty."]}
            )
        invoice.status = InvoiceStatus.APPROVED
        invoice.approved_by = actor
        invoice.save(update_fields=["status", "approved_by", "updated_at"])
        contract = invoice.project.contract
        posting = transaction_internal_create(
            flow=FlowKind.TIME_TO_BILLING,
            event_type="invoice.approved",
            business_key=invoice.number,
            idempotency_key=f"invoice:{invoice.number}:approved",
            correlation_id=contract.correlation_id if contract else "",
            data={"number": invoice.number},
        )
        transactions_enqueue(transactions=[posting])
        audit_record(
            actor=actor,
            action="invoice.approve",
            obj=invoice,
            before={"status": InvoiceStatus.AWAITING_APPROVAL},
            after={
                "status": InvoiceStatus.APPROVED,
                "amount": str(invoice.amount),
                "posting": posting.pk,
            },
            reason=reason,
        )
    return posting


def invoices_approve(
    *, invoice_ids: Sequence[int], actor: AbstractBaseUser, reason: str = ""
) -> dict[str, list[dict[str, Any]]]:
    """Approves several candidates at once, each through ``invoice_approve`` in its own
    database transaction: one that is refused (the approver prepared it, someone approved
    it meanwhile, it has no lines) is named with why, and the rest go on.

    Returns ``{"approved": [{"id", "number", "posting"}], "refused": [{"id", "number",
    "reason"}]}`` in the order chosen.
    """
    ids = list(dict.fromkeys(invoice_ids))
    if not ids:
        raise ApplicationError("Choose the invoices to approve.", errors={"ids": ["Required."]})
    if len(ids) > MAX_APPROVALS:
        raise ApplicationError(
            f"At most {MAX_APPROVALS} invoices can be approved at once; {len(ids)} were chosen.",
            errors={"ids": [f"More than {MAX_APPROVALS}."]},
        )
    numbers = dict(Invoice.objects.filter(pk__in=ids).values_list("pk", "number"))
    approved: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for pk in ids:
        try:
            posting = invoice_approve(invoice_id=pk, actor=actor, reason=reason)
        except ApplicationError as error:
            refused.append({"id": pk, "number": numbers.get(pk, ""), "reason": error.message})
        else:
            approved.append({"id": pk, "number": numbers[pk], "posting": posting.pk})
    return {"approved": approved, "refused": refused}


def invoice_reject(*, invoice_id: int, actor: AbstractBaseUser, reason: str) -> Invoice:
    """Rejects a candidate: its time is released and an exception sends it back for rework.

    The exception holds an ``invoice.rebuild`` transaction: resolving the exception
    (after the time was corrected at its source) builds a new candidate from the
    month's unbilled time; dismissing it leaves that time unbilled, visibly.
    """
    if not reason.strip():
        raise ApplicationError("A reason is required to reject.", errors={"reason": ["Required."]})
    with transaction.atomic():
        invoice = _locked_invoice(invoice_id)
        before = invoice.status
        invoice.status = InvoiceStatus.REJECTED
        invoice.save(update_fields=["status", "updated_at"])
        TimeEntry.objects.filter(invoice=invoice).update(invoice=None)
        contract = invoice.project.contract
        rebuild = transaction_internal_create(
            flow=FlowKind.TIME_TO_BILLING,
            event_type="invoice.rebuild",
            business_key=invoice.number,
            idempotency_key=f"invoice:{invoice.number}:rebuild",
            correlation_id=contract.correlation_id if contract else "",
            data={
                "project": invoice.project.code,
                "period_start": invoice.period_start.isoformat(),
                "rejected": invoice.number,
            },
        )
        failure = IntegrationError.business(
            f"Invoice {invoice.number} ({invoice.amount} {invoice.currency}) was rejected by "
            f"{actor.get_username()}: {reason.strip()}. Correct the time at its source, then "
            "resolve this to build a new candidate.",
            code=ExceptionType.INVOICE_REJECTED,
            details={"invoice": invoice.number, "reason": reason.strip()},
            money_at_risk=invoice.amount,
            currency=invoice.currency,
            record=invoice,
        )
        rebuild.state = TransactionState.BLOCKED
        rebuild.error_code = failure.code
        rebuild.last_error = failure.message
        rebuild.finished_at = timezone.now()
        rebuild.exception = exception_raise(tx=rebuild, failure=failure)
        rebuild.save(
            update_fields=["state", "error_code", "last_error", "finished_at", "exception"]
        )
        audit_record(
            actor=actor,
            action="invoice.reject",
            obj=invoice,
            before={"status": before},
            after={"status": InvoiceStatus.REJECTED, "exception": rebuild.exception_id},
            reason=reason,
        )
    return invoice
