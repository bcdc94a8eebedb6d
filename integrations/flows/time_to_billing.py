"""Time to billing: approved time, checked against the billing rules, grouped into invoice
candidates per project and month; an approved candidate is posted to the ERP, whose invoice
number and payment status the tower then follows."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from canonical.choices import InvoiceStatus
from canonical.errors import ConflictError
from canonical.models import Contract, Invoice
from canonical.services.billing import (
    invoice_candidate_rebuild,
    milestone_reach,
    monthly_fee_bill,
    time_entry_approve,
)
from canonical.services.billing_batch import ApprovedTime, time_entries_approve
from canonical.services.delivery import project_for
from canonical.services.terms import invoice_billing_terms
from integrations.choices import Domain, ExceptionType, Outcome
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.flows.compensation import posted_time_reduced
from integrations.flows.master_data import erp_customer_push
from integrations.flows.pushing import push
from integrations.flows.registry import handles, handles_batch
from integrations.selectors.routing import erp_for, erp_owner_check
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import waiting_key
from integrations.services.finance import revenue_schedule_queue
from integrations.services.lineage import link_to_contract, links_to_contract
from integrations.services.outbox import invoice_posted_publish
from integrations.services.sync import (
    key_for_external_id,
    ref_prefix_of,
    sync_state_from_sender,
    sync_states_from_sender,
)

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


def _approved_time(data: dict, *, version: int) -> ApprovedTime:
    """What a ``time_entry.approved`` event says, its cross-references already the tower's keys."""
    return ApprovedTime(
        number=data["number"],
        project_code=data["project"],
        employee_number=data["resource"],
        work_date=date.fromisoformat(data["work_date"]),
        hours=Decimal(str(data["hours"])),
        billable=data["billable"],
        approved_at=datetime.fromisoformat(data["approved_at"].replace("Z", "+00:00"))
        if data.get("approved_at")
        else None,
        version=version,
    )


@handles("time_entry.approved", domain=Domain.TIME)
def time_entry_approved(tx: Transaction) -> str:
    data = tx.normalized["data"]
    approved = _approved_time(
        {
            **data,
            "project": key_for_external_id(
                system=tx.source_system, kind="project", key=data["project"]
            ),
            "resource": key_for_external_id(
                system=tx.source_system, kind="resource", key=data["resource"]
            ),
        },
        version=tx.event_version or 1,
    )
    result = time_entry_approve(**vars(approved), source_system=tx.source_system.slug)
    link_to_contract(tx, result.entry.project)
    if result.credit is not None:
        # Fewer hours than a posted invoice billed: a credit note, never a changed invoice.
        posted_time_reduced(tx, result.credit)
    if result.outcome != Outcome.STALE:
        sync_state_from_sender(
            tx=tx,
            record=result.entry,
            outcome=result.outcome,
            key=data["number"],
        )
    return result.outcome


@handles_batch("time_entry.approved")
def time_entry_approved_batch(txs: list[Transaction]) -> tuple[dict[int, str], list[Transaction]]:
    """The set-based time_entry_approved: a fixed number of statements for a chunk
    (``time_entries_approve``).

    Left to the one-by-one path: events from another system than the chunk's first, those
    naming a project or resource by the sender's own id (linked one by one), and what the
    canonical service leaves (a refusal, or entries whose order matters).
    """
    txs = sorted(txs, key=lambda tx: tx.pk)
    system = txs[0].source_system
    prefix = ref_prefix_of(system).upper()
    taken: list[Transaction] = []
    left: list[Transaction] = []
    for tx in txs:
        data = tx.normalized["data"]
        own_ids = prefix and any(
            str(data[kind]).upper().startswith(prefix) for kind in ("project", "resource")
        )
        (left if own_ids or tx.source_system_id != system.pk else taken).append(tx)
    results = time_entries_approve(
        entries=[
            _approved_time(tx.normalized["data"], version=tx.event_version or 1) for tx in taken
        ],
        source_system=system.slug,
    )
    outcomes: dict[int, str] = {}
    for index, tx in enumerate(taken):
        if index not in results:
            left.append(tx)
            continue
        outcomes[tx.pk] = results[index].outcome
    done = [(tx, results[i]) for i, tx in enumerate(taken) if i in results]
    links_to_contract([(tx, result.entry.project) for tx, result in done])
    sync_states_from_sender(
        synced=[
            (tx, result.entry, tx.normalized["data"]["number"])
            for tx, result in done
            if result.outcome != Outcome.STALE
        ]
    )
    return outcomes, left


@handles("milestone.reached", domain=Domain.CONTRACT)
def milestone_reached(tx: Transaction) -> str:
    data = tx.normalized["data"]
    invoice = milestone_reach(
        contract_number=data["contract"],
        code=data["code"],
        reached_on=date.fromisoformat(data["reached_on"]),
        source_system=tx.source_system.slug,
    )
    if invoice is not None:
        link_to_contract(tx, invoice.project)
        revenue_schedule_queue(contract=invoice.project.contract)  # recognised this month
    return Outcome.APPLIED if invoice is not None else Outcome.UNCHANGED


