"""Writes to the canonical records.

An upsert applies an incoming record only when it carries a newer version than
the one held: an older one is ``stale`` and the same one ``unchanged``, and
neither writes anything. Callers run these inside their own ``transaction.atomic()``.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.db.models import Q, Sum

from canonical.choices import (
    BillingModel,
    ContractStatus,
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
    ContractVersion,
    Customer,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Project,
    RateCard,
    RateCardLine,
    Resource,
    TimeEntry,
)

M = TypeVar("M", bound=models.Model)

UpsertOutcome = Literal["applied", "unchanged", "stale"]


@dataclass(frozen=True)
class UpsertResult:
    record: models.Model
    outcome: UpsertOutcome
    created: bool


def _key(value: str) -> str:
    return value.strip().upper()


def _locked(model: type[M], lookup: dict[str, Any]) -> M | None:
    return model.objects.select_for_update().filter(**lookup).first()


def _upsert(
    model: type[M],
    *,
    lookup: dict[str, Any],
    version: int,
    source_system: str,
    values: Callable[[], dict[str, Any]],
) -> UpsertResult:
    """Creates or updates the row found by ``lookup``; ``values`` is only called to write."""
    with transaction.atomic():
        for attempt in range(2):
            record = _locked(model, lookup)
            if record is None:
                try:
                    with transaction.atomic():
                        record = model.objects.create(
                            **lookup, **values(), version=version, source_system=source_system
                        )
                except IntegrityError:
                    # Another transaction created the same key since we looked: read it again.
                    if attempt:
                        raise
                    continue
                return UpsertResult(record=record, outcome="applied", created=True)
            if version < record.version:
                return UpsertResult(record=record, outcome="stale", created=False)
            if version == record.version:
                return UpsertResult(record=record, outcome="unchanged", created=False)
            for field, value in values().items():
                setattr(record, field, value)
            record.version = version
            record.source_system = source_system
            record.save()
            return UpsertResult(record=record, outcome="applied", created=False)
    raise AssertionError("unreachable")  # pragma: no cover


def legal_entity_upsert(
    *,
    code: str,
    name: str,
    country: str,
    currency: str,
    version: int,
    source_system: str,
    active: bool = True,
) -> UpsertResult:
    return _upsert(
        LegalEntity,
        lookup={"code": _key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "country": _key(country),
            "currency": _key(currency),
            "active": active,
        },
    )


def customer_upsert(
    *,
    number: str,
    name: str,
    legal_entity_code: str,
    currency: str,
    version: int,
    source_system: str,
    active: bool = True,
) -> UpsertResult:
    def values() -> dict[str, Any]:
        return {
            "name": name.strip(),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code)),
            "currency": _key(currency),
            "active": active,
        }

    return _upsert(
        Customer,
        lookup={"number": _key(number)},
        version=version,
        source_system=source_system,
        values=values,
    )


def _active_legal_entity(*, code: str) -> LegalEntity:
    legal_entity = LegalEntity.objects.filter(code=code).first()
    return _required(
        legal_entity,
        kind="legal_entity",
        key=code,
        label="Legal entity",
        code=RuleCode.INVALID_LEGAL_ENTITY,
        active=legal_entity is None or legal_entity.active,
    )


def _required(
    record: M | None, *, kind: str, key: str, label: str, code: RuleCode, active: bool = True
) -> M:
    """``record``, or a RuleViolation ``code`` that waits for ``kind:key`` to arrive (or turn active)."""
    if record is None or not active:
        raise RuleViolation(
            message=f"{label} '{key}' "
            + ("does not exist." if record is None else "is not active."),
            code=code,
            details={kind: key},
            waiting_on=f"{kind}:{key}",
        )
    return record


def _customer_for(*, number: str) -> Customer:
    return _required(
        Customer.objects.filter(number=_key(number)).first(),
        kind="customer",
        key=_key(number),
        label="Customer",
        code=RuleCode.UNKNOWN_CUSTOMER,
    )


def _rate_card_for(*, code: str) -> RateCard:
    return _required(
        RateCard.objects.filter(code=_key(code)).first(),
        kind="rate_card",
        key=_key(code),
        label="Rate card",
        code=RuleCode.MISSING_RATE_CARD,
    )


@dataclass(frozen=True)
class ContractTerms:
    """A contract's terms as signed or amended: what a ContractVersion keeps."""

    number: str
    customer: str
    legal_entity: str
    currency: str
    billing_model: str
    start_date: date
    end_date: date | None = None
    rate_card: str = ""
    rates: dict[str, Decimal] = field(default_factory=dict)
    cap_amount: Decimal | None = None
    milestones: tuple[dict[str, Any], ...] = ()
    project_code: str = ""
    project_name: str = ""
    signed_at: datetime | None = None

    def snapshot(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), cls=DjangoJSONEncoder))


