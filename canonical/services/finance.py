"""Cost and revenue: approved time as project cost per month, and each contract's revenue
schedule, kept as records whose version grows only when their figures change (so that
the ERP's copies are brought up to date once per change)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import TruncMonth

from canonical.choices import TimeEntryStatus
from canonical.models import (
    Contract,
    Project,
    ProjectCost,
    RevenueSchedule,
    RevenueScheduleLine,
    TimeEntry,
)
from canonical.selectors import project_currency, revenue_lines_of
from canonical.services.billing import money

ZERO = Decimal("0")


def time_entries_cost() -> list[str]:
    """Costs the approved time that had none because its resource had no cost rate and
    has one now (the HRIS sent it since); returns the employee numbers costed."""
    costed: set[str] = set()
    entries = TimeEntry.objects.filter(
        status=TimeEntryStatus.APPROVED, cost__isnull=True, resource__cost_rate__isnull=False
    ).select_related("resource")
    for entry in entries:
        rate = entry.resource.cost_rate
        TimeEntry.objects.filter(pk=entry.pk, cost__isnull=True).update(
            cost_rate=rate, cost=money(entry.hours * rate)
        )
        costed.add(entry.resource.employee_number)
    return sorted(costed)


def project_costs_refresh() -> list[ProjectCost]:
    """Brings each project's monthly cost in line with its approved time (one grouped
    read); returns the months created or changed, each with its version grown by one."""
    figures = {
        (row["project_id"], row["month"]): (
            row["total_hours"] or ZERO,
            row["total_cost"] or ZERO,
            row["uncosted"] or ZERO,
        )
        for row in TimeEntry.objects.filter(status=TimeEntryStatus.APPROVED)
        .annotate(month=TruncMonth("work_date"))
        .values("project_id", "month")
        .annotate(
            total_hours=Sum("hours"),
            total_cost=Sum("cost"),
            uncosted=Sum("hours", filter=Q(cost__isnull=True)),
        )
        .order_by()
    }
    changed: list[ProjectCost] = []
    with transaction.atomic():
        existing = {
            (row.project_id, row.period_start): row
            for row in ProjectCost.objects.select_for_update().select_related("project")
        }
        # A month whose time all moved away is brought to zero, not deleted: the ERP's copy
        # must be brought to zero too.
        for key in existing.keys() - figures.keys():
            figures[key] = (ZERO, ZERO, ZERO)
        projects = {
            project.pk: project
            for project in Project.objects.filter(
                pk__in={project_id for project_id, _ in figures.keys() - existing.keys()}
            ).select_related("contract", "customer")
        }
        for (project_id, month), (hours, amount, uncosted) in sorted(
            figures.items(), key=lambda item: (item[0][0], item[0][1])
        ):
            row = existing.get((project_id, month))
            if row is None:
                project = projects[project_id]
                row = ProjectCost.objects.create(
                    project=project,
                    period_start=month,
                    currency=project_currency(project),
                    hours=hours,
                    amount=money(amount),
                    uncosted_hours=uncosted,
                    source_system="tower",
                )
                changed.append(row)
                continue
            if (row.hours, row.amount, row.uncosted_hours) == (hours, money(amount), uncosted):
                continue
            row.hours, row.amount, row.uncosted_hours = hours, money(amount), uncosted
            row.version += 1
            row.save(update_fields=["hours", "amount", "uncosted_hours", "version", "updated_at"])
            changed.append(row)
    return changed


def revenue_schedule_refresh(
    *, contract: Contract, today: date
) -> tuple[RevenueSchedule | None, bool]:
    """Brings the contract's revenue schedule in line with its terms, invoices and
    milestones; answers the schedule (None for a contract with no revenue yet planned)
    and whether it changed (its version then grew by one)."""
    figures = revenue_lines_of(contract=contract, today=today)
    with transaction.atomic():
        Contract.objects.select_for_update().filter(pk=contract.pk).first()
        schedule = RevenueSchedule.objects.filter(contract=contract).first()
        if schedule is None and not figures:
            return None, False
        wanted = {(f.period_start, f.method, f.status): f.amount for f in figures}
        project = contract.projects.order_by("code").first()
        total = money(sum(wanted.values(), ZERO))
        if schedule is None:
            schedule = RevenueSchedule.objects.create(
                contract=contract,
                project=project,
                currency=contract.currency,
                total=total,
                source_system="tower",
            )
        else:
            held = {
                (line.period_start, line.method, line.status): line.amount
                for line in schedule.lines.all()
            }
            if (
                held == wanted
                and schedule.project_id == (project.pk if project else None)
                and schedule.currency == contract.currency
            ):
                return schedule, False
            schedule.lines.all().delete()
            schedule.project = project
            schedule.currency = contract.currency
            schedule.total = total
            schedule.version += 1
            schedule.save(update_fields=["project", "currency", "total", "version", "updated_at"])
        RevenueScheduleLine.objects.bulk_create(
            RevenueScheduleLine(
                schedule=schedule,
                period_start=period,
                method=method,
                status=status,
                amount=amount,
            )
            for (period, method, status), amount in sorted(wanted.items())
        )
    return schedule, True
