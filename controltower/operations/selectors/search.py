"""The header's search: one box over customers, contracts, projects, invoices,
transactions and exceptions, by business key or name, partial and case-insensitive.

Each kind is read only by a user whose role may read it, newest first and at most
``PER_KIND`` hits of each, so a search costs one bounded query per kind whatever the
size of the tables (and one for the customers whose exceptions it finds). On PostgreSQL
the parts of keys are found through trigram indexes (``integrations`` migration 0033).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from canonical.models import Contract, Customer, Invoice, Project
from controltower.operations.models import BusinessException
from controltower.operations.selectors.exceptions import reverse_or_empty
from integrations.models import Transaction

PER_KIND = 10
# Shorter queries match half the tower; the page asks for more.
MIN_LENGTH = 2
# Exceptions are found by the customers the query matches, up to this many of them.
CUSTOMERS_MATCHED = 500


@dataclass(frozen=True)
class Hit:
    """One record found: its kind, its key, a line that says what it is, and its page."""

    kind: str
    key: str
    summary: str
    url: str


@dataclass(frozen=True)
class _Kind:
    label: str
    permission: str
    queryset: Callable[[str], QuerySet]
    hit: Callable[[Any], tuple[str, str, str]]


def _customers(term: str) -> QuerySet:
    return (
        Customer.objects.filter(Q(number__icontains=term) | Q(name__icontains=term))
        .select_related("legal_entity")
        .order_by("number")
    )


def _contracts(term: str) -> QuerySet:
    return (
        Contract.objects.filter(
            Q(number__icontains=term)
            | Q(customer__number__icontains=term)
            | Q(customer__name__icontains=term)
        )
        .select_related("customer")
        .order_by("-id")
    )


def _projects(term: str) -> QuerySet:
    return (
        Project.objects.filter(Q(code__icontains=term) | Q(name__icontains=term))
        .select_related("customer")
        .order_by("-id")
    )


def _invoices(term: str) -> QuerySet:
    return (
        Invoice.objects.filter(
            Q(number__icontains=term)
            | Q(erp_number__icontains=term)
            | Q(customer__name__icontains=term)
        )
        .select_related("customer", "project")
        .order_by("-id")
    )


def _transactions(term: str) -> QuerySet:
    # A correlation id is found whole (it is a long opaque id, copied, not typed in part).
    return Transaction.objects.filter(
        Q(business_key__icontains=term) | Q(correlation_id=term)
    ).order_by("-id")


def _exceptions(term: str) -> QuerySet:
    # The customers first (a small table), then their exceptions by id: a join inside the
    # OR would make PostgreSQL read every exception instead of its indexes.
    customers = list(
        Customer.objects.filter(Q(number__icontains=term) | Q(name__icontains=term)).values_list(
            "pk", flat=True
        )[:CUSTOMERS_MATCHED]
    )
    return (
        BusinessException.objects.filter(
            Q(business_key__icontains=term)
            | Q(message__icontains=term)
            | Q(customer_id__in=customers)
        )
        .select_related("customer")
        .order_by("-id")
    )


def _record_url(kind: str, pk: int) -> str:
    return reverse_or_empty("records:detail", kind, pk)


KINDS: tuple[_Kind, ...] = (
    _Kind(
        "Customer",
        "canonical.view_customer",
        _customers,
        lambda c: (
            c.number,
            f"{c.name} · {c.legal_entity.code} · {c.currency}",
            # Its own master-data events and everything in the lineage of its contracts.
            reverse_or_empty("transactions:list", query={"customer": c.number}),
        ),
    ),
    _Kind(
        "Contract",
        "canonical.view_contract",
        _contracts,
        lambda c: (
            c.number,
            f"{c.customer.name} · {c.get_billing_model_display()} · {c.get_status_display()}",
            _record_url("contract", c.pk),
        ),
    ),
    _Kind(
        "Project",
        "canonical.view_project",
        _projects,
        lambda p: (
            p.code,
            f"{p.name} · {p.customer.name} · {p.get_status_display()}",
            _record_url("project", p.pk),
        ),
    ),
    _Kind(
        "Invoice",
        "canonical.view_invoice",
        _invoices,
        lambda i: (
            i.number,
            f"{i.customer.name} · {i.project.code} · {i.period_start:%B %Y} · "
            f"{i.get_status_display()}{f' · ERP {i.erp_number}' if i.erp_number else ''}",
            _record_url("invoice", i.pk),
        ),
    ),
    _Kind(
        "Transaction",
        "integrations.view_transaction",
        _transactions,
        lambda t: (
            f"#{t.pk} {t.business_key}".strip(),
            # In the reader's zone (the page's), named.
            f"{t.event_type} · {t.get_state_display()} · "
            f"{timezone.localtime(t.received_at):%Y-%m-%d %H:%M %Z}",
            reverse_or_empty("transactions:detail", t.pk),
        ),
    ),
    _Kind(
        "Exception",
        "controltower.view_businessexception",
        _exceptions,
        lambda e: (
            e.business_key or f"#{e.pk}",
            f"{e.get_exception_type_display()} · {e.get_status_display()} · {e.message}",
            reverse_or_empty("exceptions:detail", e.pk),
        ),
    ),
)


def search(*, user: Any, query: str, per_kind: int = PER_KIND) -> list[tuple[str, list[Hit]]]:
    """The hits of ``query`` by kind, in the order of ``KINDS``; kinds the user may not
    read, and kinds with no hit, are left out."""
    term = query.strip()
    if len(term) < MIN_LENGTH:
        return []
    found: list[tuple[str, list[Hit]]] = []
    for kind in KINDS:
        if not user.has_perm(kind.permission):
            continue
        hits = list(_hits(kind, kind.queryset(term)[:per_kind]))
        if hits:
            found.append((kind.label, hits))
    return found


def _hits(kind: _Kind, rows: Iterable[Any]) -> Iterable[Hit]:
    for row in rows:
        key, summary, url = kind.hit(row)
        yield Hit(kind=kind.label, key=key, summary=summary, url=url)
