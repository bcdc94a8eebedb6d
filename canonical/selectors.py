"""Reads of the canonical records."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth

from canonical.choices import (
    MONTHLY_FEE_MODELS,
    AcceptedCodeKind,
    InvoiceStatus,
    MilestoneStatus,
    RevenueMethod,
    RevenueStatus,
    TimeEntryStatus,
)
from canonical.formats import money_text
from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    Resource,
    TimeEntry,
)
from canonical.services.terms import bill_to_of, code_accepted


def legal_entity_get(*, code: str) -> LegalEntity | None:
    return LegalEntity.objects.filter(code=code.strip().upper()).first()


def customer_get(*, number: str) -> Customer | None:
    return (
        Customer.objects.select_related("legal_entity")
        .filter(number=number.strip().upper())
        .first()
    )


def legal_entity_list() -> QuerySet[LegalEntity]:
    return LegalEntity.objects.all()


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("legal_entity", "parent")


def rate_card_list() -> QuerySet[RateCard]:
    return RateCard.objects.select_related("legal_entity").prefetch_related("lines")


def contract_list() -> QuerySet[Contract]:
    """Contracts with ``billed_amount``: what their invoices bill, rejected ones aside."""
    billed = (
        InvoiceLine.objects.filter(invoice__project__contract=OuterRef("pk"))
        .exclude(invoice__status=InvoiceStatus.REJECTED)
        .order_by()
        .values("invoice__project__contract")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        Contract.objects.select_related("customer", "legal_entity", "rate_card")
        .prefetch_related("versions", "milestones")
        .annotate(
            billed_amount=Coalesce(
                Subquery(billed, output_field=DecimalField(max_digits=14, decimal_places=2)),
                Value(Decimal("0")),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            )
        )
    )


def contracts_with_fee_due(*, period_start: date) -> QuerySet[Contract]:
    """Retainers and managed services with a monthly fee, running in the month starting
    ``period_start`` (they started by its end and had not ended before it began)."""
    next_month = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (
        Contract.objects.filter(
            billing_model__in=MONTHLY_FEE_MODELS,
            monthly_fee__isnull=False,
            start_date__lt=next_month,
        )
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=period_start))
        .order_by("number")
    )


def project_list() -> QuerySet[Project]:
    return Project.objects.select_related("contract", "customer", "legal_entity")


def resource_list() -> QuerySet[Resource]:
    return Resource.objects.select_related("legal_entity")


def assignment_list() -> QuerySet[Assignment]:
    return Assignment.objects.select_related("project", "resource")


def time_entry_list() -> QuerySet[TimeEntry]:
    return TimeEntry.objects.select_related("project", "resource", "assignment", "invoice")


def billing_milestone_list() -> QuerySet[BillingMilestone]:
    return BillingMilestone.objects.select_related("contract", "project")


def invoice_list() -> QuerySet[Invoice]:
    lines = InvoiceLine.objects.select_related("time_entry", "milestone")
    return Invoice.objects.select_related(
        "project", "customer", "legal_entity", "prepared_by", "approved_by"
    ).prefetch_related(Prefetch("lines", queryset=lines))


@dataclass(frozen=True)
class BillingTermsShown:
    """What a customer's or contract's invoices are addressed to and carry, and from where."""

    bill_to: Customer
    tax_code: str
    tax_code_from: str
    payment_terms: str
    payment_terms_from: str
    accepted: dict[str, bool]


def billing_terms_shown(record: Customer | Contract) -> BillingTermsShown:
    """The bill-to account, tax code and payment terms the invoices of ``record`` (a
    customer or a contract) would carry, with where each comes from, and whether its
    legal entity's ERP accepts it (True where it keeps no list)."""
    contract = record if isinstance(record, Contract) else None
    customer = contract.customer if contract is not None else record
    bill_to = bill_to_of(customer)
    source = "the bill-to account" if bill_to.pk != customer.pk else "the customer"
    values = {}
    for kind in (AcceptedCodeKind.TAX_CODE, AcceptedCodeKind.PAYMENT_TERMS):
        own = getattr(contract, kind, "") if contract is not None else ""
        values[kind] = (own, "the contract") if own else (getattr(bill_to, kind), source)
    legal_entity = contract.legal_entity if contract is not None else customer.legal_entity
    return BillingTermsShown(
        bill_to=bill_to,
        tax_code=values[AcceptedCodeKind.TAX_CODE][0],
        tax_code_from=values[AcceptedCodeKind.TAX_CODE][1],
        payment_terms=values[AcceptedCodeKind.PAYMENT_TERMS][0],
        payment_terms_from=values[AcceptedCodeKind.PAYMENT_TERMS][1],
        accepted={
            kind: not code or code_accepted(legal_entity=legal_entity, kind=kind, code=code)
            for kind, (code, _) in values.items()
        },
    )


