"""Approving invoice candidates, and following posted invoices to payment in the ERP."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice, TimeEntry
from controltower.errors import ApplicationError, InvalidStateError, NotFoundError
from controltower.services import audit_record
from integrations.choices import FlowKind, SystemKind
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.models import Flow, Transaction
from integrations.selectors import sync_state_for, target_system
from integrations.services.processing import transactions_enqueue

APPROVABLE = (InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)


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


def invoice_approve(*, invoice_id: int, actor: AbstractBaseUser, reason: str = "") -> Transaction:
    """Approves a candidate and queues its posting to the ERP; returns the posting transaction."""
    with transaction.atomic():
        invoice = _locked_invoice(invoice_id)
        if not invoice.lines.exists():
            raise ApplicationError(
                f"Invoice {invoice.number} has no lines.", errors={"lines": ["Empty."]}
            )
        invoice.status = InvoiceStatus.APPROVED
        invoice.approved_by = actor
        invoice.save(update_fields=["status", "approved_by", "updated_at"])
        contract = invoice.project.contract
        posting = Transaction.objects.create(
            flow=Flow.objects.get(kind=FlowKind.TIME_TO_BILLING),
            source_system=None,
            event_type="invoice.approved",
            business_key=invoice.number,
            idempotency_key=f"invoice:{invoice.number}:approved",
            correlation_id=(contract.correlation_id if contract else "") or uuid.uuid4().hex,
            normalized={"type": "invoice.approved", "data": {"number": invoice.number}},
        )
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
        transactions_enqueue(transactions=[posting])
    return posting


def invoice_reject(*, invoice_id: int, actor: AbstractBaseUser, reason: str) -> Invoice:
    """Rejects a candidate; its time is released for a new candidate of the same period."""
    if not reason.strip():
        raise ApplicationError("A reason is required to reject.", errors={"reason": ["Required."]})
    with transaction.atomic():
        invoice = _locked_invoice(invoice_id)
        before = invoice.status
        invoice.status = InvoiceStatus.REJECTED
        invoice.save(update_fields=["status", "updated_at"])
        TimeEntry.objects.filter(invoice=invoice).update(invoice=None)
        audit_record(
            actor=actor,
            action="invoice.reject",
            obj=invoice,
            before={"status": before},
            after={"status": InvoiceStatus.REJECTED},
            reason=reason,
        )
    return invoice


def invoices_poll(*, limit: int = 200) -> int:
    """Asks the ERP about posted invoices; marks the paid ones. Returns how many were paid."""
    posted = list(Invoice.objects.filter(status=InvoiceStatus.POSTED).order_by("posted_at")[:limit])
    if not posted:
        return 0
    erp_system = target_system(SystemKind.ERP)
    erp = ErpClient(erp_system)
    paid = 0
    for invoice in posted:
        state = sync_state_for(invoice, erp_system)
        if state is None:
            continue
        try:
            status = (erp.get("invoice", state.external_id).get("status") or {}).get("id")
        except IntegrationError:
            continue  # asked again at the next poll
        if status == "paidInFull":
            Invoice.objects.filter(pk=invoice.pk, status=InvoiceStatus.POSTED).update(
                status=InvoiceStatus.PAID, paid_at=timezone.now()
            )
            paid += 1
    return paid
