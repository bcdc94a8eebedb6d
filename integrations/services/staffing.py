"""The staffing rules' exceptions as the engine keeps them: an over-allocation warned about
and resolved by itself, and assignments parked outside their project's dates released
when the dates change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

from canonical.choices import ProjectStatus
from canonical.models import Assignment
from canonical.services.staffing import (
    OverAllocation,
    SkillsGap,
    assignment_dates_fit,
    assignment_skills_gap,
    resource_over_allocation,
)
from integrations.choices import OPEN_STATUSES, ExceptionType, FlowKind
from integrations.errors import IntegrationError
from integrations.models import ExceptionRecord
from integrations.services.exceptions import (
    exception_raise,
    exceptions_resolve_by_fix,
    waiting_key,
)

if TYPE_CHECKING:
    from canonical.models import Project, Resource
    from integrations.models import Transaction


def allocation_judge(*, tx: Transaction, resource: Resource) -> ExceptionRecord | None:
    """Warns the resource managers when ``resource`` is allocated above 100 %, or resolves
    the warning when it no longer is. Call inside the transaction that applied the change.

    The assignment stays applied: the PSA has already staffed the person, and refusing it
    would only make the tower's plan and the ERP's cost forecast disagree with the PSA's
    without freeing any time; the people who can fix it (the resource managers) are told
    instead. One exception per person, restated by every change that finds the person
    still over (today's weeks, assignments and money), so it holds no transaction.
    """
    return _warning_judge(
        tx=tx,
        code=ExceptionType.RESOURCE_OVER_ALLOCATED,
        key=resource.employee_number,
        cause=f"allocation:{resource.employee_number}",
        finding=resource_over_allocation(resource=resource),
        record=resource,
        resolution=f"Resource {resource.employee_number} is allocated 100 % or less now "
        f"(after {_after(tx)}).",
    )


def _warning_judge(
    *,
    tx: Transaction,
    code: ExceptionType,
    key: str,
    cause: str,
    finding: OverAllocation | SkillsGap | None,
    record: Any,
    resolution: str,
    flow: str = "",
) -> ExceptionRecord | None:
    """A staffing warning judged again: restated with today's ``finding`` (its message,
    details and money), or, with none, resolved with ``resolution``. One exception per
    ``code`` and ``key``; it holds no transaction, since the work went on."""
    if finding is None:
        exceptions_resolve_by_fix(
            ExceptionRecord.objects.filter(exception_type=code, business_key=key),
            resolution=resolution,
        )
        return None
    return exception_raise(
        tx=tx,
        failure=IntegrationError.business(
            finding.message,
            code=code,
            details=finding.details,
            money_at_risk=finding.money_at_risk,
            currency=finding.currency,
            record=record,
        ),
        cause=cause,
        business_key=key,
        restate=True,
        flow=flow,
    )


def _after(tx: Transaction) -> str:
    return tx.business_key or f"transaction {tx.pk}"


def assignment_dates_clear(*, project: Project, number: str = "", resolution: str) -> int:
    """Releases the assignments parked outside ``project``'s dates that fit them now (all
    of them when ``number`` is empty, else that one: its corrected version arrived)."""
    waits = ExceptionRecord.objects.filter(
        exception_type=ExceptionType.ASSIGNMENT_OUTSIDE_PROJECT, status__in=OPEN_STATUSES
    )
    if number:
        waits = waits.filter(waiting_on=waiting_key("project_dates", project.code, number))
        return exceptions_resolve_by_fix(waits, resolution=resolution)
    prefix = waiting_key("project_dates", project.code)
    fitting = [
        exc.pk
        for exc in waits.filter(waiting_on__startswith=f"{prefix}:")
        if assignment_dates_fit(
            project=project,
            start_date=date.fromisoformat(exc.details["start_date"]),
            end_date=date.fromisoformat(exc.details["end_date"])
            if exc.details.get("end_date")
            else None,
        )
    ]
    return exceptions_resolve_by_fix(
        ExceptionRecord.objects.filter(pk__in=fitting), resolution=resolution
    )


def current_assignments(
    *, resource: Resource | None = None, project: Project | None = None
) -> QuerySet[Assignment]:
    """The assignments of ``resource`` (or on ``project``) on projects not closed, with
    what the skills rule reads."""
    found = Assignment.objects.exclude(project__status=ProjectStatus.CLOSED)
    if resource is not None:
        found = found.filter(resource=resource)
    if project is not None:
        found = found.filter(project=project)
    return found.select_related("project__contract", "project__customer", "resource")


def skills_judge(*, tx: Transaction, assignments: Iterable[Assignment]) -> int:
    """Warns the resource managers of each assignment whose person lacks a skill its
    project requires of the role, or resolves the warning once the person has them (the
    HRIS sent them) or the role or requirement changed. Returns how many are warned.

    Like over-allocation, the assignment stays applied: the PSA has staffed the person;
    the people who can fix it are told. One exception per assignment, restated with
    today's gap and money, holding no transaction.
    """
    warned = 0
    for assignment in assignments:
        warning = _warning_judge(
            tx=tx,
            code=ExceptionType.RESOURCE_LACKS_SKILLS,
            key=assignment.number,
            cause=f"skills:{assignment.number}",
            finding=assignment_skills_gap(assignment=assignment),
            record=assignment,
            resolution=f"{assignment.resource.employee_number} has the skills "
            f"{assignment.project.code} requires of a {assignment.role} now (after "
            f"{_after(tx)}).",
            # One warning per assignment, whichever change (staffing, HRIS, contract) found it.
            flow=FlowKind.PROJECT_TO_STAFFING,
        )
        if warning is not None:
            warned += 1
    return warned
