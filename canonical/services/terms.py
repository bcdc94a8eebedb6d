"""Tax codes, payment terms and bill-to accounts: what an invoice is addressed to and
carries, checked against the codes its legal entity's ERP accepts."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from canonical.choices import AcceptedCodeKind, RuleCode
from canonical.errors import ApplicationError, RuleViolation
from canonical.models import AcceptedCode, Contract, Customer, Invoice, LegalEntity

# What an invoice parked for its terms waits on: ``invoice_terms:<invoice number>``.
INVOICE_TERMS_WAIT = "invoice_terms"


@dataclass(frozen=True)
class BillingTerms:
    """What an invoice is addressed to and carries."""

    bill_to: Customer
    tax_code: str
    payment_terms: str


def bill_to_of(customer: Customer) -> Customer:
    """The account a customer's invoices are addressed to: its parent, else itself."""
    return customer.parent if customer.parent_id else customer


def invoice_billing_terms(*, invoice: Invoice) -> BillingTerms:
    """The bill-to account, tax code and payment terms of ``invoice``: the contract's
    codes, else the bill-to account's.

    Refuses (RuleViolation) a missing code, and one the legal entity's ERP does not
    accept (when the legal entity has a list of that kind); the invoice waits on
    ``invoice_terms:<number>`` with its amount at risk.
    """
    customer = Customer.objects.select_related("parent").get(pk=invoice.customer_id)
    bill_to = bill_to_of(customer)
    contract = invoice.project.contract if invoice.project_id else None
    codes = {
        AcceptedCodeKind.TAX_CODE: (contract.tax_code if contract else "") or bill_to.tax_code,
        AcceptedCodeKind.PAYMENT_TERMS: (contract.payment_terms if contract else "")
        or bill_to.payment_terms,
    }
    missing_codes = {
        AcceptedCodeKind.TAX_CODE: RuleCode.INVOICE_TAX_CODE_MISSING,
        AcceptedCodeKind.PAYMENT_TERMS: RuleCode.INVOICE_PAYMENT_TERMS_MISSING,
    }
    for kind, code in codes.items():
        label = AcceptedCodeKind(kind).label.lower()
        if not code:
            raise _held(
                invoice,
                f"Invoice {invoice.number} has no {label}: neither its contract nor its "
                f"bill-to account {bill_to.number} names one.",
                code=missing_codes[kind],
                details={"bill_to": bill_to.number, "missing": kind},
            )
        if not code_accepted(legal_entity=invoice.legal_entity, kind=kind, code=code):
            raise _held(
                invoice,
                f"Invoice {invoice.number}'s {label} {code} is not one the ERP of "
                f"{invoice.legal_entity.code} accepts.",
                code=RuleCode.CODE_NOT_ACCEPTED_BY_ERP,
                details={
                    "bill_to": bill_to.number,
                    "kind": kind,
                    "code": code,
                    "legal_entity": invoice.legal_entity.code,
                },
            )
    return BillingTerms(
        bill_to=bill_to,
        tax_code=codes[AcceptedCodeKind.TAX_CODE],
        payment_terms=codes[AcceptedCodeKind.PAYMENT_TERMS],
    )


def _held(invoice: Invoice, message: str, *, code: RuleCode, details: dict) -> RuleViolation:
    return RuleViolation(
        message=message,
        code=code,
        details={"invoice": invoice.number, **details},
        waiting_on=f"{INVOICE_TERMS_WAIT}:{invoice.number.strip().upper()}",
        money_at_risk=invoice.amount,
        currency=invoice.currency,
    )


def code_accepted(*, legal_entity: LegalEntity, kind: str, code: str) -> bool:
    """Whether the legal entity's ERP accepts ``code``: it is on its list and active, or
    the legal entity keeps no list of that kind (the ERP then judges it alone)."""
    listed = AcceptedCode.objects.filter(legal_entity=legal_entity, kind=kind)
    return not listed.exists() or listed.filter(code=code, active=True).exists()


def billing_code_set(
    *, record: Customer | Contract, kind: str, code: str, legal_entity: LegalEntity
) -> str:
    """Sets the tax code or payment terms (``kind``) of a customer or a contract to ``code``,
    one that ``legal_entity``'s ERP accepts; returns the code it had."""
    if kind not in AcceptedCodeKind.values:
        raise ApplicationError(f"No code kind {kind!r}.", errors={"kind": ["Unknown."]})
    code = code.strip()
    label = AcceptedCodeKind(kind).label.lower()
    if not code:
        raise ApplicationError(f"Name the {label}.", errors={"code": ["Required."]})
    if not code_accepted(legal_entity=legal_entity, kind=kind, code=code):
        raise ApplicationError(
            f"The ERP of {legal_entity.code} does not accept the {label} {code}.",
            errors={"code": [f"Not one {legal_entity.code} accepts."]},
        )
    before = getattr(record, kind)
    setattr(record, kind, code)
    record.save(update_fields=[kind, "updated_at"])
    return before


@dataclass(frozen=True)
class AcceptedCodesResult:
    added: int
    changed: int
    deactivated: int

    @property
    def any(self) -> bool:
        return bool(self.added or self.changed or self.deactivated)


def accepted_codes_replace(
    *, legal_entity: LegalEntity, kind: str, codes: dict[str, str], source_system: str
) -> AcceptedCodesResult:
    """Makes the legal entity's list of ``kind`` exactly ``codes`` (code -> name), as its
    ERP holds it: new codes are added, known ones named and made active again, and codes
    the ERP no longer has are made inactive (kept, so that history still reads)."""
    added = changed = 0
    with transaction.atomic():
        existing = {
            c.code: c
            for c in AcceptedCode.objects.select_for_update().filter(
                legal_entity=legal_entity, kind=kind
            )
        }
        for code, name in codes.items():
            record = existing.get(code)
            if record is None:
                AcceptedCode.objects.create(
                    legal_entity=legal_entity,
                    kind=kind,
                    code=code,
                    name=name,
                    source_system=source_system,
                )
                added += 1
            elif not record.active or record.name != name:
                record.active, record.name = True, name
                record.version += 1
                record.source_system = source_system
                record.save(update_fields=["active", "name", "version", "source_system"])
                changed += 1
        gone = [c.pk for code, c in existing.items() if code not in codes and c.active]
        AcceptedCode.objects.filter(pk__in=gone).update(active=False)
    return AcceptedCodesResult(added=added, changed=changed, deactivated=len(gone))
