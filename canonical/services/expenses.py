"""Expenses: approved expense reports from the PSA, checked against the contract and
rebilled at cost plus the contract's markup.

A billable line is billed, in the contract's currency, as

    billed = round_half_up(amount x exchange_rate x (100 + markup_percent) / 100)

to the cent, rounded once at the end (never the converted amount and then the markup).
The exchange rate is the line's own, sent by the PSA (1 where the line is in the
contract's currency). Refused, with that amount at risk and the line named:

- a category the contract does not rebill (a contract naming none rebills no expense);
- a line above the receipt threshold (``CT_EXPENSE_RECEIPT_THRESHOLD``, in the contract's
  currency, compared before markup) without a receipt reference;
- a line in another currency without an exchange rate;
- a line incurred while the project is not active, or under a billing hold, or one that
  would take the contract past its cap.

A non-billable line is recorded and never billed. A report is approved as a whole: one
refused line holds the report until it is sent again (a new version) or the contract is
amended. The same version sent twice changes nothing; a new version replaces the lines
still on an open candidate, while a line already on an approved invoice stays as billed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from canonical.choices import InvoiceStatus, ProjectStatus, RuleCode
from canonical.errors import RuleViolation
from canonical.formats import money_text
from canonical.models import Contract, ExpenseLine, ExpenseReport, Invoice, InvoiceLine, Project
from canonical.services.base import UpsertOutcome, business_key, upsert
from canonical.services.billing import (
    OPEN_INVOICE,
    _open_for_time,
    cap_check,
    expense_line_bill,
    invoice_total,
    money,
)
from canonical.services.delivery import project_for
from canonical.services.parties import resource_for


@dataclass(frozen=True)
class ExpenseLineData:
    """One line of an incoming report; ``currency`` empty for the report's own."""

    category: str
    amount: Decimal
    incurred_on: date
    billable: bool
    currency: str = ""
    exchange_rate: Decimal | None = None
    receipt_reference: str = ""
    description: str = ""


@dataclass(frozen=True)
class ExpenseResult:
    report: ExpenseReport
    outcome: UpsertOutcome
    invoices: list[Invoice]


def receipt_threshold() -> Decimal:
    return Decimal(str(settings.CT_EXPENSE_RECEIPT_THRESHOLD))


def expense_billed_amount(*, amount: Decimal, exchange_rate: Decimal, markup: Decimal) -> Decimal:
    """The rule above: converted, marked up, rounded half-up to the cent once."""
    return money(amount * exchange_rate * (Decimal("100") + markup) / Decimal("100"))


@dataclass(frozen=True)
class _Priced:
    number: int
    data: ExpenseLineData
    category: str
    currency: str
    rate: Decimal | None
    billed: Decimal | None


