"""Billing: the rate for a role, approved time checked against the billing rules and put on
its invoice candidate, and milestones reached."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Q, Sum

from canonical.choices import (
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
    Invoice,
    InvoiceLine,
    Project,
    TimeEntry,
)
from canonical.services.base import UpsertOutcome, business_key, upsert
from canonical.services.delivery import project_for
from canonical.services.parties import resource_for
from canonical.services.rates import rate_for, rate_or_none


@dataclass(frozen=True)
class TimeResult:
    entry: TimeEntry
    outcome: UpsertOutcome
    invoice: Invoice | None


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
    assignment = (
        Assignment.objects.filter(project=project, resource=resource, start_date__lte=work_date)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=work_date))
        .order_by("-start_date")
        .first()
    )
    rate = (
        rate_for(project=project, role=assignment.role, assignment=assignment)
        if assignment
        else rate_or_none(project=project, role=resource.role)  # what the time would bill
    )
    value = (
        (hours * rate).quantize(Decimal("0.01")) if rate is not None and billable else Decimal("0")
    )
    currency = project.contract.currency if project.contract_id else project.customer.currency
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
    if billable and (project.billing_hold or project.customer.billing_hold):
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
    contract = project.contract
    if billable and contract is not None and contract.cap_amount is not None:
        billed = InvoiceLine.objects.filter(invoice__project__contract=contract).exclude(
            invoice__status=InvoiceStatus.REJECTED
        ).exclude(time_entry__number=business_key(number)).aggregate(total=Sum("amount"))[
            "total"
        ] or Decimal("0")
        if billed + value > contract.cap_amount:
            raise RuleViolation(
                message=f"Contract {contract.number}'s cap of "
                f"{money_text(contract.cap_amount, currency)} would be exceeded: "
                f"{money_text(billed, currency)} is billed and this entry adds "
                f"{money_text(value, currency)}.",
                code=RuleCode.CAP_EXCEEDED,
                details={
                    "contract": contract.number,
                    "cap": str(contract.cap_amount),
                    "billed": str(billed.quantize(Decimal("0.01"))),
                },
                waiting_on=f"contract_cap:{contract.number}",
                **at_risk,
            )
    result = upsert(
        TimeEntry,
        lookup={"number": business_key(number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "project": project,
            "resource": resource,
            "assignment": assignment,
            "work_date": work_date,
            "hours": hours,
            "billable": billable,
            "status": TimeEntryStatus.APPROVED,
            "approved_at": approved_at,
        },
    )
    entry: TimeEntry = result.record  # type: ignore[assignment]
    invoice = invoice_candidate_add(entry=entry, rate=rate, currency=currency) if billable else None
    return TimeResult(entry, result.outcome, invoice)


def _open_for_time(project: Project, day: date) -> bool:
    """Active, or closed after ``day``: time worked before a project closed is still billed."""
    if project.status == ProjectStatus.ACTIVE:
        return True
    return (
        project.status == ProjectStatus.CLOSED
        and project.closed_on is not None
        and day <= project.closed_on
    )


def invoice_candidate_add(*, entry: TimeEntry, rate: Decimal, currency: str) -> Invoice:
    """Puts approved time on its project's candidate for the month (replacing an older line)."""
    amount = (entry.hours * rate).quantize(Decimal("0.01"))
    invoice = _open_candidate(
        project=entry.project,
        day=entry.work_date,
        currency=currency,
    )
    role = entry.assignment.role if entry.assignment else entry.resource.role
    InvoiceLine.objects.filter(invoice=invoice, time_entry=entry).delete()
    InvoiceLine.objects.create(
        invoice=invoice,
        time_entry=entry,
        description=f"{entry.work_date} {entry.resource.name} ({role})",
        quantity=entry.hours,
        rate=rate,
        amount=amount,
    )
    invoice_total(invoice)
    TimeEntry.objects.filter(pk=entry.pk).update(invoice=invoice)
    return invoice


def _open_candidate(*, project: Project, day: date, currency: str) -> Invoice:
    """The project's open candidate for the month of ``day``, created when there is none.

    Late time for a month whose invoice is already approved goes on a supplementary
    candidate for the same month (INV-…-2), not onto the approved invoice.
    """
    period_start = day.replace(day=1)
    period_end = period_start.replace(
        day=calendar.monthrange(period_start.year, period_start.month)[1]
    )
    month = Invoice.objects.select_for_update().filter(
        project=project, period_start=period_start, period_end=period_end
    )
    invoice = month.filter(
        status__in=(InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL)
    ).first()
    if invoice is not None:
        return invoice
    earlier = month.count()
    return Invoice.objects.create(
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


def invoice_candidate_rebuild(*, project: Project, period_start: date) -> Invoice | None:
    """Puts the month's approved billable time that is on no invoice onto a new candidate."""
    entries = (
        TimeEntry.objects.filter(
            project=project,
            billable=True,
            invoice__isnull=True,
            work_date__gte=period_start,
            work_date__lte=period_start.replace(
                day=calendar.monthrange(period_start.year, period_start.month)[1]
            ),
        )
        .select_related("assignment", "resource", "project__contract", "project__customer")
        .order_by("work_date", "number")
    )
    invoice = None
    for entry in entries:
        role = entry.assignment.role if entry.assignment else entry.resource.role
        rate = rate_for(project=project, role=role, assignment=entry.assignment)
        currency = project.contract.currency if project.contract_id else project.customer.currency
        invoice = invoice_candidate_add(entry=entry, rate=rate, currency=currency)
    return invoice


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
    invoice = _open_candidate(
        project=project,
        day=reached_on,
        currency=contract.currency,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        milestone=milestone,
        description=f"Milestone {milestone.code}: {milestone.name}",
        quantity=Decimal("1"),
        rate=milestone.amount,
        amount=milestone.amount,
    )
    invoice_total(invoice)
    milestone.status = MilestoneStatus.REACHED
    milestone.source_system = source_system
    milestone.save(update_fields=["status", "source_system", "updated_at"])
    return invoice
