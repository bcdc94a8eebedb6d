"""Staffing rules: who may be assigned to a project, when, and how much of their time.

An assignment from the PSA is refused (its transaction parked on a business exception)
when its resource has left the firm, or when it runs outside the dates of its project or
contract. Its role must also be priced (``rates.rate_for``; an assignment that brings its
own bill rate is priced by it). A resource allocated above 100 % is not refused: the PSA
has already staffed the person, so the assignment stands and the over-allocation is a
warning for the resource managers (``resource_over_allocation``).

Money at risk counts planned hours: a working day (Monday to Friday) is
``WORKING_DAY_HOURS`` hours at full allocation, priced at the assignment's rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from canonical.choices import ProjectStatus, RuleCode
from canonical.errors import RuleViolation
from canonical.formats import money_text
from canonical.models import Assignment, Project, Resource
from canonical.services.rates import rate_or_none

WORKING_DAY_HOURS = Decimal(8)
FULL_ALLOCATION = 100
CENT = Decimal("0.01")


def working_days(first: date, last: date) -> int:
    """Monday-to-Friday days from ``first`` to ``last``, both included (0 when last < first)."""
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    return weeks * 5 + sum(
        1 for n in range(rest) if (first + timedelta(days=weeks * 7 + n)).weekday() < 5
    )


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def planned_value(
    *, first: date, last: date, allocation_percent: int, rate: Decimal | None
) -> Decimal | None:
    """The planned hours from ``first`` to ``last`` at ``allocation_percent``, at ``rate``."""
    if rate is None:
        return None
    hours = working_days(first, last) * WORKING_DAY_HOURS * allocation_percent / FULL_ALLOCATION
    return (hours * rate).quantize(CENT)


def project_currency(project: Project) -> str:
    return project.contract.currency if project.contract_id else project.customer.currency


@dataclass(frozen=True)
class StaffingWindow:
    """The days a project may be staffed: from its start to the earlier of its own end
    and its contract's (``end`` None: open-ended)."""

    start: date
    end: date | None
    start_by: str
    end_by: str

    @classmethod
    def of(cls, project: Project) -> StaffingWindow:
        ends = [(project.end_date, f"project {project.code}")]
        if project.contract_id:
            ends.append((project.contract.end_date, f"contract {project.contract.number}"))
        known = [(end, by) for end, by in ends if end is not None]
        end, end_by = min(known, key=lambda pair: pair[0]) if known else (None, "")
        return cls(project.start_date, end, f"project {project.code}", end_by)


def assignment_dates_check(
    *,
    number: str,
    project: Project,
    role: str,
    start_date: date,
    end_date: date | None,
    allocation_percent: int,
    bill_rate: Decimal | None,
) -> None:
    """Refuses an assignment that starts before its project starts or ends after its project
    (or its contract) ends, naming both dates.

    An assignment without an end date runs until the project ends, so only its start is
    judged. Money at risk: the planned hours outside the window, at the assignment's rate
    (time worked there cannot be billed under the contract). It waits on
    ``project_dates:<project>:<assignment>``: a change to the project's dates, a contract
    amendment, or a corrected assignment from the PSA clears it.
    """
    window = StaffingWindow.of(project)
    problems: list[str] = []
    outside: list[tuple[date, date]] = []
    if start_date < window.start:
        problems.append(
            f"starts on {start_date}, before {window.start_by} starts on {window.start}"
        )
        outside.append((start_date, min(window.start - timedelta(days=1), end_date or date.max)))
    if end_date is not None and window.end is not None and end_date > window.end:
        problems.append(f"ends on {end_date}, after {window.end_by} ends on {window.end}")
        outside.append((max(window.end + timedelta(days=1), start_date), end_date))
    if not problems:
        return
    rate = bill_rate if bill_rate is not None else rate_or_none(project=project, role=role)
    values = [
        planned_value(first=first, last=last, allocation_percent=allocation_percent, rate=rate)
        for first, last in outside
    ]
    money = sum(values, Decimal(0)) if rate is not None else None
    currency = project_currency(project)
    raise RuleViolation(
        message=f"Assignment {number} on project {project.code} "
        + " and ".join(problems)
        + "."
        + (
            f" {money_text(money, currency)} of planned {role} time falls outside." if money else ""
        ),
        code=RuleCode.ASSIGNMENT_OUTSIDE_PROJECT,
        details={
            "assignment": number,
            "project": project.code,
            "start_date": start_date.isoformat(),
            "end_date": end_date.isoformat() if end_date else None,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat() if window.end else None,
        },
        waiting_on=f"project_dates:{project.code}:{number}",
        money_at_risk=money,
        currency=currency,
    )