@dataclass(frozen=True)
class ContractResult:
    contract: Contract
    project: Project | None
    outcome: UpsertOutcome
    created: bool


def contract_sign(
    *, terms: ContractTerms, version: int, source_system: str, correlation_id: str
) -> ContractResult:
    """Records a signed contract, its immutable version, its project and milestones.

    Refuses (RuleViolation) a contract whose customer, legal entity or rate card the
    tower does not know, or a time-and-materials contract with no rate at all.
    """
    customer = _customer_for(number=terms.customer)
    legal_entity = _active_legal_entity(code=_key(terms.legal_entity))
    rate_card = _rate_card_for(code=terms.rate_card) if terms.rate_card else None
    if terms.billing_model in (BillingModel.TIME_AND_MATERIALS, BillingModel.RETAINER):
        if rate_card is None and not terms.rates:
            raise RuleViolation(
                message=f"Contract {terms.number} bills time but names no rate card and no rates.",
                code=RuleCode.MISSING_RATE_CARD,
                details={"contract": terms.number},
                waiting_on=f"contract_rates:{_key(terms.number)}",
            )
    result = _upsert(
        Contract,
        lookup={"number": _key(terms.number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "customer": customer,
            "legal_entity": legal_entity,
            "rate_card": rate_card,
            "billing_model": terms.billing_model,
            "currency": _key(terms.currency),
            "start_date": terms.start_date,
            "end_date": terms.end_date,
            "cap_amount": terms.cap_amount,
            "status": ContractStatus.SIGNED,
            "signed_at": terms.signed_at,
            "correlation_id": correlation_id,
        },
    )
    contract: Contract = result.record  # type: ignore[assignment]
    if result.outcome != "applied":
        return ContractResult(contract, contract.projects.first(), result.outcome, False)
    ContractVersion.objects.create(
        contract=contract, version=version, terms=terms.snapshot(), effective_date=terms.start_date
    )
    project = None
    if terms.project_code:
        project = _upsert(
            Project,
            lookup={"code": _key(terms.project_code)},
            version=version,
            source_system=source_system,
            values=lambda: {
                "name": terms.project_name or terms.project_code,
                "contract": contract,
                "customer": customer,
                "legal_entity": legal_entity,
                "status": ProjectStatus.ACTIVE,
                "billable": True,
                "start_date": terms.start_date,
                "end_date": terms.end_date,
            },
        ).record
    for milestone in terms.milestones:
        BillingMilestone.objects.update_or_create(
            contract=contract,
            code=_key(milestone["code"]),
            defaults={
                "project": project,
                "name": milestone["name"],
                "due_date": milestone.get("due_date"),
                "amount": Decimal(str(milestone["amount"])),
                "version": version,
                "source_system": source_system,
            },
        )
    return ContractResult(contract, project, "applied", result.created)  # type: ignore[arg-type]


def resource_upsert(
    *,
    employee_number: str,
    name: str,
    role: str,
    legal_entity_code: str,
    version: int,
    source_system: str,
    email: str = "",
    cost_rate: Decimal | None = None,
    active: bool = True,
) -> UpsertResult:
    return _upsert(
        Resource,
        lookup={"employee_number": _key(employee_number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "email": email.strip(),
            "role": role.strip(),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code)),
            "cost_rate": cost_rate,
            "active": active,
        },
    )


