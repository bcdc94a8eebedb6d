"""Billing: approved time checked against the billing rules and billed as its contract's
billing model says, milestones reached, and the monthly fees of retainers and managed
services.

- Time and materials: every billable hour at its rate, up to the contract's cap.
- Fixed fee and milestone: time is kept (cost, margin) but never billed; each milestone
  reached bills its amount.
- Retainer: the monthly fee in advance; hours drawn from the month's included hours
  (plus, where the terms say so, the hours earlier months left unused); hours past them
  billed at the rate.
- Managed services: the monthly fee, one line a month; time is not billed.

Under every model, approved expenses in the categories the contract rebills are billed
at cost plus its markup (``canonical.services.expenses``).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, QuerySet, Sum

from canonical.choices import (
    BillingModel,
    InvoiceStatus,
    MilestoneStatus,
    ProjectStatus,
    RuleCode,
    TimeEntryStatus,
)
from canonical.errors import RuleViolation
from canonical.formats import money_text
from canonical.models import (
    Assignment,
    BillingMilestone,
    Contract,
    ExpenseLine,
    Invoice,
    InvoiceLine,
    Project,
    Resource,
    TimeEntry,
)
from canonical.selectors import contracts_with_fee_due
from canonical.services.base import UpsertOutcome, business_key, upsert
from canonical.services.delivery import project_for
from canonical.services.parties import resource_for
from canonical.services.rates import rate_for

CENT = Decimal("0.01")
# How a monthly fee's line begins, here and on the ERP's copy (whose hours it is not).
MONTHLY_FEE = "Monthly fee"
# How a rebilled expense's line begins.
EXPENSE = "Expense"
OPEN_INVOICE = (InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)
# Invoices past approval: what they bill is history, changed only by a further invoice or a
# credit note.
CLOSED_INVOICE = (InvoiceStatus.APPROVED, InvoiceStatus.POSTED, InvoiceStatus.PAID)


def money(value: Decimal) -> Decimal:
    """An amount rounded half-up to the cent (every currency the tower bills has two decimals)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def hours_text(value: Decimal) -> str:
    """Hours as a person writes them: 40, 7.5."""
    return format(money(Decimal(value)).normalize(), "f")


@dataclass(frozen=True)
class TimeResult:
    entry: TimeEntry
    outcome: UpsertOutcome
    invoice: Invoice | None
    credit: TimeCredit | None = None


@dataclass(frozen=True)
class TimeCredit:
    """Hours an invoice past approval billed for an entry that now bills fewer: what a
    credit note against ``invoice`` hands back (the invoice itself is never changed)."""

    entry: TimeEntry
    invoice: Invoice
    hours: Decimal
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True)
class TimeBilling:
    """What approved time bills, once the rules let it through."""

    rate: Decimal | None
    currency: str
    drawn: Decimal  # hours drawn from a retainer's included hours
    billed_hours: Decimal
    value: Decimal


class BillingReads:
    """What the time rules read besides the entry, its project, resource and assignment:
    rates, a retainer's hours left and what a contract has billed. This one asks the
    database each time; the set-based path (``billing_batch``) reads them once a chunk."""

    def rate(self, *, project: Project, role: str, assignment: Assignment | None) -> Decimal:
        return rate_for(project=project, role=role, assignment=assignment)

    def retainer_hours_left(self, *, contract: Contract, day: date, excluding: str) -> Decimal:
        return retainer_hours_left(contract=contract, day=day, excluding=excluding)

    def cap_billed(self, *, contract: Contract, excluding_entry: str) -> Decimal:
        return cap_billed(contract, excluding_entry=excluding_entry)


