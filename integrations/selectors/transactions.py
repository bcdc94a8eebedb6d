"""Reads of transactions: the lists, the explorer's rows with their business columns, one
transaction with its attempts, children and lineage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from canonical.formats import money_text
from canonical.models import Contract, Customer, Invoice, Project
from integrations.flows.catalog import PROPAGATE_EVENT, REPUSH_EVENT
from integrations.models import (
    Attempt,
    RetentionSweep,
    Transaction,
)
from integrations.selectors.lineage import contract_records_lineage


def transaction_list() -> QuerySet[Transaction]:
    return Transaction.objects.select_related("flow", "source_system", "target_system")


def transaction_detail_queryset() -> QuerySet[Transaction]:
    return transaction_list().prefetch_related("attempts")


def transaction_state_counts() -> dict[str, int]:
    return dict(
        Transaction.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )


LINEAGE_LIMIT = 100
CHILDREN_LIMIT = 50


def transaction_explorer_list() -> QuerySet[Transaction]:
    """The explorer's rows: what its columns show, without the payload as received."""
    return transaction_list().defer("payload", "raw_body", "errors")


def transaction_page_detail(*, pk: int) -> Transaction | None:
    """One transaction with its attempts, its exception, its parent, its replays and the
    replay that replaced it."""
    return (
        transaction_list()
        .select_related("exception", "parent", "replaced_by")
        .prefetch_related(
            Prefetch("attempts", queryset=Attempt.objects.order_by("number")),
        )
        .filter(pk=pk)
        .first()
    )


def transaction_children(*, tx: Transaction, limit: int = CHILDREN_LIMIT) -> list[Transaction]:
    """The transactions that replay ``tx`` or that it spawned, oldest first."""
    return list(
        transaction_explorer_list().filter(parent_id=tx.pk).order_by("received_at", "pk")[:limit]
    )


@dataclass
class BusinessFields:
    """What a transaction is about in the business's words: customer, contract, project, amount."""

    customer: str = ""
    customer_name: str = ""
    contract: str = ""
    project: str = ""
    invoice: str = ""
    amount: Decimal | None = None
    currency: str = ""
    hours: Decimal | None = None

    @property
    def customer_text(self) -> str:
        return f"{self.customer} {self.customer_name}".strip()

    @property
    def amount_text(self) -> str:
        if self.amount is not None:
            return money_text(self.amount, self.currency)
        if self.hours is not None:
            return f"{self.hours.normalize():f} h"
        return ""