def assignment_dates_fit(*, project: Project, start_date: date, end_date: date | None) -> bool:
    """Whether an assignment from ``start_date`` to ``end_date`` fits the project's window now."""
    window = StaffingWindow.of(project)
    return start_date >= window.start and (
        end_date is None or window.end is None or end_date <= window.end
    )


def resource_available_check(
    *,
    number: str,
    resource: Resource,
    project: Project,
    role: str,
    start_date: date,
    end_date: date | None,
    allocation_percent: int,
    bill_rate: Decimal | None,
) -> None:
    """Refuses an assignment for a resource the HRIS marks inactive (who has left the firm).

    Money at risk: the assignment's planned hours at its rate, up to its end (else the
    project's); nobody is there to do that work. It waits on ``resource:<number>``, so the
    HRIS reactivating the person clears it; otherwise the PSA re-staffs the work.
    """
    if resource.active:
        return
    last = end_date or StaffingWindow.of(project).end
    rate = bill_rate if bill_rate is not None else rate_or_none(project=project, role=role)
    money = (
        planned_value(first=start_date, last=last, allocation_percent=allocation_percent, rate=rate)
        if last is not None
        else None
    )
    currency = project_currency(project)
    raise RuleViolation(
        message=f"Assignment {number} staffs {resource.employee_number} on project "
        f"{project.code} from {start_date}, but the HRIS marks {resource.employee_number} "
        "inactive (no longer with the firm)."
        + (f" {money_text(money, currency)} of planned {role} time has nobody." if money else ""),
        code=RuleCode.RESOURCE_UNAVAILABLE,
        details={
            "assignment": number,
            "resource": resource.employee_number,
            "project": project.code,
        },
        waiting_on=f"resource:{resource.employee_number}",
        money_at_risk=money,
        currency=currency,
    )


@dataclass(frozen=True)
class OverAllocation:
    """A resource planned above 100 % on some working days, by assignments that overlap."""

    resource: str
    week: date  # the Monday of the first week over
    total: int  # the allocation on the first day over, in percent
    assignments: tuple[tuple[str, str, int], ...]  # (assignment, project, percent) that day
    weeks: int  # weeks with at least one day over (with a known end)
    open_ended: bool  # some days over have no end in sight
    money_at_risk: Decimal | None
    currency: str
    details: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        parts = ", ".join(
            f"{number} on {project} {percent} %" for number, project, percent in self.assignments
        )
        text = (
            f"Resource {self.resource} is allocated {self.total} % in the week of {self.week}: "
            f"{parts}."
        )
        if self.open_ended:
            text += (
                " Over 100 % "
                + (
                    f"in {self.weeks} week{'s' if self.weeks != 1 else ''}, then "
                    if self.weeks
                    else ""
                )
                + "with no end date."
            )
        elif self.weeks > 1:
            text += f" Over 100 % in {self.weeks} weeks."
        if self.money_at_risk:
            text += (
                f" {money_text(self.money_at_risk, self.currency)} of planned time "
                "cannot all be delivered."
            )
        return text


@dataclass(frozen=True)
class _Planned:
    assignment: Assignment
    start: date
    end: date | None
    rate: Decimal | None
    currency: str


def _planned(assignment: Assignment) -> _Planned:
    """An assignment as it takes the person's time: ended by its own end date, else by its
    project's (or contract's) end, and by the day its project closed."""
    project = assignment.project
    end = assignment.end_date or StaffingWindow.of(project).end
    if project.status == ProjectStatus.CLOSED and project.closed_on is not None:
        end = min(end, project.closed_on) if end else project.closed_on
    return _Planned(
        assignment=assignment,
        start=assignment.start_date,
        end=end,
        rate=rate_or_none(project=project, role=assignment.role)
        if assignment.bill_rate is None
        else assignment.bill_rate,
        currency=project_currency(project),
    )