def time_entry_approve(
    *,
    number: str,
    project_code: str,
    employee_number: str,
    work_date: date,
    hours: Decimal,
    billable: bool,
    approved_at: datetime | None,
    version: int,
    source_system: str,
) -> TimeResult:
    """Checks approved time against the billing rules and puts it on its invoice candidate.

    Refused, with the money it holds up: time on an unknown or inactive project, by
    an unknown or unassigned resource, without a rate, under a billing hold, or past
    the contract's cap.
    """
    project = project_for(code=project_code)
    existing = TimeEntry.objects.filter(number=business_key(number)).first()
    if existing is not None and version <= existing.version:
        return TimeResult(
            existing, "stale" if version < existing.version else "unchanged", existing.invoice
        )
    resource = resource_for(employee_number=employee_number)
    assignment = assignment_on(
        Assignment.objects.filter(project=project, resource=resource), day=work_date
    )
    billing = time_entry_judge(
        number=number,
        project=project,
        resource=resource,
        assignment=assignment,
        work_date=work_date,
        hours=hours,
        billable=billable,
        reads=BillingReads(),
    )
    result = upsert(
        TimeEntry,
        lookup={"number": business_key(number)},
        version=version,
        source_system=source_system,
        values=lambda: time_entry_values(
            project=project,
            resource=resource,
            assignment=assignment,
            work_date=work_date,
            hours=hours,
            billable=billable,
            approved_at=approved_at,
            drawn=billing.drawn,
        ),
    )
    entry: TimeEntry = result.record  # type: ignore[assignment]
    # Hours of the entry that invoices past approval bill already (less those credited):
    # a new version bills only the difference, on a supplementary candidate, or hands
    # the hours it no longer has back by a credit note.
    closed = list(
        InvoiceLine.objects.filter(time_entry=entry, invoice__status__in=CLOSED_INVOICE)
        .select_related("invoice")
        .order_by("invoice__period_start", "id")
    )
    already = sum((line.quantity for line in closed), Decimal("0")) - entry.credited_hours
    now = billing.billed_hours if billing.rate is not None else Decimal("0")
    if closed and now <= already:
        _time_line_remove(entry)
        credit = _time_credit(entry=entry, lines=closed, hours=already - now)
        return TimeResult(entry, result.outcome, closed[-1].invoice, credit)
    if now - already and billing.rate is not None:
        invoice = invoice_candidate_add(
            entry=entry, rate=billing.rate, currency=billing.currency, hours=now - already
        )
    else:
        invoice = _time_line_remove(entry)
    return TimeResult(entry, result.outcome, invoice)


def assignment_on(assignments: Iterable[Assignment], *, day: date) -> Assignment | None:
    """Of a resource's assignments to a project, the one that covers ``day`` (the latest
    to start, when two do)."""
    covering = [
        a for a in assignments if a.start_date <= day and (a.end_date is None or a.end_date >= day)
    ]
    return max(covering, key=lambda a: (a.start_date, a.pk), default=None)