def expense_report_approve(
    *,
    number: str,
    project_code: str,
    employee_number: str,
    currency: str,
    approved_at: datetime | None,
    lines: Sequence[ExpenseLineData],
    version: int,
    source_system: str,
) -> ExpenseResult:
    """Checks an approved report's billable lines against the contract and puts each on its
    project's candidate for the month it was incurred (see the module's rules)."""
    key = business_key(number)
    project = project_for(code=project_code)
    existing = ExpenseReport.objects.filter(number=key).first()
    if existing is not None and version <= existing.version:
        outcome: UpsertOutcome = "stale" if version < existing.version else "unchanged"
        return ExpenseResult(existing, outcome, [])
    resource = resource_for(employee_number=employee_number, active=False)
    contract = project.contract
    contract_currency = contract.currency if contract is not None else project.customer.currency
    markup = contract.expense_markup_percent if contract is not None else Decimal("0")
    # Lines on an invoice past approval are history: they stay as billed.
    invoiced = (
        set(
            InvoiceLine.objects.filter(expense_line__report=existing)
            .exclude(invoice__status__in=(*OPEN_INVOICE, InvoiceStatus.REJECTED))
            .values_list("expense_line__line_number", flat=True)
        )
        if existing is not None
        else set()
    )
    report_currency = business_key(currency)
    priced = [
        _price(
            report=key,
            number=index,
            data=data,
            report_currency=report_currency,
            contract_currency=contract_currency,
            markup=markup,
        )
        for index, data in enumerate(lines, start=1)
    ]
    to_bill = [line for line in priced if line.billed is not None and line.number not in invoiced]
    for line in to_bill:
        _check(line, report=key, project=project, contract=contract, currency=contract_currency)
    if contract is not None:
        adding = sum((line.billed for line in to_bill), Decimal("0"))  # type: ignore[misc]
        on_open = InvoiceLine.objects.filter(
            expense_line__report__number=key, invoice__status__in=OPEN_INVOICE
        ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        if adding > on_open:
            cap_check(contract=contract, adding=adding - on_open, what=f"expense report {key}")
    result = upsert(
        ExpenseReport,
        lookup={"number": key},
        version=version,
        source_system=source_system,
        values=lambda: {
            "project": project,
            "resource": resource,
            "currency": report_currency,
            "approved_at": approved_at,
        },
    )
    report: ExpenseReport = result.record  # type: ignore[assignment]
    touched: dict[int, Invoice] = {}
    for old in InvoiceLine.objects.filter(
        expense_line__report=report, invoice__status__in=OPEN_INVOICE
    ).select_related("invoice"):
        touched[old.invoice_id] = old.invoice
        old.delete()
    gone = ExpenseLine.objects.filter(report=report, line_number__gt=len(priced))
    gone.filter(invoice_lines__isnull=True).delete()
    # A dropped line that a rejected invoice once billed is kept, as billing nothing now.
    gone.exclude(line_number__in=invoiced).update(billable=False, billed_amount=None)
    for line in priced:
        if line.number in invoiced:
            continue
        record, _ = ExpenseLine.objects.update_or_create(
            report=report,
            line_number=line.number,
            defaults={
                "category": line.category,
                "amount": line.data.amount,
                "currency": line.currency,
                "exchange_rate": line.rate,
                "receipt_reference": line.data.receipt_reference,
                "billable": line.data.billable,
                "incurred_on": line.data.incurred_on,
                "description": line.data.description,
                "billed_amount": line.billed,
            },
        )
        if line.billed is not None:
            invoice = expense_line_bill(line=record, project=project)
            touched[invoice.pk] = invoice
    for invoice in touched.values():
        invoice_total(invoice)
    return ExpenseResult(report, result.outcome, list(touched.values()))


def _price(
    *,
    report: str,
    number: int,
    data: ExpenseLineData,
    report_currency: str,
    contract_currency: str,
    markup: Decimal,
) -> _Priced:
    category = data.category.strip().lower()
    currency = business_key(data.currency) if data.currency else report_currency
    rate = None if currency == contract_currency else data.exchange_rate
    if not data.billable:
        return _Priced(number, data, category, currency, rate, None)
    if currency != contract_currency and rate is None:
        at_risk = expense_billed_amount(
            amount=data.amount, exchange_rate=Decimal("1"), markup=markup
        )
        raise RuleViolation(
            message=f"Expense {report} line {number} ({category}) is in {currency}, the "
            f"contract bills in {contract_currency}, and the line carries no exchange rate.",
            code=RuleCode.EXPENSE_RATE_MISSING,
            details={"report": report, "line": number, "currency": currency},
            money_at_risk=at_risk,
            currency=currency,
        )
    billed = expense_billed_amount(
        amount=data.amount, exchange_rate=rate or Decimal("1"), markup=markup
    )
    return _Priced(number, data, category, currency, rate, billed)


def _check(
    line: _Priced, *, report: str, project: Project, contract: Contract | None, currency: str
) -> None:
    """Refuses a billable line the contract does not let the group bill, naming it."""
    name = f"Expense {report} line {line.number} ({line.category})"
    day = line.data.incurred_on
    at_risk = {"money_at_risk": line.billed, "currency": currency}
    details = {"report": report, "line": line.number, "category": line.category}
    if not _open_for_time(project, day):
        raise RuleViolation(
            message=f"{name} was incurred on {day}, when project {project.code} is "
            f"{project.status}"
            + (
                f" (closed on {project.closed_on})"
                if project.status == ProjectStatus.CLOSED
                else ""
            )
            + "; it cannot be billed.",
            code=RuleCode.PROJECT_NOT_ACTIVE,
            details={**details, "project": project.code, "status": project.status},
            waiting_on=f"project_active:{project.code}",
            **at_risk,
        )
    if project.billing_hold or project.customer.billing_hold:
        holder = (
            f"project_hold:{project.code}"
            if project.billing_hold
            else f"customer_hold:{project.customer.number}"
        )
        raise RuleViolation(
            message=f"Billing is on hold for {holder.split(':', 1)[1]}; {name} waits.",
            code=RuleCode.BILLING_HOLD,
            details={**details, "project": project.code},
            waiting_on=holder,
            **at_risk,
        )
    allowed = contract.expense_categories if contract is not None else []
    if line.category not in allowed:
        rebills = "rebills " + ", ".join(allowed) + " only" if allowed else "rebills no expenses"
        whose = (
            f"contract {contract.number}"
            if contract is not None
            else f"project {project.code} has no contract and"
        )
        raise RuleViolation(
            message=f"{name}: {whose} {rebills}.",
            code=RuleCode.EXPENSE_CATEGORY_NOT_ALLOWED,
            details={**details, "allowed": list(allowed)},
            waiting_on=f"contract_terms:{contract.number}" if contract is not None else "",
            **at_risk,
        )
    threshold = receipt_threshold()
    converted = money(line.data.amount * (line.rate or Decimal("1")))
    if converted > threshold and not line.data.receipt_reference.strip():
        raise RuleViolation(
            message=f"{name} of {money_text(converted, currency)} has no receipt; lines above "
            f"{money_text(threshold, currency)} need one.",
            code=RuleCode.EXPENSE_RECEIPT_MISSING,
            details={**details, "threshold": str(threshold)},
            **at_risk,
        )