def resource_over_allocation(*, resource: Resource) -> OverAllocation | None:
    """The resource's over-allocation across all its projects, or None when it is 100 % or less.

    Allocations are added up per day, over the assignments running that day, and reported
    by week (Monday to Sunday): a hand-over in mid-week (one assignment ends on Wednesday,
    the next starts on Thursday) is not an over-allocation. Weekends do not count.

    Money at risk (a lower bound): on every working day over, the excess percentage of a
    working day at the lowest rate among that day's assignments; not estimated when the
    assignments bill in different currencies or none is priced, nor beyond a last day over
    that no end date bounds.
    """
    planned = [
        _planned(a)
        for a in Assignment.objects.filter(resource=resource, allocation_percent__gt=0)
        .select_related("project__contract__rate_card", "project__customer")
        .order_by("start_date", "number")
    ]
    if not planned:
        return None
    # Between two consecutive boundaries the same assignments run: one total per stretch.
    bounds = sorted(
        {p.start for p in planned} | {p.end + timedelta(days=1) for p in planned if p.end}
    )
    currencies = {p.currency for p in planned}
    first: tuple[date, list[_Planned], int] | None = None
    weeks: set[date] = set()
    open_ended = False
    money: Decimal | None = Decimal(0) if len(currencies) == 1 else None
    for index, start in enumerate(bounds):
        stop = bounds[index + 1] - timedelta(days=1) if index + 1 < len(bounds) else None
        running = [p for p in planned if p.start <= start and (p.end is None or p.end >= start)]
        total = sum(p.assignment.allocation_percent for p in running)
        if total <= FULL_ALLOCATION:
            continue
        if stop is None:
            open_ended = True
        elif working_days(start, stop) == 0:
            continue  # a weekend in between: nobody works it
        if first is None:
            day = start
            while day.weekday() >= 5:
                day += timedelta(days=1)
            first = (monday_of(day), running, total)
        if stop is None:
            continue
        week = monday_of(start)
        while week <= stop:
            if working_days(max(week, start), min(week + timedelta(days=4), stop)):
                weeks.add(week)
            week += timedelta(days=7)
        rates = [p.rate for p in running if p.rate is not None]
        if money is not None and rates:
            excess = total - FULL_ALLOCATION
            money += (
                working_days(start, stop)
                * WORKING_DAY_HOURS
                * excess
                / FULL_ALLOCATION
                * min(rates)
            )
    if first is None:
        return None
    week, running, total = first
    if money is not None and not money:
        money = None
    return OverAllocation(
        resource=resource.employee_number,
        week=week,
        total=total,
        assignments=tuple(
            (p.assignment.number, p.assignment.project.code, p.assignment.allocation_percent)
            for p in running
        ),
        weeks=len(weeks),
        open_ended=open_ended,
        money_at_risk=money.quantize(CENT) if money is not None else None,
        currency=currencies.pop() if len(currencies) == 1 else "",
        details={
            "resource": resource.employee_number,
            "week": week.isoformat(),
            "total_percent": total,
            "assignments": [
                {
                    "assignment": p.assignment.number,
                    "project": p.assignment.project.code,
                    "allocation_percent": p.assignment.allocation_percent,
                }
                for p in running
            ],
            "weeks_over": len(weeks),
        },
    )


# --- skills ------------------------------------------------------------------------------


def skills_of(values: object) -> list[str]:
    """Skills as the tower keeps them: trimmed, lower case, each once, in the order given."""
    if not isinstance(values, (list, tuple)):
        return []
    kept: list[str] = []
    for value in values:
        skill = " ".join(str(value).split()).lower()
        if skill and skill not in kept:
            kept.append(skill)
    return kept


def role_skills_of(roles: object) -> dict[str, list[str]]:
    """A project's ``roles`` (``[{"role": ..., "skills": [...]}]``) as role -> skills."""
    if not isinstance(roles, (list, tuple)):
        return {}
    return {
        str(item["role"]).strip(): skills_of(item.get("skills"))
        for item in roles
        if isinstance(item, dict) and str(item.get("role", "")).strip()
    }


@dataclass(frozen=True)
class SkillsGap:
    """An assignment whose person lacks skills its project requires of the role."""

    assignment: str
    project: str
    resource: str
    role: str
    missing: tuple[str, ...]
    money_at_risk: Decimal | None
    currency: str

    @property
    def message(self) -> str:
        text = (
            f"Resource {self.resource} is staffed as {self.role} on {self.project} "
            f"({self.assignment}) without {', '.join(self.missing)}, which the role requires."
        )
        if self.money_at_risk:
            text += f" {money_text(self.money_at_risk, self.currency)} of planned time."
        return text

    @property
    def details(self) -> dict:
        return {
            "assignment": self.assignment,
            "project": self.project,
            "resource": self.resource,
            "role": self.role,
            "missing_skills": list(self.missing),
        }


def assignment_skills_gap(*, assignment: Assignment) -> SkillsGap | None:
    """What the assignment's person lacks of the skills its project requires of its role
    (from the project's signed contract and the HRIS), or None. The money is the
    assignment's planned time at its rate, as the staffing rules count it."""
    required = (assignment.project.role_skills or {}).get(assignment.role) or []
    held = set(assignment.resource.skills or [])
    missing = tuple(skill for skill in required if skill not in held)
    if not missing:
        return None
    planned = _planned(assignment)
    money = (
        planned_value(
            first=planned.start,
            last=planned.end,
            allocation_percent=assignment.allocation_percent,
            rate=planned.rate,
        )
        if planned.end is not None
        else None
    )
    return SkillsGap(
        assignment=assignment.number,
        project=assignment.project.code,
        resource=assignment.resource.employee_number,
        role=assignment.role,
        missing=missing,
        money_at_risk=money,
        currency=planned.currency,
    )