def time_entry_judge(
    *,
    number: str,
    project: Project,
    resource: Resource,
    assignment: Assignment | None,
    work_date: date,
    hours: Decimal,
    billable: bool,
    reads: BillingReads,
) -> TimeBilling:
    """The billing rules for approved time: what it bills, or the RuleViolation that
    refuses it with the money it holds up. Writes nothing; what it reads beyond its
    arguments it asks ``reads``."""
    contract = project.contract
    # Fixed fee, milestone and managed services: the time is kept for cost and margin only.
    hourly = billable and (contract is None or contract.bills_time)
    rate = None
    if hourly and assignment is not None:
        rate = reads.rate(project=project, role=assignment.role, assignment=assignment)
    elif hourly:  # what the time would bill
        try:
            rate = reads.rate(project=project, role=resource.role, assignment=None)
        except RuleViolation:
            rate = None
    currency = contract.currency if contract is not None else project.customer.currency
    drawn = Decimal("0")
    if hourly and contract is not None and contract.billing_model == BillingModel.RETAINER:
        drawn = min(
            hours, reads.retainer_hours_left(contract=contract, day=work_date, excluding=number)
        )
    billed_hours = hours - drawn if hourly else Decimal("0")
    value = money(billed_hours * rate) if rate is not None and billed_hours else Decimal("0")
    at_risk = {"money_at_risk": value, "currency": currency}
    if not _open_for_time(project, work_date):
        closed = project.status == ProjectStatus.CLOSED and project.closed_on is not None
        raise RuleViolation(
            message=f"Project {project.code} closed on {project.closed_on}; time on {work_date} "
            "is after that and cannot be billed."
            if closed
            else f"Project {project.code} is {project.status}; time on {work_date} cannot be billed.",
            code=RuleCode.PROJECT_NOT_ACTIVE,
            details={"project": project.code, "status": project.status, "entry": number},
            waiting_on=f"project_active:{project.code}",
            **at_risk,
        )
    if assignment is None:
        raise RuleViolation(
            message=f"{resource.employee_number} is not assigned to {project.code} on {work_date}.",
            code=RuleCode.RESOURCE_NOT_ASSIGNED,
            details={
                "project": project.code,
                "resource": resource.employee_number,
                "entry": number,
            },
            waiting_on=f"assignment:{project.code}:{resource.employee_number}",
            **at_risk,
        )
    if billed_hours and (project.billing_hold or project.customer.billing_hold):
        holder = (
            f"project_hold:{project.code}"
            if project.billing_hold
            else f"customer_hold:{project.customer.number}"
        )
        raise RuleViolation(
            message=f"Billing is on hold for {holder.split(':', 1)[1]}.",
            code=RuleCode.BILLING_HOLD,
            details={"project": project.code, "entry": number},
            waiting_on=holder,
            **at_risk,
        )
    if value and contract is not None and contract.cap_amount is not None:
        cap_check(
            contract=contract,
            adding=value,
            what="this entry",
            billed=reads.cap_billed(contract=contract, excluding_entry=number),
        )
    return TimeBilling(
        rate=rate, currency=currency, drawn=drawn, billed_hours=billed_hours, value=value
    )


def time_entry_values(
    *,
    project: Project,
    resource: Resource,
    assignment: Assignment | None,
    work_date: date,
    hours: Decimal,
    billable: bool,
    approved_at: datetime | None,
    drawn: Decimal,
) -> dict[str, object]:
    """The fields approved time is written with."""
    return {
        "project": project,
        "resource": resource,
        "assignment": assignment,
        "work_date": work_date,
        "hours": hours,
        "billable": billable,
        "retainer_hours": drawn,
        "status": TimeEntryStatus.APPROVED,
        "approved_at": approved_at,
        # Cost (every approved hour, billed or not): the HRIS's cost rate of the day.
        "cost_rate": resource.cost_rate,
        "cost": money(hours * resource.cost_rate) if resource.cost_rate is not None else None,
    }


def _time_credit(
    *, entry: TimeEntry, lines: list[InvoiceLine], hours: Decimal
) -> TimeCredit | None:
    """Records ``hours`` of ``entry`` as credited and says against which invoice: the last
    one past approval that billed it, at the rate it billed them."""
    if not hours:
        return None
    TimeEntry.objects.filter(pk=entry.pk).update(credited_hours=F("credited_hours") + hours)
    entry.refresh_from_db(fields=["credited_hours"])
    last = lines[-1]
    return TimeCredit(
        entry=entry,
        invoice=last.invoice,
        hours=hours,
        rate=last.rate,
        amount=money(hours * last.rate),
    )


def _time_line_remove(entry: TimeEntry) -> None:
    """A new version of an entry that bills nothing takes its old line off an open candidate."""
    for line in InvoiceLine.objects.filter(
        time_entry=entry, invoice__status__in=OPEN_INVOICE
    ).select_related("invoice"):
        line.delete()
        invoice_total(line.invoice)
    TimeEntry.objects.filter(pk=entry.pk, invoice__status__in=OPEN_INVOICE).update(invoice=None)
    return None