def decimal_or_none(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _text(value: Any) -> str:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""


def event_data(tx: Transaction) -> dict[str, Any]:
    normalized = tx.normalized if isinstance(tx.normalized, dict) else {}
    data = normalized.get("data")
    return data if isinstance(data, dict) else {}


def _business_seed(tx: Transaction) -> BusinessFields:
    """What the normalized event itself says, without a query."""
    data = event_data(tx)
    fields = BusinessFields()
    kind = tx.event_type
    if kind in ("contract.signed", "contract.amended"):
        fields.contract = _text(data.get("number"))
        fields.customer = _text(data.get("customer"))
        fields.amount = decimal_or_none(data.get("cap_amount"))
        fields.currency = _text(data.get("currency"))
        project = data.get("project")
        if isinstance(project, dict):
            fields.project = _text(project.get("code"))
    elif kind == "customer.upserted":
        fields.customer = _text(data.get("number"))
        fields.customer_name = _text(data.get("name"))
    elif kind == "project.upserted":
        fields.project = _text(data.get("code"))
    elif kind in ("assignment.upserted", "time_entry.approved"):
        fields.project = _text(data.get("project"))
        if kind == "time_entry.approved":
            fields.hours = decimal_or_none(data.get("hours"))
    elif kind in ("milestone.reached", "invoice.monthly_fee"):
        fields.contract = _text(data.get("contract"))
    elif kind == "invoice.approved":
        fields.invoice = _text(data.get("number"))
    elif kind == "invoice.rebuild":
        fields.project = _text(data.get("project"))
        fields.invoice = _text(data.get("rejected"))
    elif kind == PROPAGATE_EVENT:
        fields.project = _text(data.get("project"))
    elif kind == REPUSH_EVENT:
        key = _text(data.get("key"))
        if data.get("record_type") == "contract":
            fields.contract = key
        elif data.get("record_type") == "project":
            fields.project = key
    return fields


def transactions_business_fields(*, transactions: Sequence[Transaction]) -> None:
    """Gives each transaction ``business`` (a BusinessFields), for the explorer's columns.

    Read from the normalized event; what an event names only by a key (a project code,
    an invoice number) is completed from the canonical records in at most one query per
    kind of record, whatever the number of rows.
    """
    seeds = [(tx, _business_seed(tx)) for tx in transactions]
    invoices = {f.invoice for _, f in seeds if f.invoice}
    if invoices:
        found = Invoice.objects.filter(number__in=invoices).values_list(
            "number",
            "customer__number",
            "project__code",
            "project__contract__number",
            "amount",
            "currency",
        )
        by_number = {row[0]: row[1:] for row in found}
        for _, f in seeds:
            if f.invoice in by_number:
                customer, project, contract, amount, currency = by_number[f.invoice]
                f.customer = f.customer or customer
                f.project = f.project or project
                f.contract = f.contract or (contract or "")
                f.amount, f.currency = amount, currency
    projects = {f.project for _, f in seeds if f.project and not (f.contract and f.customer)}
    if projects:
        found = Project.objects.filter(code__in=projects).values_list(
            "code", "customer__number", "contract__number"
        )
        by_code = {code: (customer, contract) for code, customer, contract in found}
        for _, f in seeds:
            if f.project in by_code:
                customer, contract = by_code[f.project]
                f.customer = f.customer or customer
                f.contract = f.contract or (contract or "")
    contracts = {f.contract for _, f in seeds if f.contract and not f.customer}
    if contracts:
        by_contract = dict(
            Contract.objects.filter(number__in=contracts).values_list("number", "customer__number")
        )
        for _, f in seeds:
            if not f.customer and f.contract in by_contract:
                f.customer = by_contract[f.contract]
    customers = {f.customer for _, f in seeds if f.customer and not f.customer_name}
    if customers:
        names = dict(Customer.objects.filter(number__in=customers).values_list("number", "name"))
        for _, f in seeds:
            if not f.customer_name:
                f.customer_name = names.get(f.customer, "")
    for tx, f in seeds:
        tx.business = f


def transaction_lineage(*, tx: Transaction, limit: int = LINEAGE_LIMIT) -> dict[str, Any]:
    """Every other transaction with ``tx``'s correlation id, and the contract it belongs to
    with its downstream records and their sync state.

    A replay and the transaction it replays belong together even when only one of them
    reached its contract (a blocked original keeps the correlation id it arrived with): each
    is in the other's lineage, and an original without a contract shows its replacement's.
    """
    related: list[Transaction] = []
    contract = None
    family = Q(pk__in=[pk for pk in (tx.parent_id, tx.replaced_by_id) if pk]) | Q(parent_id=tx.pk)
    correlation_ids = [tx.correlation_id] if tx.correlation_id else []
    if tx.replaced_by_id and tx.replaced_by.correlation_id not in ("", *correlation_ids):
        correlation_ids.append(tx.replaced_by.correlation_id)
    if tx.correlation_id or tx.parent_id or tx.replaced_by_id:
        same = Q(correlation_id=tx.correlation_id) if tx.correlation_id else Q(pk__in=[])
        related = list(
            transaction_explorer_list()
            .filter(same | family)
            .exclude(pk=tx.pk)
            .order_by("received_at", "pk")[: limit + 1]
        )
    for correlation_id in correlation_ids:
        contract = (
            Contract.objects.select_related("customer")
            .filter(correlation_id=correlation_id)
            .first()
        )
        if contract is not None:
            break
    return {
        "transactions": related[:limit],
        "more": len(related) > limit,
        "contract": contract,
        "records": contract_records_lineage(contract) if contract is not None else None,
    }


def retention_sweep_of(*, transaction_id: int) -> RetentionSweep | None:
    """The retention run that removed ``transaction_id``, if one did (the caller has found
    that the transaction is no longer there)."""
    return (
        RetentionSweep.objects.filter(first_id__lte=transaction_id, last_id__gte=transaction_id)
        .order_by("cutoff")
        .first()
    )