@handles("invoice.rebuild")
def invoice_rebuild(tx: Transaction) -> str:
    """After a rejection was worked: the month's unbilled time goes on a new candidate."""
    data = tx.normalized["data"]
    project = project_for(code=data["project"])
    invoice = invoice_candidate_rebuild(
        project=project, period_start=date.fromisoformat(data["period_start"])
    )
    link_to_contract(tx, project)
    return Outcome.APPLIED if invoice is not None else Outcome.UNCHANGED


@handles("invoice.monthly_fee")
def monthly_fee_billed(tx: Transaction) -> str:
    """A retainer's or managed service's fee for the month, on its candidate, once."""
    data = tx.normalized["data"]
    contract = Contract.objects.get(number=data["contract"])
    invoice = monthly_fee_bill(contract=contract, day=date.fromisoformat(data["period_start"]))
    if invoice is not None:
        link_to_contract(tx, invoice.project)
        revenue_schedule_queue(contract=contract)
    return Outcome.APPLIED if invoice is not None else Outcome.UNCHANGED


@handles("invoice.approved", atomic=False)
def invoice_post(tx: Transaction) -> str:
    """Posts an approved invoice to the ERP once, and records the ERP's invoice number."""
    invoice = Invoice.objects.select_related("project__contract", "customer", "legal_entity").get(
        number=tx.normalized["data"]["number"]
    )
    if invoice.status in (InvoiceStatus.POSTED, InvoiceStatus.PAID):
        return Outcome.UNCHANGED
    invoice_send(tx, invoice)
    return Outcome.APPLIED


def invoice_send(tx: Transaction, invoice: Invoice) -> None:
    """Sends the invoice to its ERP unless the ERP holds this version (a re-push marks it
    stale first), and marks it posted with the ERP's invoice number."""
    erp_system = _erp_of(tx, invoice)
    # Before anything reaches the ERP: whom it bills, with which tax code and terms.
    terms = invoice_billing_terms(invoice=invoice)
    erp = ErpClient(erp_system)
    job = sync_state_for(invoice.project, erp_system)
    customer = sync_state_for(invoice.customer, erp_system)
    if job is None or customer is None:
        raise IntegrationError.business(
            f"Project {invoice.project.code} is not in the ERP yet; invoice {invoice.number} waits for it.",
            code=ExceptionType.UNKNOWN_PROJECT,
            waiting_on=waiting_key("erp_project", invoice.project.code),
            money_at_risk=invoice.amount,
            currency=invoice.currency,
        )
    # The bill-to account is in the ERP once its record (with its parent) is there.
    entity = (
        customer.external_id
        if terms.bill_to.pk == invoice.customer_id
        else erp_customer_push(tx, terms.bill_to, erp_system)
    )
    body = {
        "externalId": invoice.number,
        "entity": {"id": entity},
        "job": {"id": job.external_id},
        "subsidiary": {"id": invoice.legal_entity.code},
        "currency": {"refName": invoice.currency},
        "tranDate": invoice.period_end.isoformat(),
        "memo": f"{invoice.project.code} {invoice.period_start:%B %Y}",
        "terms": {"externalId": terms.payment_terms},
        "item": {
            "items": [
                {
                    "description": line.description,
                    "quantity": str(line.quantity),
                    "rate": str(line.rate),
                    "amount": str(line.amount),
                    "taxCode": {"externalId": terms.tax_code},
                    # A rebilled expense says its category.
                    **(
                        {"category": {"refName": line.expense_line.category}}
                        if line.expense_line is not None
                        else {}
                    ),
                }
                for line in invoice.lines.select_related("expense_line").order_by("id")
            ]
        },
    }
    erp_id = push(
        tx,
        invoice,
        erp_system,
        content=body,
        external_id_of=lambda current: current or erp.ensure("invoice", body),
    )
    erp_invoice = erp.get("invoice", erp_id)
    with transaction.atomic():
        erp_number = erp_invoice.get("tranId", "")
        Invoice.objects.filter(pk=invoice.pk).update(
            status=InvoiceStatus.POSTED, erp_number=erp_number, posted_at=timezone.now()
        )
        invoice_posted_publish(invoice=invoice, erp_number=erp_number)
        if invoice.project.contract_id:
            # The invoice's time is revenue recognised now, no longer planned.
            revenue_schedule_queue(contract=invoice.project.contract)


def _erp_of(tx: Transaction, invoice: Invoice) -> ConnectedSystem:
    """The ERP instance that owns the invoice's legal entity; a posting addressed to
    another instance (``tx.target_system``) is refused, never sent there."""
    owner = erp_for(invoice.legal_entity.code)
    target = tx.target_system
    if target is not None:
        try:
            erp_owner_check(
                system=target,
                legal_entity_code=invoice.legal_entity.code,
                what=f"invoice {invoice.number}",
            )
        except ConflictError as refused:
            raise IntegrationError.business(
                refused.message,
                code=ExceptionType.ERP_NOT_ROUTED,
                details={"legal_entity": invoice.legal_entity.code, "system": target.slug},
                money_at_risk=invoice.amount,
                currency=invoice.currency,
            ) from refused
    return owner
