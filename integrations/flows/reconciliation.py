"""Reconciliation: the tower's records against the ERP's and the PSA's copies.

Five kinds of drift, each a ``reconciliation_drift`` exception whose ``details["kind"]``
says which, with the amount at stake and the customer, contract, project or invoice named:

- ``missing_record``: a signed contract's project that the ERP (job) or the PSA does not hold;
- ``erp_rates``: an ERP job whose billing rates differ from the contract's current version;
- ``psa_project``: a PSA project whose status or dates differ from the tower's;
- ``unbilled_time``: approved billable time that no invoice holds, per project and month,
  once the month is over;
- ``invoice``: a posted invoice the ERP lacks, holds twice, or holds with another total or
  other hours (one drift per invoice, so a missing line is not counted twice); and an ERP
  invoice on a tower project that the tower never posted.

Each is restated by every run that finds it again and resolved by the first run that no
longer does; the run itself succeeds.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from canonical.choices import InvoiceStatus, TimeEntryStatus
from canonical.models import Contract, Invoice, Project, TimeEntry
from canonical.services.billing import MONTHLY_FEE, cap_billed, money
from canonical.services.rates import contract_rates, rate_or_none
from integrations.choices import ErrorClass, ExceptionType, Outcome, SystemKind
from integrations.clients.erp import ErpClient
from integrations.clients.psa import PsaClient
from integrations.errors import IntegrationError
from integrations.flows.registry import handles
from integrations.models import ConnectedSystem, ExceptionRecord
from integrations.selectors.routing import erp_for_or_none, erp_systems
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import exception_raise, exceptions_resolve_by_fix

CENT = Decimal("0.01")

if TYPE_CHECKING:
    from integrations.models import Transaction


class DriftKind:
    """``details["kind"]`` of a drift: what differs, and so which action fixes it."""

    MISSING_RECORD = "missing_record"
    ERP_RATES = "erp_rates"
    PSA_PROJECT = "psa_project"
    UNBILLED_TIME = "unbilled_time"
    INVOICE = "invoice"
    # An ERP invoice on a tower project that the tower never posted.
    NOT_POSTED = "not_posted"


class Drift(NamedTuple):
    key: str
    message: str
    amount: Decimal
    currency: str
    details: dict
    record: Any = None  # the canonical record it is about: names its customer


@handles("reconciliation.run", atomic=False)
def reconciliation_run(tx: Transaction) -> str:
    """Each ERP instance against the invoices and projects routed to it (its legal
    entities'), the PSA against the projects, and the tower's own unbilled time."""
    posted = Invoice.objects.filter(
        status__in=(InvoiceStatus.POSTED, InvoiceStatus.PAID)
    ).select_related("project", "legal_entity", "customer")
    owners: dict[str, ConnectedSystem | None] = {}
    routed: dict[int, list[Invoice]] = {}
    for invoice in posted:
        code = invoice.legal_entity.code
        if code not in owners:
            owners[code] = erp_for_or_none(code)
        if owners[code] is not None:
            routed.setdefault(owners[code].pk, []).append(invoice)
    systems = list(erp_systems())
    if not systems:
        raise IntegrationError(
            "No enabled erp system with a base URL is connected.",
            transient=False,
            error_class=ErrorClass.CONFIGURATION,
            code=ExceptionType.SYSTEM_NOT_CONFIGURED,
            waiting_on="system:ERP",
        )
    drifts: list[Drift] = []
    for erp_system in systems:
        # One ERP is "the ERP", as before; several are named.
        where = "the ERP" if len(systems) == 1 else f"the ERP {erp_system.slug}"
        drifts.extend(_erp_drifts(erp_system, routed.get(erp_system.pk, []), where))
        drifts.extend(_erp_job_drifts(erp_system, where))
    # A project missing from both the ERP and the PSA puts its contract's value at stake once.
    counted = {
        d.details["project"] for d in drifts if d.details.get("kind") == DriftKind.MISSING_RECORD
    }
    drifts.extend(_psa_drifts(counted))
    drifts.extend(_unbilled_time_drifts(timezone.localdate()))
    with transaction.atomic():
        # A drift found again is the same exception, restated with today's amount; one
        # no longer found was fixed (in the other system or by an action) and resolves by itself.
        found = {
            exception_raise(
                tx=tx,
                failure=IntegrationError.business(
                    drift.message,
                    code=ExceptionType.RECONCILIATION_DRIFT,
                    details=drift.details,
                    money_at_risk=drift.amount,
                    currency=drift.currency,
                    waiting_on="",
                    record=drift.record,
                ),
                cause=drift.key,
                business_key=drift.key,
                restate=True,
            ).pk
            for drift in drifts
        }
        exceptions_resolve_by_fix(
            ExceptionRecord.objects.filter(
                exception_type=ExceptionType.RECONCILIATION_DRIFT
            ).exclude(pk__in=found),
            resolution=f"Reconciliation {tx.business_key or tx.pk} no longer finds this drift.",
        )
    return Outcome.APPLIED


def _named(record: Any) -> dict[str, str]:
    """The customer (number and name) and the contract and project a drift is about."""
    project = record if isinstance(record, Project) else getattr(record, "project", None)
    contract = record if isinstance(record, Contract) else getattr(project, "contract", None)
    customer = getattr(record, "customer", None) or getattr(project, "customer", None)
    named = {}
    if customer is not None:
        named.update(customer=customer.number, customer_name=customer.name)
    if contract is not None:
        named["contract"] = contract.number
    if project is not None:
        named["project"] = project.code
    return named


def _erp_drifts(erp_system: ConnectedSystem, posted: list[Invoice], where: str) -> list[Drift]:
    """The drifts between one ERP instance and the posted invoices it owns: one per invoice,
    whatever differs (a missing line changes both the total and the hours; it is one
    amount at stake, not two)."""
    erp = ErpClient(erp_system)
    erp_invoices = erp.list("invoice")
    by_external_id: dict[str, list[dict]] = {}
    for item in erp_invoices:
        by_external_id.setdefault(str(item.get("externalId") or ""), []).append(item)
    known_jobs: dict[str, Project] = {}  # the ERP's job id → the tower's project
    drifts: list[Drift] = []
    for invoice in posted:
        job = sync_state_for(invoice.project, erp_system)
        if job:
            known_jobs[job.external_id] = invoice.project
        base = {
            "kind": DriftKind.INVOICE,
            "invoice": invoice.number,
            "system": erp_system.slug,
            **_named(invoice),
        }
        copies = by_external_id.get(invoice.number, [])
        if not copies:
            drifts.append(
                Drift(
                    invoice.number,
                    f"Invoice {invoice.number} was posted but {where} has no such invoice.",
                    invoice.amount,
                    invoice.currency,
                    {**base, "missing": True, "tower": str(invoice.amount), "erp": "none"},
                    invoice,
                )
            )
            continue
        messages: list[str] = []
        amount = Decimal("0")
        details: dict[str, Any] = dict(base)
        if len(copies) > 1:
            messages.append(
                f"{where[0].upper()}{where[1:]} holds invoice {invoice.number} {len(copies)} times."
            )
            amount += invoice.amount * (len(copies) - 1)
            details["erp_ids"] = [c["id"] for c in copies]
        total = Decimal(str(copies[0].get("total") or "0"))
        if total != invoice.amount:
            messages.append(
                f"Invoice {invoice.number}: the tower billed {invoice.amount}, {where} holds {total}."
            )
            amount += abs(invoice.amount - total)
            details.update(tower=str(invoice.amount), erp=str(total))
        # Hours: what the tower approved and billed for the project and month, against the
        # quantities the ERP's invoice carries.
        tower_hours = invoice.lines.filter(time_entry__isnull=False).aggregate(h=Sum("quantity"))[
            "h"
        ] or Decimal("0")
        erp_hours = sum(
            (
                Decimal(str(line.get("quantity") or 0))
                for line in (copies[0].get("item") or {}).get("items", [])
                # A milestone's, a monthly fee's or an expense's line bills no hours.
                if not str(line.get("description", "")).startswith(
                    ("Milestone ", MONTHLY_FEE, "Expense ")
                )
            ),
            Decimal("0"),
        )
        tower_hours, erp_hours = tower_hours.quantize(CENT), erp_hours.quantize(CENT)
        if tower_hours != erp_hours:
            messages.append(
                f"{invoice.project.code} {invoice.period_start:%B %Y}: {tower_hours} h approved and billed, "
                f"{where} invoice carries {erp_hours} h."
            )
            if total == invoice.amount:  # otherwise the total's difference already counts it
                amount += abs(tower_hours - erp_hours) * (
                    invoice.amount / tower_hours if tower_hours else Decimal("0")
                )
            details.update(tower_hours=str(tower_hours), erp_hours=str(erp_hours))
        if messages:
            drifts.append(
                Drift(
                    invoice.number,
                    " ".join(messages),
                    money(amount),
                    invoice.currency,
                    details,
                    invoice,
                )
            )
    tower_numbers = set(Invoice.objects.values_list("number", flat=True))
    for item in erp_invoices:
        job_id = str((item.get("job") or {}).get("id") or "")
        if job_id in known_jobs and str(item.get("externalId") or "") not in tower_numbers:
            key = f"{erp_system.slug}:{item['id']}"
            drifts.append(
                Drift(
                    key,
                    f"{where[0].upper()}{where[1:]} holds invoice {item.get('tranId') or item['id']} on a tower project that the tower never posted.",
                    Decimal(str(item.get("total") or "0")),
                    "",
                    {
                        "kind": DriftKind.NOT_POSTED,
                        "erp_id": item["id"],
                        "system": erp_system.slug,
                        **_named(known_jobs[job_id]),
                    },
                    known_jobs[job_id],
                )
            )
    return drifts


def _pushed_projects() -> list[Project]:
    """The projects of signed contracts, which the tower creates in the ERP and the PSA."""
    return list(
        Project.objects.filter(contract__isnull=False)
        .select_related("contract__legal_entity", "contract__rate_card", "customer")
        .order_by("code")
    )


def _unbilled_entries(project: Project) -> list[tuple[TimeEntry, Decimal]]:
    """Approved billable time on ``project`` that no posted invoice holds, with the hours it
    bills (a retainer's included hours aside)."""
    entries = (
        TimeEntry.objects.filter(project=project, billable=True, status=TimeEntryStatus.APPROVED)
        .filter(
            Q(invoice__isnull=True)
            | ~Q(invoice__status__in=(InvoiceStatus.POSTED, InvoiceStatus.PAID))
        )
        .select_related("assignment", "resource")
        .order_by("work_date", "number")
    )
    return [(e, e.hours - e.retainer_hours) for e in entries if e.hours - e.retainer_hours > 0]


def _role_of(entry: TimeEntry) -> str:
    return entry.assignment.role if entry.assignment else entry.resource.role


def _remaining_value(contract: Contract) -> Decimal:
    """What is still to be billed under the contract: its cap (or its milestones' total)
    less what its invoices bill; uncapped hourly work, its approved time not yet posted."""
    ceiling = contract.cap_amount
    if ceiling is None:
        ceiling = contract.milestones.aggregate(total=Sum("amount"))["total"]
    if ceiling is not None:
        return money(max(ceiling - cap_billed(contract), Decimal("0")))
    total = Decimal("0")
    for project in contract.projects.all():
        for entry, hours in _unbilled_entries(project):
            rate = rate_or_none(project=project, role=_role_of(entry))
            total += hours * (rate or Decimal("0"))
    return money(total)


def _erp_job_drifts(erp_system: ConnectedSystem, where: str) -> list[Drift]:
    """Contracts' projects that this ERP instance owns without a job, or with other rates."""
    jobs = {str(job.get("externalId") or ""): job for job in ErpClient(erp_system).list("job")}
    drifts: list[Drift] = []
    owners: dict[str, ConnectedSystem | None] = {}
    for project in _pushed_projects():
        contract = project.contract
        code = contract.legal_entity.code
        if code not in owners:
            owners[code] = erp_for_or_none(code)
        if owners[code] is None or owners[code].pk != erp_system.pk:
            continue
        job = jobs.get(project.code)
        named = {"system": erp_system.slug, **_named(project)}
        if job is None:
            drifts.append(
                Drift(
                    f"missing:{erp_system.slug}:{project.code}",
                    f"Contract {contract.number} is signed but {where} has no job for project "
                    f"{project.code}.",
                    _remaining_value(contract),
                    contract.currency,
                    {"kind": DriftKind.MISSING_RECORD, "missing": "ERP job", **named},
                    project,
                )
            )
            continue
        tower_rates = {role: str(rate) for role, rate in contract_rates(contract).items()}
        erp_rates = {
            str(line.get("role")): str(Decimal(str(line.get("rate"))).quantize(CENT))
            for line in (job.get("billingRates") or {}).get("items", [])
        }
        if tower_rates == erp_rates:
            continue
        # At stake: the approved time not yet posted, billed at the ERP's rate instead of
        # the contract's (a role the ERP lacks: all of it).
        amount = Decimal("0")
        for entry, hours in _unbilled_entries(project):
            role = _role_of(entry)
            tower = Decimal(tower_rates.get(role, "0"))
            erp = Decimal(erp_rates.get(role, "0"))
            amount += hours * abs(tower - erp)
        differing = sorted(
            role
            for role in set(tower_rates) | set(erp_rates)
            if tower_rates.get(role) != erp_rates.get(role)
        )
        drifts.append(
            Drift(
                f"rates:{erp_system.slug}:{project.code}",
                f"{where[0].upper()}{where[1:]} bills project {project.code} at other rates "
                f"than contract {contract.number} v{contract.version}: "
                + ", ".join(
                    f"{role} {tower_rates.get(role, 'none')} in the tower, "
                    f"{erp_rates.get(role, 'none')} in the ERP"
                    for role in differing
                )
                + ".",
                money(amount),
                contract.currency,
                {
                    "kind": DriftKind.ERP_RATES,
                    "tower_rates": tower_rates,
                    "erp_rates": erp_rates,
                    **named,
                },
                project,
            )
        )
    return drifts


def _psa_system() -> ConnectedSystem | None:
    return (
        ConnectedSystem.objects.filter(kind=SystemKind.PSA, enabled=True)
        .exclude(base_url="")
        .order_by("slug")
        .first()
    )


def _psa_projects(psa: PsaClient) -> dict[str, dict]:
    found: dict[str, dict] = {}
    offset = 0
    while True:
        page, more = psa.changed("projects", since=None, offset=offset, limit=500)
        found.update({str(item.get("code") or ""): item for item in page})
        offset += len(page)
        if not more or not page:
            return found


def _psa_drifts(counted: set[str]) -> list[Drift]:
    """Contracts' projects the PSA lacks, or holds with another status or other dates; a
    project in ``counted`` has its contract's value at stake on the ERP's drift already."""
    system = _psa_system()
    if system is None:
        return []
    held = _psa_projects(PsaClient(system))
    drifts: list[Drift] = []
    for project in _pushed_projects():
        contract = project.contract
        named = {"system": system.slug, **_named(project)}
        copy = held.get(project.code)
        counted_here = project.code in counted
        if copy is None:
            drifts.append(
                Drift(
                    f"missing:{system.slug}:{project.code}",
                    f"Contract {contract.number} is signed but the PSA has no project "
                    f"{project.code}."
                    + (" Its value is counted on the ERP job's drift." if counted_here else ""),
                    Decimal("0.00") if counted_here else _remaining_value(contract),
                    contract.currency,
                    {"kind": DriftKind.MISSING_RECORD, "missing": "PSA project", **named},
                    project,
                )
            )
            continue
        tower = {
            "status": project.status,
            "start_date": project.start_date.isoformat(),
            "end_date": project.end_date.isoformat() if project.end_date else None,
        }
        psa = {field: copy.get(field) for field in tower}
        differing = [field for field in tower if tower[field] != psa[field]]
        if not differing:
            continue
        # At stake: the project's approved time not yet posted, which a PSA that shows it
        # closed or out of its dates would hold up.
        amount = sum(
            (
                hours * (rate_or_none(project=project, role=_role_of(entry)) or Decimal("0"))
                for entry, hours in _unbilled_entries(project)
            ),
            Decimal("0"),
        )
        drifts.append(
            Drift(
                f"psa:{system.slug}:{project.code}",
                f"The PSA holds project {project.code} with "
                + ", ".join(
                    f"{field.replace('_', ' ')} {psa[field] or 'none'} (the tower: "
                    f"{tower[field] or 'none'})"
                    for field in differing
                )
                + ".",
                money(amount),
                contract.currency,
                {"kind": DriftKind.PSA_PROJECT, "tower": tower, "psa": psa, **named},
                project,
            )
        )
    return drifts


def _unbilled_time_drifts(today: date) -> list[Drift]:
    """Approved billable time that no invoice holds (a rejected candidate's, say), per
    project and month, once the month is over; time on a candidate awaiting approval is in
    the approval queue already."""
    month = today.replace(day=1)
    entries = (
        TimeEntry.objects.filter(
            status=TimeEntryStatus.APPROVED,
            billable=True,
            invoice__isnull=True,
            work_date__lt=month,
        )
        .select_related("project__contract", "project__customer", "assignment", "resource")
        .order_by("project__code", "work_date", "number")
    )
    groups: dict[tuple[str, date], list[TimeEntry]] = {}
    for entry in entries:
        contract = entry.project.contract
        if contract is not None and not contract.bills_time:
            continue
        if entry.hours - entry.retainer_hours <= 0:
            continue
        groups.setdefault((entry.project.code, entry.work_date.replace(day=1)), []).append(entry)
    drifts: list[Drift] = []
    for (code, period), group in groups.items():
        project = group[0].project
        hours = sum((e.hours - e.retainer_hours for e in group), Decimal("0"))
        amount = sum(
            (
                (e.hours - e.retainer_hours)
                * (rate_or_none(project=project, role=_role_of(e)) or Decimal("0"))
                for e in group
            ),
            Decimal("0"),
        )
        currency = project.contract.currency if project.contract else project.customer.currency
        drifts.append(
            Drift(
                f"unbilled:{code}:{period:%Y-%m}",
                f"{code} {period:%B %Y}: {hours} h approved and not billed; the month is over "
                "and no invoice holds them.",
                money(amount),
                currency,
                {
                    "kind": DriftKind.UNBILLED_TIME,
                    "period_start": period.isoformat(),
                    "hours": str(hours.quantize(CENT)),
                    "entries": [e.number for e in group][:50],
                    **_named(project),
                },
                project,
            )
        )
    return drifts