def months_left(*, start: date, end: date | None, today: date, open_ended: int = 12) -> int:
    """The calendar months of a term still to come, this one included (a term starting later
    counts from its start); an open-ended term counts ``open_ended`` months."""
    first = max(start, today).replace(day=1)
    if end is None:
        return open_ended
    if end < first:
        return 0
    return (end.year - first.year) * 12 + end.month - first.month + 1


@dataclass(frozen=True)
class ContractTerm:
    """Where a contract stands against its end date and cap, and what it is still worth.

    ``remaining`` is the cap less what is billed; without a cap, the milestones not yet
    invoiced, or the monthly fee for the months left of the term; ``remaining_note`` says which.
    """

    end_date: date | None
    days_left: int | None
    cap: Decimal | None
    billed: Decimal
    cap_percent: Decimal | None
    remaining: Decimal
    remaining_note: str


def contract_term(*, contract: Contract, today: date) -> ContractTerm:
    """The contract's term as of ``today``: days to its end, cap consumed, value remaining."""
    billed = contract.billed_amount
    currency = contract.currency
    cap_percent = None
    if contract.cap_amount is not None:
        remaining = max(Decimal("0"), contract.cap_amount - billed)
        if contract.cap_amount:
            cap_percent = (billed * 100 / contract.cap_amount).quantize(Decimal("0.1"))
        note = (
            f"The cap of {money_text(contract.cap_amount, currency)} less "
            f"{money_text(billed, currency)} billed."
        )
    else:
        unbilled = contract.milestones.exclude(status=MilestoneStatus.INVOICED)
        milestones = unbilled.aggregate(total=Sum("amount"))["total"]
        months = months_left(start=contract.start_date, end=contract.end_date, today=today)
        if milestones:
            remaining = milestones
            note = f"The {unbilled.count()} milestones not yet invoiced."
        elif contract.monthly_fee and months:
            remaining = contract.monthly_fee * months
            note = (
                f"The monthly fee of {money_text(contract.monthly_fee, currency)} for {months} "
                + (
                    f"months left of the term (to {contract.end_date.isoformat()})."
                    if contract.end_date
                    else "months (open-ended: a year counted)."
                )
            )
        else:
            remaining = Decimal("0")
            note = (
                "None counted: without a cap, milestones or a monthly fee, what remains is "
                "the time still to be worked, which nothing prices in advance."
            )
    return ContractTerm(
        end_date=contract.end_date,
        days_left=(contract.end_date - today).days if contract.end_date else None,
        cap=contract.cap_amount,
        billed=billed,
        cap_percent=cap_percent,
        remaining=remaining.quantize(Decimal("0.01")),
        remaining_note=note,
    )


# --- cost, revenue and margin -------------------------------------------------------------

# Invoices whose amounts are revenue recognised (the ERP holds them); the other open ones
# (awaiting approval, approved) are revenue planned.
RECOGNISED_INVOICES = (InvoiceStatus.POSTED, InvoiceStatus.PAID)
# Milestones reached are revenue recognised in the month they were reached.
REACHED_MILESTONES = (MilestoneStatus.REACHED, MilestoneStatus.INVOICED)
# A monthly fee without an end date is planned this many months ahead of its start.
OPEN_ENDED_MONTHS = 12


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RevenueLineFigure:
    """One month's revenue of a contract by one method, recognised or planned."""

    period_start: date
    method: str
    status: str
    amount: Decimal


