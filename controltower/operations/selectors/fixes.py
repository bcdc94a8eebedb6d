"""The fix of an exception that is made in the tower itself, and who may make it.

A missing rate card line is added by finance (rates are pricing: the approver and admin
roles see and set them); an invoice's tax code or payment terms are set by finance too,
from the codes its legal entity's ERP accepts; a record that lives in another system
(a legal entity, a customer, a resource) is fixed there and checked again here by an
operator. The page says who may do it before anyone clicks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from canonical.choices import AcceptedCodeKind
from canonical.models import AcceptedCode, Customer, Invoice, RateCard
from canonical.services.terms import INVOICE_TERMS_WAIT, bill_to_of
from integrations.choices import OPEN_STATUSES
from integrations.services.exceptions import RECHECKABLE
from integrations.services.sync import link_pick_of

# Who may make each fix: rates are pricing (finance); invoice codes are finance's too.
FIX_RATE = "canonical.see_pricing"
FIX_BILLING_CODE = "canonical.approve_invoice"
FIX_RECHECK = "controltower.work_businessexception"
FINANCE = "a finance role (approver or admin)"
OPERATOR = "the operator role or above"

# Where a record that lives in another system is corrected, by the kind it waits on.
WHERE_FIXED = {
    "legal_entity": "Legal entities come from the ERP that keeps their books. If the code "
    "is a typo in the sending system, correct it there and it sends the record again; if it "
    "is a new group company, it arrives with the ERP's next sync (an admin may add it here).",
    "customer": "Customers come from the CRM. If the number is a typo in the sending system, "
    "correct it there; a new customer arrives when it is saved in the CRM (an admin may add "
    "it here).",
    "resource": "People come from the HRIS. If the employee number is wrong in the sending "
    "system, correct it there; a new hire arrives with the HRIS's next sync (an admin may add "
    "it here).",
}


@dataclass(frozen=True)
class TowerFix:
    """A fix made on the exception's page: ``action`` names the form (``rate``,
    ``billing_code``, ``recheck``); ``permission`` who may use it, ``who`` in words."""

    action: str
    permission: str
    who: str
    title: str
    facts: dict[str, Any] = field(default_factory=dict)


def _parts(exc: Any) -> tuple[str, list[str]]:
    kind, _, rest = (exc.waiting_on or "").partition(":")
    return kind, [p for p in rest.split(":") if p]


def rate_fix_of(exc: Any) -> TowerFix | None:
    kind, parts = _parts(exc)
    if kind != "rate_card" or len(parts) < 2:
        return None
    card = RateCard.objects.filter(code=parts[0]).first()
    if card is None:
        return None
    role = (exc.details or {}).get("role") or parts[1].title()
    return TowerFix(
        "rate",
        FIX_RATE,
        FINANCE,
        f"Add the {role} rate to rate card {card.code}",
        {"rate_card": card, "role": role, "currency": card.currency},
    )


def billing_code_fix_of(exc: Any) -> TowerFix | None:
    kind, parts = _parts(exc)
    if kind != INVOICE_TERMS_WAIT or not parts:
        return None
    details = exc.details or {}
    code_kind = details.get("missing") or details.get("kind")
    if code_kind not in AcceptedCodeKind.values:
        return None  # a bill-to account problem: fixed on the customer in the CRM
    invoice = (
        Invoice.objects.select_related("customer__parent", "project__contract", "legal_entity")
        .filter(number=parts[0])
        .first()
    )
    if invoice is None:
        return None
    bill_to = bill_to_of(invoice.customer)
    contract = invoice.project.contract if invoice.project_id else None
    accepted = list(
        AcceptedCode.objects.filter(
            legal_entity=invoice.legal_entity, kind=code_kind, active=True
        ).values_list("code", "name")
    )
    label = AcceptedCodeKind(code_kind).label.lower()
    # The code the invoice took came from its contract when the contract names one.
    target = "contract" if contract is not None and getattr(contract, code_kind) else "customer"
    return TowerFix(
        "billing_code",
        FIX_BILLING_CODE,
        FINANCE,
        f"Set the {label} of invoice {invoice.number}",
        {
            "kind": code_kind,
            "label": label,
            "invoice": invoice,
            "bill_to": bill_to,
            "contract": contract,
            "accepted": accepted,
            "target": target,
        },
    )


def recheck_fix_of(exc: Any) -> TowerFix | None:
    kind, parts = _parts(exc)
    if kind not in RECHECKABLE or not parts or link_pick_of(exc) is not None:
        return None
    return TowerFix(
        "recheck",
        FIX_RECHECK,
        OPERATOR,
        "Check again now",
        {"where": WHERE_FIXED.get(kind, "")},
    )


def tower_fix_of(exc: Any) -> TowerFix | None:
    """The fix made on the exception's own page, or None (fixed elsewhere, or not open)."""
    if exc.status not in OPEN_STATUSES:
        return None
    return rate_fix_of(exc) or billing_code_fix_of(exc) or recheck_fix_of(exc)


def customer_invoices(customer: Customer) -> Any:
    """The invoices a change of ``customer``'s codes may release: its own, and those of the
    customers it is the bill-to account of."""
    return Invoice.objects.filter(Q(customer=customer) | Q(customer__parent=customer))