def cap_check(
    *,
    contract: Contract,
    adding: Decimal,
    what: str,
    excluding_entry: str = "",
    billed: Decimal | None = None,
) -> None:
    """Refuses what would take the contract's billing past its cap (time, milestone or fee).

    ``billed``: what the contract bills already, when the caller has read it."""
    if contract.cap_amount is None:
        return
    if billed is None:
        billed = cap_billed(contract, excluding_entry=excluding_entry)
    if billed + adding > contract.cap_amount:
        currency = contract.currency
        raise RuleViolation(
            message=f"Contract {contract.number}'s cap of "
            f"{money_text(contract.cap_amount, currency)} would be exceeded: "
            f"{money_text(billed, currency)} is billed and {what} adds "
            f"{money_text(adding, currency)}.",
            code=RuleCode.CAP_EXCEEDED,
            details={
                "contract": contract.number,
                "cap": str(contract.cap_amount),
                "billed": str(money(billed)),
            },
            waiting_on=f"contract_cap:{contract.number}",
            money_at_risk=adding,
            currency=currency,
        )


def cap_billed(contract: Contract, *, excluding_entry: str = "") -> Decimal:
    """What the contract's invoices bill, rejected ones aside (an entry's own line left out)."""
    lines = InvoiceLine.objects.filter(invoice__project__contract=contract).exclude(
        invoice__status=InvoiceStatus.REJECTED
    )
    if excluding_entry:
        lines = lines.exclude(time_entry__number=business_key(excluding_entry))
    return lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def retainer_hours_left(*, contract: Contract, day: date, excluding: str = "") -> Decimal:
    """The retainer's hours still to draw in the month of ``day``.

    Each month brings the included hours; where unused hours roll over, what a month left
    undrawn is added to the next, otherwise it lapses at month end. The contract row is
    locked so that two entries of one month never draw the same hours.
    """
    Contract.objects.select_for_update().filter(pk=contract.pk).first()
    included = contract.included_hours or Decimal("0")
    month = _month_start(day)
    drawn: dict[date, Decimal] = {}
    for work_date, hours in (
        TimeEntry.objects.filter(
            project__contract=contract, work_date__lt=_next_month(month), retainer_hours__gt=0
        )
        .exclude(number=business_key(excluding))
        .values_list("work_date", "retainer_hours")
    ):
        key = _month_start(work_date)
        drawn[key] = drawn.get(key, Decimal("0")) + hours
    carried = Decimal("0")
    current = _month_start(contract.start_date)
    while current < month:
        left = included + carried - drawn.get(current, Decimal("0"))
        carried = max(Decimal("0"), left) if contract.unused_hours_roll_over else Decimal("0")
        current = _next_month(current)
    return max(Decimal("0"), included + carried - drawn.get(month, Decimal("0")))


def _open_for_time(project: Project, day: date) -> bool:
    """Active, or closed after ``day``: time worked before a project closed is still billed."""
    if project.status == ProjectStatus.ACTIVE:
        return True
    return (
        project.status == ProjectStatus.CLOSED
        and project.closed_on is not None
        and day <= project.closed_on
    )


def invoice_candidate_add(
    *, entry: TimeEntry, rate: Decimal, currency: str, hours: Decimal | None = None
) -> Invoice:
    """Puts approved time on its project's candidate for the month (replacing an older line).

    ``hours``: those billed, when not all of the entry's are (a retainer's overage).
    """
    quantity = entry.hours if hours is None else hours
    invoice = _open_candidate(
        project=entry.project,
        day=entry.work_date,
        currency=currency,
    )
    InvoiceLine.objects.filter(invoice=invoice, time_entry=entry).delete()
    time_line(entry=entry, invoice=invoice, rate=rate, quantity=quantity).save()
    invoice_total(invoice)
    TimeEntry.objects.filter(pk=entry.pk).update(invoice=invoice)
    return invoice


