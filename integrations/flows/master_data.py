"""Master-data sync: legal entities, customers, resources, rate cards and project changes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from canonical.models import Customer, Invoice, LegalEntity, Project
from canonical.services.base import business_key
from canonical.services.delivery import project_change, project_for
from canonical.services.parties import (
    customer_upsert,
    legal_entity_upsert,
    rate_card_upsert,
    resource_upsert,
)
from integrations.choices import OPEN_STATUSES, Domain, FlowKind, Outcome
from integrations.clients.erp import ErpClient
from integrations.flows.catalog import PROPAGATE_EVENT
from integrations.flows.pushing import push
from integrations.flows.registry import handles, handles_batch
from integrations.models import ExceptionRecord
from integrations.selectors.sync import sync_state_for
from integrations.services.billing import invoice_terms_waits_clear
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.queueing import transaction_internal_create, transactions_enqueue
from integrations.services.staffing import (
    assignment_dates_clear,
    current_assignments,
    skills_judge,
)
from integrations.services.sync import sync_state_from_sender, sync_states_from_sender

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


@handles("legal_entity.upserted", domain=Domain.LEGAL_ENTITY)
def legal_entity_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = legal_entity_upsert(
        code=data["code"],
        name=data["name"],
        country=data["country"],
        currency=data["currency"],
        active=data.get("active", True),
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED and result.record.active:
        exceptions_clear(
            waiting_on=waiting_key("legal_entity", result.record.code),
            resolution=f"Legal entity {result.record.code} arrived from {tx.source_system.slug}.",
        )
    sync_state_from_sender(
        tx=tx,
        record=result.record,
        outcome=result.outcome,
        key=data["code"],
    )
    return result.outcome


@handles("customer.upserted", domain=Domain.CUSTOMER)
def customer_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = customer_upsert(
        number=data["number"],
        name=data["name"],
        legal_entity_code=data["legal_entity"],
        currency=data["currency"],
        active=data.get("active", True),
        tax_code=data.get("tax_code"),
        payment_terms=data.get("payment_terms"),
        parent_number=(data.get("parent") or "") if "parent" in data else None,
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        # Not the holds: an event does not lift a billing hold; the recheck sees it lifted.
        exceptions_clear(
            waiting_on=waiting_key("customer", result.record.number),
            resolution=f"Customer {result.record.number} arrived from {tx.source_system.slug}.",
        )
        _customer_invoices_release([result.record.number], system=tx.source_system.slug)
    sync_state_from_sender(
        tx=tx,
        record=result.record,
        outcome=result.outcome,
        key=data["number"],
    )
    return result.outcome


@handles("resource.upserted", domain=Domain.RESOURCE)
def resource_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    result = resource_upsert(
        employee_number=data["employee_number"],
        name=data["name"],
        role=data["role"],
        legal_entity_code=data["legal_entity"],
        email=data.get("email", ""),
        cost_rate=Decimal(str(data["cost_rate"])) if data.get("cost_rate") is not None else None,
        active=data.get("active", True),
        skills=data.get("skills"),
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        exceptions_clear(
            waiting_on=waiting_key("resource", result.record.employee_number),
            resolution=f"Resource {result.record.employee_number} arrived from {tx.source_system.slug}.",
        )
        if data.get("skills") is not None:
            # Only skills change what the person's assignments lack: an event that names
            # none keeps them, and costs the master-data path no read of assignments.
            skills_judge(tx=tx, assignments=current_assignments(resource=result.record))
    sync_state_from_sender(
        tx=tx,
        record=result.record,
        outcome=result.outcome,
        key=data["employee_number"],
    )
    return result.outcome


@handles("rate_card.upserted", domain=Domain.RATE_CARD)
def rate_card_sync(tx: Transaction) -> str:
    data = tx.normalized["data"]
    lines = {line["role"]: Decimal(str(line["rate"])) for line in data["lines"]}
    result = rate_card_upsert(
        code=data["code"],
        name=data["name"],
        currency=data["currency"],
        legal_entity_code=data.get("legal_entity", ""),
        lines=lines,
        version=tx.event_version or 1,
        source_system=tx.source_system.slug,
    )
    if result.outcome == Outcome.APPLIED:
        code = result.record.code
        resolution = f"Rate card {code} arrived from {tx.source_system.slug}."
        exceptions_clear(waiting_on=waiting_key("rate_card", code), resolution=resolution)
        for role in lines:
            exceptions_clear(waiting_on=waiting_key("rate_card", code, role), resolution=resolution)
    sync_state_from_sender(
        tx=tx,
        record=result.record,
        outcome=result.outcome,
        key=data["code"],
    )
    return result.outcome


def _customer_invoices_release(numbers: list[str], *, system: str) -> None:
    """The invoices of these customers, and of the customers they are the bill-to account
    of, parked for their tax code, terms or bill-to, try again."""
    invoice_terms_waits_clear(
        invoices=Invoice.objects.filter(
            Q(customer__number__in=numbers) | Q(customer__parent__number__in=numbers)
        ),
        resolution=f"Customer {', '.join(numbers)} changed in {system}.",
    )


def erp_customer_push(
    tx: Transaction,
    customer: Customer,
    erp_system: ConnectedSystem,
    *,
    below: frozenset[int] = frozenset(),
) -> str:
    """The customer's record in ``erp_system`` (NetSuite's ``customer``), created or brought
    to the customer's current version, its bill-to account (``parent``) first; its id there.

    ``below`` are the customers whose push asked for this one: a cycle of parents (which
    the tower refuses, but two changes at once could make) stops instead of looping."""
    erp = ErpClient(erp_system)
    body: dict[str, Any] = {
        "externalId": customer.number,
        "entityId": customer.number,
        "companyName": customer.name,
        "subsidiary": {"id": customer.legal_entity.code},
        "currency": {"refName": customer.currency},
    }
    if customer.parent_id and customer.parent_id not in below | {customer.pk}:
        parent = Customer.objects.select_related("legal_entity").get(pk=customer.parent_id)
        body["parent"] = {
            "id": erp_customer_push(tx, parent, erp_system, below=below | {customer.pk})
        }
    if customer.payment_terms:
        body["terms"] = {"externalId": customer.payment_terms}
    return push(
        tx,
        customer,
        erp_system,
        content=body,
        external_id_of=lambda current: erp.upsert("customer", body, record_id=current),
    )


def _day_of(tx: Transaction) -> date:
    """The day the event happened in its system, else the day the tower received it."""
    at = parse_datetime(tx.normalized.get("occurred_at") or "")
    if at is None:
        return timezone.localdate(tx.received_at)
    return timezone.localdate(at) if timezone.is_aware(at) else at.date()


@handles("project.upserted", domain=Domain.PROJECT)
def project_sync(tx: Transaction) -> str:
    """A PSA's change to a project (status, dates, holds), judged against the PSA's own versions."""
    data = tx.normalized["data"]
    project = project_for(code=data["code"])
    held = sync_state_for(project, tx.source_system)
    version = tx.event_version or 1
    # Judged by the PSA's own numbering: the tower's pushes count canonical versions.
    if held and held.source_version is not None and version <= held.source_version:
        return Outcome.STALE if version < held.source_version else Outcome.UNCHANGED
    project = project_change(
        code=data["code"],
        source_system=tx.source_system.slug,
        changes={
            "status": data["status"],
            "name": data.get("name"),
            "billable": data.get("billable"),
            "billing_hold": data.get("billing_hold"),
            "start_date": date.fromisoformat(data["start_date"])
            if data.get("start_date")
            else None,
            "end_date": date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
        },
        changed_on=_day_of(tx),
    )
    exceptions_clear(
        waiting_on=[
            waiting_key(kind, project.code)
            for kind in ("project", "project_active", "project_hold", "project_rates")
        ],
        resolution=f"Project {project.code} changed in {tx.source_system.slug}.",
    )
    assignment_dates_clear(
        project=project,
        resolution=f"Project {project.code}'s dates changed in {tx.source_system.slug}; "
        "the assignment fits them now.",
    )
    sync_state_from_sender(
        tx=tx,
        record=project,
        outcome=Outcome.APPLIED,
        key=data["code"],
        version=project.version,  # the PSA holds what the tower now holds
    )
    if project.contract_id:
        _propagate(tx, project)
    return Outcome.APPLIED


def _propagate(tx: Transaction, project: Project) -> None:
    """Queues the push of the changed project to the other systems that hold a copy."""
    propagation = transaction_internal_create(
        flow=FlowKind.MASTER_DATA_SYNC,  # not contract to project: its cycle time stays true
        event_type=PROPAGATE_EVENT,
        business_key=project.code,
        idempotency_key=f"project:{project.code}:v{project.version}:propagate",
        correlation_id=project.contract.correlation_id or tx.correlation_id,
        data={"project": project.code, "version": project.version, "changed_by": tx.pk},
    )
    transactions_enqueue(transactions=[propagation])


@handles_batch("customer.upserted")
def customer_sync_batch(txs: list[Transaction]) -> tuple[dict[int, str], list[Transaction]]:
    """The set-based customer_sync: a few statements for a whole chunk.

    Left to the one-by-one path: a second event for a customer already in this batch
    (so that versions apply in order), events from another system, and events whose
    legal entity is missing or inactive (so that the failure is recorded as always).
    """
    key = business_key
    system = txs[0].source_system
    first: dict[str, Transaction] = {}
    left: list[Transaction] = []
    for tx in txs:
        number = key(tx.normalized["data"]["number"])
        # A bill-to account is looked up (it may wait, or make a cycle) one by one.
        if number in first or tx.source_system_id != system.pk or "parent" in tx.normalized["data"]:
            left.append(tx)
        else:
            first[number] = tx
    codes = {key(tx.normalized["data"]["legal_entity"]) for tx in first.values()}
    entities = {le.code: le for le in LegalEntity.objects.filter(code__in=codes, active=True)}
    existing = {
        c.number: c for c in Customer.objects.select_for_update().filter(number__in=list(first))
    }
    now = timezone.now()
    outcomes: dict[int, str] = {}
    to_create: list[Customer] = []
    to_update: list[Customer] = []
    synced: list[tuple[Transaction, Customer]] = []
    for number, tx in first.items():
        data = tx.normalized["data"]
        entity = entities.get(key(data["legal_entity"]))
        if entity is None:
            left.append(tx)
            continue
        version = tx.event_version or 1
        values = {
            "name": data["name"].strip(),
            "legal_entity": entity,
            "currency": key(data["currency"]),
            "active": data.get("active", True),
        }
        # As one by one: a code the event does not carry is left as it is.
        for field in ("tax_code", "payment_terms"):
            if data.get(field) is not None:
                values[field] = data[field].strip()
        record = existing.get(number)
        if record is None:
            record = Customer(number=number, version=version, source_system=system.slug, **values)
            to_create.append(record)
        elif version < record.version:
            outcomes[tx.pk] = Outcome.STALE
            continue
        elif version == record.version:
            outcomes[tx.pk] = Outcome.UNCHANGED
            synced.append((tx, record))
            continue
        else:
            for name, value in values.items():
                setattr(record, name, value)
            record.version, record.source_system, record.updated_at = version, system.slug, now
            to_update.append(record)
        outcomes[tx.pk] = Outcome.APPLIED
        synced.append((tx, record))
    Customer.objects.bulk_create(to_create)
    if to_update:
        Customer.objects.bulk_update(
            to_update,
            [
                "name",
                "legal_entity",
                "currency",
                "active",
                "tax_code",
                "payment_terms",
                "version",
                "source_system",
                "updated_at",
            ],
        )
    # What waited on one of these customers is released, as customer_sync does one by one.
    applied = {r.number: tx for tx, r in synced if outcomes[tx.pk] == Outcome.APPLIED}
    waiting = set(
        ExceptionRecord.objects.filter(
            waiting_on__in=[waiting_key("customer", n) for n in applied], status__in=OPEN_STATUSES
        ).values_list("waiting_on", flat=True)
    )
    for number in applied:
        if waiting_key("customer", number) in waiting:
            exceptions_clear(
                waiting_on=waiting_key("customer", number),
                resolution=f"Customer {number} arrived from {system.slug}.",
            )
    if applied:
        _customer_invoices_release(list(applied), system=system.slug)
    sync_states_from_sender(
        synced=[(tx, record, tx.normalized["data"]["number"]) for tx, record in synced]
    )
    return outcomes, left