def revenue_lines_of(*, contract: Contract, today: date) -> list[RevenueLineFigure]:
    """The contract's revenue schedule as its billing model recognises it:

    - time (time and materials; a retainer's hours past those included): as billed, each
      invoice's time in its month, recognised once the invoice is posted to the ERP,
      planned while it awaits approval; rejected invoices count for nothing;
    - milestones (fixed fee, milestone): the milestone's amount in the month it was reached
      (the month of the invoice that billed it), recognised; a milestone not reached is
      planned in the month it is due;
    - a monthly fee (retainer, managed services): the fee straight-line, each month of the
      term, recognised from the month's first day, planned for the months to come (an
      open-ended term is planned twelve months from its start, or to this month).
    """
    amounts: dict[tuple[date, str, str], Decimal] = defaultdict(Decimal)
    if contract.bills_time:
        billed = (
            InvoiceLine.objects.filter(
                invoice__project__contract=contract, time_entry__isnull=False
            )
            .exclude(invoice__status=InvoiceStatus.REJECTED)
            .values("invoice__period_start", "invoice__status")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in billed:
            status = (
                RevenueStatus.RECOGNISED
                if row["invoice__status"] in RECOGNISED_INVOICES
                else RevenueStatus.PLANNED
            )
            key = (row["invoice__period_start"], RevenueMethod.AS_BILLED, status)
            amounts[key] += row["total"]
    for milestone in contract.milestones.order_by("code"):
        if milestone.status in REACHED_MILESTONES:
            billed_in = (
                milestone.invoice_lines.order_by("invoice__period_start")
                .values_list("invoice__period_start", flat=True)
                .first()
            )
            period = billed_in or (month_of(milestone.due_date) if milestone.due_date else None)
            status = RevenueStatus.RECOGNISED
        else:
            period = month_of(milestone.due_date) if milestone.due_date else None
            status = RevenueStatus.PLANNED
        if period is not None:
            amounts[(period, RevenueMethod.MILESTONE, status)] += milestone.amount
    if contract.has_monthly_fee and contract.monthly_fee:
        current = month_of(contract.start_date)
        last = month_of(contract.end_date) if contract.end_date else current
        if contract.end_date is None:
            for _ in range(OPEN_ENDED_MONTHS - 1):
                last = month_after(last)
            last = max(last, month_of(today))
        while current <= last:
            status = (
                RevenueStatus.RECOGNISED if current <= month_of(today) else RevenueStatus.PLANNED
            )
            amounts[(current, RevenueMethod.STRAIGHT_LINE, status)] += contract.monthly_fee
            current = month_after(current)
    return [
        RevenueLineFigure(period, method, status, _cents(amount))
        for (period, method, status), amount in sorted(amounts.items())
        if amount
    ]


@dataclass(frozen=True)
class MarginMonth:
    period_start: date
    revenue: Decimal
    planned_revenue: Decimal
    cost: Decimal
    hours: Decimal
    uncosted_hours: Decimal

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost


@dataclass
class ProjectMargin:
    """A project's margin: revenue recognised minus cost, per month and in all."""

    currency: str
    months: list[MarginMonth] = field(default_factory=list)

    @property
    def revenue(self) -> Decimal:
        return sum((m.revenue for m in self.months), Decimal("0"))

    @property
    def planned_revenue(self) -> Decimal:
        return sum((m.planned_revenue for m in self.months), Decimal("0"))

    @property
    def cost(self) -> Decimal:
        return sum((m.cost for m in self.months), Decimal("0"))

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        """Margin as a share of revenue, one decimal; None without revenue."""
        if not self.revenue:
            return None
        return (self.margin * 100 / self.revenue).quantize(Decimal("0.1"), ROUND_HALF_UP)

    @property
    def uncosted_hours(self) -> Decimal:
        return sum((m.uncosted_hours for m in self.months), Decimal("0"))


def project_currency(project: Project) -> str:
    return project.contract.currency if project.contract_id else project.customer.currency


def project_margin(*, project: Project, today: date) -> ProjectMargin:
    """Revenue (the schedule of the contract the project delivers; a contract's revenue
    counts in its first project) minus cost (approved hours at their cost rates), per month.
    Hours of people without a cost rate carry no cost and are shown as uncosted."""
    zero = Decimal("0")
    cost: dict[date, tuple[Decimal, Decimal, Decimal]] = {}
    for row in (
        TimeEntry.objects.filter(project=project, status=TimeEntryStatus.APPROVED)
        .annotate(month=TruncMonth("work_date"))
        .values("month")
        .annotate(
            total_cost=Sum("cost"),
            total_hours=Sum("hours"),
            uncosted=Sum("hours", filter=Q(cost__isnull=True)),
        )
        .order_by()
    ):
        cost[row["month"]] = (
            row["total_cost"] or zero,
            row["total_hours"] or zero,
            row["uncosted"] or zero,
        )
    revenue: dict[date, Decimal] = defaultdict(Decimal)
    planned: dict[date, Decimal] = defaultdict(Decimal)
    contract = project.contract
    first = contract.projects.order_by("code").first() if contract is not None else None
    if contract is not None and first is not None and first.pk == project.pk:
        for line in revenue_lines_of(contract=contract, today=today):
            target = revenue if line.status == RevenueStatus.RECOGNISED else planned
            target[line.period_start] += line.amount
    months = sorted(set(cost) | set(revenue) | set(planned))
    return ProjectMargin(
        currency=project_currency(project),
        months=[
            MarginMonth(
                period_start=month,
                revenue=revenue.get(month, zero),
                planned_revenue=planned.get(month, zero),
                cost=cost.get(month, (zero, zero, zero))[0],
                hours=cost.get(month, (zero, zero, zero))[1],
                uncosted_hours=cost.get(month, (zero, zero, zero))[2],
            )
            for month in months
        ],
    )