def time_line(
    *, entry: TimeEntry, invoice: Invoice, rate: Decimal, quantity: Decimal
) -> InvoiceLine:
    """The (unsaved) candidate line of ``quantity`` of the entry's hours at ``rate``."""
    role = entry.assignment.role if entry.assignment else entry.resource.role
    overage = (
        f", {hours_text(quantity)} of {hours_text(entry.hours)} h past the retainer"
        if quantity != entry.hours
        else ""
    )
    return InvoiceLine(
        invoice=invoice,
        time_entry=entry,
        description=f"{entry.work_date} {entry.resource.name} ({role}{overage})",
        quantity=quantity,
        rate=rate,
        amount=money(quantity * rate),
    )


def month_of(day: date) -> tuple[date, date]:
    """The first and the last day of the month of ``day`` (an invoice's period)."""
    start = day.replace(day=1)
    return start, start.replace(day=calendar.monthrange(start.year, start.month)[1])


def candidate_new(*, project: Project, day: date, currency: str, earlier: int) -> Invoice:
    """An (unsaved) candidate for the project's month of ``day``; ``earlier``: how many
    invoices the month has already (a supplementary one is numbered INV-…-2)."""
    period_start, period_end = month_of(day)
    return Invoice(
        number=f"INV-{project.code}-{period_start:%Y%m}" + (f"-{earlier + 1}" if earlier else ""),
        project=project,
        customer=project.customer,
        legal_entity=project.legal_entity,
        period_start=period_start,
        period_end=period_end,
        currency=currency,
        amount=Decimal("0"),
        status=InvoiceStatus.AWAITING_APPROVAL,
        source_system="tower",
    )


def _open_candidate(*, project: Project, day: date, currency: str) -> Invoice:
    """The project's open candidate for the month of ``day``, created when there is none.

    Late time for a month whose invoice is already approved goes on a supplementary
    candidate for the same month (INV-…-2), not onto the approved invoice.
    """
    period_start, period_end = month_of(day)
    month = Invoice.objects.select_for_update().filter(
        project=project, period_start=period_start, period_end=period_end
    )
    invoice = month.filter(status__in=OPEN_INVOICE).first()
    if invoice is not None:
        return invoice
    invoice = candidate_new(project=project, day=day, currency=currency, earlier=month.count())
    invoice.save()
    return invoice


def invoice_candidate_rebuild(*, project: Project, period_start: date) -> Invoice | None:
    """Puts what the month bills and no invoice holds (after a rejection) on a new candidate:
    its approved time as its contract bills time, and its monthly fee."""
    contract = project.contract
    invoice = None
    if contract is not None and contract.has_monthly_fee:
        invoice = monthly_fee_bill(contract=contract, day=period_start)
    rebilled = (
        BillingMilestone.objects.filter(
            status=MilestoneStatus.REACHED,
            invoice_lines__invoice__project=project,
            invoice_lines__invoice__period_start=period_start,
        )
        .exclude(
            invoice_lines__in=InvoiceLine.objects.exclude(invoice__status=InvoiceStatus.REJECTED)
        )
        .distinct()
        .order_by("code")
    )
    for milestone in rebilled:  # reached milestones whose only invoice was rejected
        invoice = _milestone_line_add(milestone=milestone, project=project, day=period_start)
    for line in expense_lines_unbilled(project=project, period_start=period_start):
        invoice = expense_line_bill(line=line, project=project)
        invoice_total(invoice)
    if contract is not None and not contract.bills_time:
        return invoice
    entries = (
        TimeEntry.objects.filter(
            project=project,
            billable=True,
            invoice__isnull=True,
            work_date__gte=period_start,
            work_date__lt=_next_month(period_start),
        )
        .select_related("assignment", "resource", "project__contract", "project__customer")
        .order_by("work_date", "number")
    )
    for entry in entries:
        hours = entry.hours - entry.retainer_hours  # a retainer's overage; all of it otherwise
        if not hours:
            continue
        role = entry.assignment.role if entry.assignment else entry.resource.role
        rate = rate_for(project=project, role=role, assignment=entry.assignment)
        currency = contract.currency if contract is not None else project.customer.currency
        invoice = invoice_candidate_add(entry=entry, rate=rate, currency=currency, hours=hours)
    return invoice