def rate_card_upsert(
    *,
    code: str,
    name: str,
    currency: str,
    lines: dict[str, Decimal],
    version: int,
    source_system: str,
    legal_entity_code: str = "",
) -> UpsertResult:
    """Creates or changes a rate card; its lines become exactly ``lines`` (role -> rate)."""
    result = _upsert(
        RateCard,
        lookup={"code": _key(code)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "name": name.strip(),
            "currency": _key(currency),
            "legal_entity": _active_legal_entity(code=_key(legal_entity_code))
            if legal_entity_code
            else None,
        },
    )
    if result.outcome == "applied":
        card: RateCard = result.record  # type: ignore[assignment]
        card.lines.exclude(role__in=list(lines)).delete()
        for role, rate in lines.items():
            RateCardLine.objects.update_or_create(
                rate_card=card, role=role, defaults={"rate": rate}
            )
    return result


def project_for(*, code: str) -> Project:
    """The project, with what the billing rules read of it (its contract, rate card, customer)."""
    return _required(
        Project.objects.select_related("contract__rate_card", "customer")
        .filter(code=_key(code))
        .first(),
        kind="project",
        key=_key(code),
        label="Project",
        code=RuleCode.UNKNOWN_PROJECT,
    )


def project_change(
    *, code: str, source_system: str, changes: dict[str, Any], changed_on: date
) -> Project:
    """Applies another system's change to a project the tower holds; its version grows by one.

    A project hears from the contract and from the PSA, each with its own version
    numbers, so the caller judges staleness against that system's sync state.

    Closing it records ``closed_on``: the end date the change gives, else ``changed_on``
    (the day it closed). Time worked up to that day is still billed.
    """
    project = Project.objects.select_for_update().filter(code=_key(code)).first()
    if project is None:
        project_for(code=code)  # raises unknown_project
    was_closed = project.status == ProjectStatus.CLOSED
    for field_name, value in changes.items():
        if value is not None:
            setattr(project, field_name, value)
    if project.status != ProjectStatus.CLOSED:
        project.closed_on = None
    elif not was_closed or changes.get("end_date"):
        project.closed_on = changes.get("end_date") or changed_on
    project.version += 1
    project.source_system = source_system
    project.save()
    return project


# --- Staffing and time ----------------------------------------------------------------


def resource_for(*, employee_number: str) -> Resource:
    resource = Resource.objects.filter(employee_number=_key(employee_number)).first()
    return _required(
        resource,
        kind="resource",
        key=_key(employee_number),
        label="Resource",
        code=RuleCode.UNKNOWN_RESOURCE,
        active=resource is None or resource.active,
    )


def assignment_upsert(
    *,
    number: str,
    project_code: str,
    employee_number: str,
    role: str,
    start_date: date,
    end_date: date | None,
    allocation_percent: int,
    bill_rate: Decimal | None,
    version: int,
    source_system: str,
) -> UpsertResult:
    project = project_for(code=project_code)
    resource = resource_for(employee_number=employee_number)
    if bill_rate is None:
        rate_for(project=project, role=role)  # refuses a role the contract cannot bill
    return _upsert(
        Assignment,
        lookup={"number": _key(number)},
        version=version,
        source_system=source_system,
        values=lambda: {
            "project": project,
            "resource": resource,
            "role": role.strip(),
            "start_date": start_date,
            "end_date": end_date,
            "allocation_percent": allocation_percent,
            "bill_rate": bill_rate,
        },
    )


def rate_for(*, project: Project, role: str, assignment: Assignment | None = None) -> Decimal:
    """The hourly bill rate: the assignment's own, else the contract's, else its rate card's."""
    if assignment is not None and assignment.bill_rate is not None:
        return assignment.bill_rate
    contract = project.contract
    if contract is not None:
        current = contract.versions.order_by("-version").first()
        rates = (current.terms.get("rates") or {}) if current else {}
        if role in rates:
            return Decimal(str(rates[role]))
        if contract.rate_card_id:
            line = contract.rate_card.lines.filter(role=role).first()
            if line is not None:
                return line.rate
    card = contract.rate_card.code if contract is not None and contract.rate_card_id else ""
    raise RuleViolation(
        message=f"No {role} rate for project {project.code}"
        + (f": rate card {card} has no {role} line." if card else "."),
        code=RuleCode.MISSING_RATE_CARD,
        details={"project": project.code, "role": role, "rate_card": card},
        waiting_on=f"rate_card:{_key(card)}:{_key(role)}"
        if card
        else f"contract_rates:{contract.number}"
        if contract is not None
        else f"project_rates:{project.code}",
    )


