"""Following posted invoices to payment in the ERP, and queueing the monthly fees."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.models import Invoice
from canonical.selectors import contracts_with_fee_due
from canonical.services.terms import INVOICE_TERMS_WAIT
from integrations.choices import FlowKind, TransactionState
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.models import Transaction
from integrations.selectors.routing import erp_for_or_none
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.queueing import transaction_internal_create, transactions_enqueue


def invoices_poll(*, limit: int = 200) -> int:
    """Asks each invoice's ERP (the instance that owns its legal entity) about posted
    invoices; marks the paid ones. Returns how many were paid."""
    posted = list(
        Invoice.objects.filter(status=InvoiceStatus.POSTED)
        .select_related("legal_entity")
        .order_by("posted_at")[:limit]
    )
    if not posted:
        return 0
    clients: dict[str, ErpClient | None] = {}
    paid = 0
    for invoice in posted:
        code = invoice.legal_entity.code
        if code not in clients:
            system = erp_for_or_none(code)
            clients[code] = ErpClient(system) if system is not None else None
        erp = clients[code]
        if erp is None:
            continue  # asked again once the legal entity has its ERP
        state = sync_state_for(invoice, erp.system)
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


def monthly_fees_queue(*, day: date | None = None) -> list[Transaction]:
    """Queues, for each retainer and managed service running in the month of ``day`` (today),
    the billing of its monthly fee: beat runs this on the first of each month.

    One transaction per contract, so that a hold on one parks only its own fee; a
    contract already queued for the month is not queued again (and its fee is billed
    once whatever runs twice).
    """
    period_start = (day or timezone.localdate()).replace(day=1)
    queued = []
    with transaction.atomic():
        for contract in contracts_with_fee_due(period_start=period_start):
            key = f"monthly_fee:{contract.number}:{period_start:%Y%m}"
            if (
                Transaction.objects.filter(source_system=None, idempotency_key=key)
                .exclude(state=TransactionState.REJECTED)
                .exists()
            ):
                continue
            queued.append(
                transaction_internal_create(
                    flow=FlowKind.TIME_TO_BILLING,
                    event_type="invoice.monthly_fee",
                    business_key=f"{contract.number} {period_start:%Y-%m}",
                    idempotency_key=key,
                    correlation_id=contract.correlation_id,
                    data={"contract": contract.number, "period_start": period_start.isoformat()},
                )
            )
        transactions_enqueue(transactions=queued)
    return queued


def invoice_terms_waits_clear(*, invoices: QuerySet[Invoice], resolution: str) -> int:
    """Re-runs the postings of ``invoices`` parked for their tax code, payment terms or
    bill-to account (a customer, contract or accepted list of theirs changed); one still
    wrong parks again. Call inside the transaction that stored the change."""
    numbers = invoices.filter(status=InvoiceStatus.APPROVED).values_list("number", flat=True)
    keys = [waiting_key(INVOICE_TERMS_WAIT, number) for number in numbers]
    return exceptions_clear(waiting_on=keys, resolution=resolution) if keys else 0