def _milestone_line_add(*, milestone: BillingMilestone, project: Project, day: date) -> Invoice:
    invoice = _open_candidate(project=project, day=day, currency=milestone.contract.currency)
    InvoiceLine.objects.create(
        invoice=invoice,
        milestone=milestone,
        description=f"Milestone {milestone.code}: {milestone.name}",
        quantity=Decimal("1"),
        rate=milestone.amount,
        amount=milestone.amount,
    )
    invoice_total(invoice)
    return invoice


def expense_lines_unbilled(*, project: Project, period_start: date) -> QuerySet[ExpenseLine]:
    """The month's priced expense lines that no invoice bills (a rejected one aside)."""
    return (
        ExpenseLine.objects.filter(
            report__project=project,
            billable=True,
            billed_amount__isnull=False,
            incurred_on__gte=period_start,
            incurred_on__lt=_next_month(period_start),
        )
        .exclude(
            invoice_lines__in=InvoiceLine.objects.exclude(invoice__status=InvoiceStatus.REJECTED)
        )
        .select_related("report")
        .order_by("incurred_on", "report__number", "line_number")
    )


def expense_line_bill(*, line: ExpenseLine, project: Project) -> Invoice:
    """Puts a priced expense line on its project's candidate for the month it was incurred.

    The caller totals the candidate (``invoice_total``) once it has added all its lines.
    """
    assert line.billed_amount is not None
    contract = project.contract
    currency = contract.currency if contract is not None else project.customer.currency
    invoice = _open_candidate(project=project, day=line.incurred_on, currency=currency)
    terms = []
    if line.exchange_rate is not None and line.currency != currency:
        terms.append(
            f"{money_text(line.amount, line.currency)} at {format(line.exchange_rate.normalize(), 'f')}"
        )
    markup = contract.expense_markup_percent if contract is not None else Decimal("0")
    if markup:
        terms.append(f"+{format(markup.normalize(), 'f')} % markup")
    what = line.description or line.category
    InvoiceLine.objects.create(
        invoice=invoice,
        expense_line=line,
        description=(
            f"{EXPENSE} {line.incurred_on} {line.category}: {what} "
            f"({'; '.join([f'{line.report.number} line {line.line_number}', *terms])})"
        )[:255],
        quantity=Decimal("1"),
        rate=line.billed_amount,
        amount=line.billed_amount,
    )
    return invoice


def monthly_fee_bill(*, contract: Contract, day: date) -> Invoice | None:
    """A retainer's or managed service's monthly fee for the month of ``day``, billed in advance
    on its project's candidate for that month, once.

    None when the contract has no monthly fee, does not run that month, has no project
    yet, or the month's fee is already on an invoice (a rejected one aside). Refused
    under a billing hold or past the cap, with the fee at risk.
    """
    if not contract.has_monthly_fee or contract.monthly_fee is None:
        return None
    period_start = _month_start(day)
    if period_start < _month_start(contract.start_date) or (
        contract.end_date is not None and contract.end_date < period_start
    ):
        return None
    project = contract.projects.order_by("code").first()
    if project is None or not _open_for_time(project, period_start):
        return None
    Contract.objects.select_for_update().filter(pk=contract.pk).first()
    billed = (
        InvoiceLine.objects.filter(
            invoice__project=project,
            invoice__period_start=period_start,
            time_entry__isnull=True,
            milestone__isnull=True,
            expense_line__isnull=True,
        )
        .exclude(invoice__status=InvoiceStatus.REJECTED)
        .exists()
    )
    if billed:
        return None
    fee = contract.monthly_fee
    if project.billing_hold or contract.customer.billing_hold:
        raise RuleViolation(
            message=f"Billing is on hold for contract {contract.number}; its fee for "
            f"{period_start:%B %Y} waits.",
            code=RuleCode.BILLING_HOLD,
            details={"contract": contract.number, "period": period_start.isoformat()},
            waiting_on=f"project_hold:{project.code}"
            if project.billing_hold
            else f"customer_hold:{contract.customer.number}",
            money_at_risk=fee,
            currency=contract.currency,
        )
    cap_check(contract=contract, adding=fee, what=f"the fee for {period_start:%B %Y}")
    invoice = _open_candidate(project=project, day=period_start, currency=contract.currency)
    if contract.billing_model == BillingModel.RETAINER:
        terms = f"retainer, {hours_text(contract.included_hours or Decimal('0'))} h included"
    else:
        terms = "managed services"
    InvoiceLine.objects.create(
        invoice=invoice,
        description=f"{MONTHLY_FEE} {period_start:%B %Y}: {terms}",
        quantity=Decimal("1"),
        rate=fee,
        amount=fee,
    )
    invoice_total(invoice)
    return invoice