def _rate_or_none(*, project: Project, role: str) -> Decimal | None:
    """The rate ``role`` would bill at on ``project``, or None when nothing prices it."""
    try:
        return rate_for(project=project, role=role)
    except RuleViolation:
        return None


def contract_rates(contract: Contract) -> dict[str, Decimal]:
    """Every role's bill rate under the contract's current terms: its own rates over its rate card's."""
    rates = (
        {line.role: line.rate for line in contract.rate_card.lines.all()}
        if contract.rate_card_id
        else {}
    )
    current = contract.versions.order_by("-version").first()
    if current:
        rates.update(
            {
                role: Decimal(str(rate)).quantize(Decimal("0.01"))
                for role, rate in (current.terms.get("rates") or {}).items()
            }
        )
    return rates


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
    existing = TimeEntry.objects.filter(number=_key(number)).first()
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
        else _rate_or_none(project=project, role=resource.role)  # what the time would bill
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
        ).exclude(time_entry__number=_key(number)).aggregate(total=Sum("amount"))[
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
    result = _upsert(
        TimeEntry,
        lookup={"number": _key(number)},
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
    _total(invoice)
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


def _total(invoice: Invoice) -> None:
    invoice.amount = invoice.lines.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    invoice.version += 1
    invoice.save(update_fields=["amount", "version", "updated_at"])


def milestone_reach(
    *, contract_number: str, code: str, reached_on: date, source_system: str
) -> Invoice | None:
    """A reached milestone goes on its project's candidate for the month, once (None if it was)."""
    contract = Contract.objects.filter(number=_key(contract_number)).first()
    if contract is None:
        raise RuleViolation(
            message=f"Milestone {code} of contract {_key(contract_number)} arrived before the contract.",
            code=RuleCode.AMENDMENT_BEFORE_CONTRACT,
            details={"contract": _key(contract_number), "milestone": code},
            waiting_on=f"contract_signed:{_key(contract_number)}",
        )
    milestone = (
        BillingMilestone.objects.select_for_update(of=("self",))
        .filter(contract=contract, code=_key(code))
        .select_related("project")
        .first()
    )
    if milestone is None:
        raise RuleViolation(
            message=f"Contract {contract.number} has no milestone {_key(code)}.",
            code=RuleCode.UNKNOWN_MILESTONE,
            details={"contract": contract.number, "milestone": _key(code)},
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
    _total(invoice)
    milestone.status = MilestoneStatus.REACHED
    milestone.source_system = source_system
    milestone.save(update_fields=["status", "source_system", "updated_at"])
    return invoice


# --- Amendments -----------------------------------------------------------------------


@dataclass(frozen=True)
class AmendmentResult:
    contract: Contract
    project: Project | None
    outcome: UpsertOutcome


def contract_amend(
    *,
    terms: ContractTerms,
    effective_date: date,
    version: int,
    source_system: str,
    invoiced_rate_cut_approved: bool = False,
) -> AmendmentResult:
    """Records an amendment as a new immutable version and applies it to the contract.

    Refuses an amendment for a contract the tower has not seen signed (it waits for it),
    and a rate cut on time already invoiced at the old rate (an ``amendment_conflict``
    for finance to decide) unless an approver accepted it: then invoiced time stays as
    billed and the new rates apply to what is not yet approved.
    """
    contract = Contract.objects.select_for_update().filter(number=_key(terms.number)).first()
    if contract is None:
        raise RuleViolation(
            message=f"Amendment to contract {_key(terms.number)} arrived before the contract.",
            code=RuleCode.AMENDMENT_BEFORE_CONTRACT,
            details={"contract": _key(terms.number)},
            waiting_on=f"contract_signed:{_key(terms.number)}",
        )
    if version <= contract.version:
        outcome: UpsertOutcome = "stale" if version < contract.version else "unchanged"
        return AmendmentResult(contract, contract.projects.first(), outcome)
    if not invoiced_rate_cut_approved:
        _refuse_rate_cuts_on_invoiced_time(contract, terms.rates, effective_date)
    rate_card = _rate_card_for(code=terms.rate_card) if terms.rate_card else contract.rate_card
    contract.rate_card = rate_card
    contract.end_date = terms.end_date
    contract.cap_amount = terms.cap_amount
    contract.status = ContractStatus.AMENDED
    contract.version = version
    contract.source_system = source_system
    contract.save()
    ContractVersion.objects.create(
        contract=contract, version=version, terms=terms.snapshot(), effective_date=effective_date
    )
    project = contract.projects.select_for_update().first()
    if project is not None and project.end_date != terms.end_date:
        project.end_date = terms.end_date
        project.version += 1
        project.save(update_fields=["end_date", "version", "updated_at"])
    for milestone in terms.milestones:
        BillingMilestone.objects.update_or_create(
            contract=contract,
            code=_key(milestone["code"]),
            defaults={
                "project": project,
                "name": milestone["name"],
                "due_date": milestone.get("due_date"),
                "amount": Decimal(str(milestone["amount"])),
                "version": version,
                "source_system": source_system,
            },
        )
    _rerate_candidates(contract, effective_date)
    return AmendmentResult(contract, project, "applied")


def _rerate_candidates(contract: Contract, effective_date: date) -> None:
    """Time on candidates not yet approved is billed at the rates in force after the amendment."""
    lines = InvoiceLine.objects.filter(
        invoice__project__contract=contract,
        invoice__status__in=(InvoiceStatus.CANDIDATE, InvoiceStatus.AWAITING_APPROVAL),
        time_entry__work_date__gte=effective_date,
    ).select_related("time_entry__assignment", "time_entry__resource", "invoice__project")
    touched: dict[int, Invoice] = {}
    for line in lines:
        entry = line.time_entry
        role = entry.assignment.role if entry.assignment else entry.resource.role
        rate = rate_for(project=line.invoice.project, role=role, assignment=entry.assignment)
        if rate != line.rate:
            line.rate = rate
            line.amount = (line.quantity * rate).quantize(Decimal("0.01"))
            line.save(update_fields=["rate", "amount"])
            touched[line.invoice_id] = line.invoice
    for invoice in touched.values():
        _total(invoice)


def _refuse_rate_cuts_on_invoiced_time(
    contract: Contract, new_rates: dict[str, Decimal], effective_date: date
) -> None:
    """A lower rate from a date on which time was already invoiced at the old rate is a conflict."""
    invoiced = (InvoiceStatus.APPROVED, InvoiceStatus.POSTED, InvoiceStatus.PAID)
    for role, new in new_rates.items():
        lines = InvoiceLine.objects.filter(
            invoice__project__contract=contract,
            invoice__status__in=invoiced,
            time_entry__work_date__gte=effective_date,
            time_entry__assignment__role=role,
            rate__gt=new,
        )
        totals = lines.aggregate(hours=Sum("quantity"), billed=Sum("amount"))
        hours = totals["hours"]
        if hours:
            old = (totals["billed"] / hours).quantize(Decimal("0.01"))
            raise RuleViolation(
                message=f"Amendment cuts the {role} rate from {old} to {new} from {effective_date}, "
                f"but {hours} h at the old rate are already invoiced.",
                code=RuleCode.AMENDMENT_CONFLICT,
                details={
                    "contract": contract.number,
                    "role": role,
                    "from": str(old),
                    "to": str(new),
                    "hours": str(hours),
                },
                money_at_risk=(totals["billed"] - new * hours).quantize(Decimal("0.01")),
                currency=contract.currency,
            )
