"""Approved time set-based: a chunk of entries checked and billed with a fixed number of
statements, whatever its size.

The rules are those of ``time_entry_approve`` (``billing.time_entry_judge``), run in
memory on what is read once for the chunk: projects with their contracts and customers,
resources, assignments, the contracts' current rates and rate cards, what capped
contracts bill, the months' invoices. Entries, candidate lines, invoice totals are then
written in bulk.

What the chunk cannot take is left to ``time_entry_approve`` one by one, so that every
refusal keeps its shape and every result is the one the entries would get in order:

- an entry whose project or resource is unknown or inactive, or that a rule refuses
  (it writes nothing either way, so its place in the order does not matter);
- every entry of a contract (of a project, without one) where the order of its entries
  changes what they bill: one refused at the cap, an entry named twice in the chunk, a
  new version of an entry already held (its line is replaced), a retainer (hours drawn
  month by month).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from canonical.choices import BillingModel, InvoiceStatus, RuleCode
from canonical.errors import RuleViolation
from canonical.models import (
    Assignment,
    Contract,
    ContractVersion,
    Invoice,
    InvoiceLine,
    Project,
    RateCardLine,
    Resource,
    TimeEntry,
)
from canonical.services.base import business_key, rows_update
from canonical.services.billing import (
    OPEN_INVOICE,
    BillingReads,
    TimeBilling,
    TimeResult,
    assignment_on,
    candidate_new,
    month_of,
    time_entry_judge,
    time_entry_values,
    time_line,
)
from canonical.services.rates import rate_from


@dataclass(frozen=True)
class ApprovedTime:
    """One approved time entry as its event gives it (``time_entry_approve``'s arguments)."""

    number: str
    project_code: str
    employee_number: str
    work_date: date
    hours: Decimal
    billable: bool
    approved_at: datetime | None
    version: int


class ChunkReads(BillingReads):
    """What the rules read, read once for a chunk's contracts; what capped contracts bill
    grows as the chunk's entries are billed, in order."""

    def __init__(self, contracts: list[Contract]) -> None:
        latest: dict[int, ContractVersion] = {}
        for version in ContractVersion.objects.filter(contract__in=contracts).order_by(
            "contract_id", "-version"
        ):
            latest.setdefault(version.contract_id, version)
        self.terms = {pk: v.terms.get("rates") or {} for pk, v in latest.items()}
        self.cards: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for line in RateCardLine.objects.filter(
            rate_card_id__in={c.rate_card_id for c in contracts if c.rate_card_id}
        ):
            self.cards[line.rate_card_id][line.role] = line.rate
        capped = [c for c in contracts if c.cap_amount is not None]
        self.billed: dict[int, Decimal] = defaultdict(Decimal)
        if capped:
            for row in (
                InvoiceLine.objects.filter(invoice__project__contract__in=capped)
                .exclude(invoice__status=InvoiceStatus.REJECTED)
                .values("invoice__project__contract")
                .annotate(total=Sum("amount"))
            ):
                self.billed[row["invoice__project__contract"]] = row["total"] or Decimal("0")

    def rate(self, *, project: Project, role: str, assignment: Assignment | None) -> Decimal:
        contract = project.contract
        return rate_from(
            project=project,
            role=role,
            assignment=assignment,
            terms=self.terms.get(contract.pk, {}) if contract is not None else {},
            card=self.cards.get(contract.rate_card_id, {}) if contract is not None else {},
        )

    def retainer_hours_left(self, *, contract: Contract, day: date, excluding: str) -> Decimal:
        raise AssertionError("a retainer's time goes one by one")

    def cap_billed(self, *, contract: Contract, excluding_entry: str) -> Decimal:
        # Only new entries are billed here: none has a line of its own to leave out yet.
        return self.billed[contract.pk]


@dataclass
class _Billed:
    index: int
    entry: TimeEntry
    billing: TimeBilling
    group: tuple[str, int]


def _group(project: Project) -> tuple[str, int]:
    """The entries whose order matters to one another: a contract's (its cap, its retainer)."""
    return ("contract", project.contract_id) if project.contract_id else ("project", project.pk)


def time_entries_approve(
    *, entries: list[ApprovedTime], source_system: str
) -> dict[int, TimeResult]:
    """``time_entry_approve`` for a chunk of entries, in their order: the results by index
    in ``entries``; an index missing is left to ``time_entry_approve`` one by one."""
    key = business_key
    numbers = [key(e.number) for e in entries]
    named = Counter(numbers)
    projects = {
        p.code: p
        for p in Project.objects.select_related("contract__rate_card", "customer").filter(
            code__in={key(e.project_code) for e in entries}
        )
    }
    held = {
        t.number: t
        for t in TimeEntry.objects.select_related("project__contract", "invoice").filter(
            number__in=numbers
        )
    }
    resources = {
        r.employee_number: r
        for r in Resource.objects.filter(
            employee_number__in={key(e.employee_number) for e in entries}
        )
    }
    assignments: dict[tuple[int, int], list[Assignment]] = defaultdict(list)
    for a in Assignment.objects.filter(
        project__in=list(projects.values()), resource__in=list(resources.values())
    ):
        assignments[(a.project_id, a.resource_id)].append(a)
    reads = ChunkReads(
        list({p.contract_id: p.contract for p in projects.values() if p.contract}.values())
    )

    results: dict[int, TimeResult] = {}
    in_order: set[tuple[str, int]] = set()  # groups left whole to the one-by-one path
    billed: list[_Billed] = []
    for index, approved in enumerate(entries):
        project = projects.get(key(approved.project_code))
        if project is None:
            continue
        group = _group(project)
        number = numbers[index]
        current = held.get(number)
        retainer = project.contract and project.contract.billing_model == BillingModel.RETAINER
        if named[number] > 1 or retainer:
            in_order.add(group)
            continue
        if current is not None:
            if approved.version < current.version:
                results[index] = TimeResult(current, "stale", current.invoice)
            elif approved.version == current.version:
                results[index] = TimeResult(current, "unchanged", current.invoice)
            else:
                in_order.add(group)  # a new version replaces its line
            continue
        resource = resources.get(key(approved.employee_number))
        if resource is None or not resource.active:
            continue
        assignment = assignment_on(assignments[(project.pk, resource.pk)], day=approved.work_date)
        try:
            billing = time_entry_judge(
                number=approved.number,
                project=project,
                resource=resource,
                assignment=assignment,
                work_date=approved.work_date,
                hours=approved.hours,
                billable=approved.billable,
                reads=reads,
            )
        except RuleViolation as refused:
            if refused.code == RuleCode.CAP_EXCEEDED:
                in_order.add(group)
            continue
        if project.contract_id:
            reads.billed[project.contract_id] += billing.value
        entry = TimeEntry(
            number=number,
            version=approved.version,
            source_system=source_system,
            **time_entry_values(
                project=project,
                resource=resource,
                assignment=assignment,
                work_date=approved.work_date,
                hours=approved.hours,
                billable=approved.billable,
                approved_at=approved.approved_at,
                drawn=billing.drawn,
            ),
        )
        billed.append(_Billed(index, entry, billing, group))
    billed = [b for b in billed if b.group not in in_order]
    _entries_write(billed)
    for b in billed:
        results[b.index] = TimeResult(b.entry, "applied", b.entry.invoice)
    return results


def _bills(b: _Billed) -> bool:
    return bool(b.billing.billed_hours) and b.billing.rate is not None


def _entries_write(billed: list[_Billed]) -> None:
    """Entries, the months' candidates (found or created), their lines and totals."""
    billing = [b for b in billed if _bills(b)]
    months = {(b.entry.project.pk, month_of(b.entry.work_date)[0]) for b in billing}
    invoices: dict[tuple[int, date], Invoice] = {}
    earlier: Counter[tuple[int, date]] = Counter()
    if months:
        for invoice in (
            Invoice.objects.select_for_update()
            .filter(
                project__in={b.entry.project for b in billing},
                period_start__in={start for _, start in months},
            )
            .order_by("number")
        ):
            month = (invoice.project_id, invoice.period_start)
            if month not in months or invoice.period_end != month_of(invoice.period_start)[1]:
                continue
            earlier[month] += 1
            if invoice.status in OPEN_INVOICE:
                invoices.setdefault(month, invoice)
    created: list[Invoice] = []
    for b in billing:
        month = (b.entry.project.pk, month_of(b.entry.work_date)[0])
        if month not in invoices:
            invoices[month] = candidate_new(
                project=b.entry.project,
                day=b.entry.work_date,
                currency=b.billing.currency,
                earlier=earlier[month],
            )
            created.append(invoices[month])
        b.entry.invoice = invoices[month]
    Invoice.objects.bulk_create(created)
    TimeEntry.objects.bulk_create([b.entry for b in billed])
    lines = [
        time_line(
            entry=b.entry,
            invoice=b.entry.invoice,
            rate=b.billing.rate,
            quantity=b.billing.billed_hours,
        )
        for b in billing
        if b.entry.invoice is not None and b.billing.rate is not None
    ]
    InvoiceLine.objects.bulk_create(lines)
    if not lines:
        return
    # As ``invoice_total`` after each line: the lines' sum; the version grows by one a line.
    touched = {line.invoice.pk: line.invoice for line in lines}
    added = Counter(line.invoice.pk for line in lines)
    totals = dict(
        InvoiceLine.objects.filter(invoice__in=list(touched))
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values_list("invoice", "total")
    )
    now = timezone.now()
    for pk, invoice in touched.items():
        invoice.amount = totals.get(pk) or Decimal("0")
        invoice.version += added[pk]
        invoice.updated_at = now
    rows_update(Invoice, list(touched.values()), ["amount", "version", "updated_at"])