def monthly_fees_bill(*, day: date) -> list[Invoice]:
    """Every retainer's and managed service's fee for the month of ``day`` (the monthly run)."""
    invoices = []
    for contract in contracts_with_fee_due(period_start=_month_start(day)):
        invoice = monthly_fee_bill(contract=contract, day=day)
        if invoice is not None:
            invoices.append(invoice)
    return invoices


def invoice_total(invoice: Invoice) -> None:
    """Sums the candidate's lines into its amount; its version grows by one."""
    invoice.amount = invoice.lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    invoice.version += 1
    invoice.save(update_fields=["amount", "version", "updated_at"])


def milestone_reach(
    *, contract_number: str, code: str, reached_on: date, source_system: str
) -> Invoice | None:
    """A reached milestone goes on its project's candidate for the month, once (None if it was)."""
    contract = Contract.objects.filter(number=business_key(contract_number)).first()
    if contract is None:
        raise RuleViolation(
            message=f"Milestone {code} of contract {business_key(contract_number)} arrived before the contract.",
            code=RuleCode.AMENDMENT_BEFORE_CONTRACT,
            details={"contract": business_key(contract_number), "milestone": code},
            waiting_on=f"contract_signed:{business_key(contract_number)}",
        )
    milestone = (
        BillingMilestone.objects.select_for_update(of=("self",))
        .filter(contract=contract, code=business_key(code))
        .select_related("project")
        .first()
    )
    if milestone is None:
        raise RuleViolation(
            message=f"Contract {contract.number} has no milestone {business_key(code)}.",
            code=RuleCode.UNKNOWN_MILESTONE,
            details={"contract": contract.number, "milestone": business_key(code)},
            waiting_on=f"contract_terms:{contract.number}",
        )
    if milestone.status != MilestoneStatus.PLANNED:
        return None
    project = milestone.project or contract.projects.first()
    at_risk = {"money_at_risk": milestone.amount, "currency": contract.currency}
    if project is None:
        raise RuleViolation(
            message=f"Contract {contract.number} has no project yet; milestone {milestone.code} waits.",
            code=RuleCode.BILLING_HOLD,
            details={"contract": contract.number, "milestone": milestone.code},
            waiting_on=f"contract_project:{contract.number}",
            **at_risk,
        )
    if project.billing_hold or contract.customer.billing_hold:
        raise RuleViolation(
            message=f"Billing is on hold for contract {contract.number}; milestone {milestone.code} waits.",
            code=RuleCode.BILLING_HOLD,
            details={"contract": contract.number, "milestone": milestone.code},
            waiting_on=f"project_hold:{project.code}"
            if project.billing_hold
            else f"customer_hold:{contract.customer.number}",
            **at_risk,
        )
    cap_check(contract=contract, adding=milestone.amount, what=f"milestone {milestone.code}")
    invoice = _milestone_line_add(milestone=milestone, project=project, day=reached_on)
    milestone.status = MilestoneStatus.REACHED
    milestone.source_system = source_system
    milestone.save(update_fields=["status", "source_system", "updated_at"])
    return invoice
