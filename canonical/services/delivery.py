"""Delivery: projects and their changes, and the assignments that staff them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from canonical.choices import (
    ProjectStatus,
    RuleCode,
)
from canonical.models import (
    Assignment,
    Project,
)
from canonical.services.base import UpsertResult, business_key, record_required, upsert
from canonical.services.parties import resource_for
from canonical.services.rates import rate_for
from canonical.services.staffing import assignment_dates_check, resource_available_check


def project_for(*, code: str) -> Project:
    """The project, with what the billing rules read of it (its contract, rate card, customer)."""
    return record_required(
        Project.objects.select_related("contract__rate_card", "customer")
        .filter(code=business_key(code))
        .first(),
        kind="project",
        key=business_key(code),
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
    project = Project.objects.select_for_update().filter(code=business_key(code)).first()
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
    """Applies the PSA's assignment, once the staffing rules accept it (``staffing``): the
    resource still with the firm, the role priced (by the assignment's own bill rate, else
    the contract's rates or its rate card), the dates inside the project's and contract's.
    Whether the person is over-allocated is asked after, of ``resource_over_allocation``.
    """
    project = project_for(code=project_code)
    resource = resource_for(employee_number=employee_number, active=False)
    terms = {
        "number": business_key(number),
        "project": project,
        "role": role.strip(),
        "start_date": start_date,
        "end_date": end_date,
        "allocation_percent": allocation_percent,
        "bill_rate": bill_rate,
    }
    held = Assignment.objects.filter(number=terms["number"]).values_list("version", flat=True)
    if not held or version > held[0]:  # an older or the same version is not judged again
        resource_available_check(resource=resource, **terms)
        if bill_rate is None:
            rate_for(project=project, role=role)  # refuses a role the contract cannot bill
        assignment_dates_check(**terms)
    return upsert(
        Assignment,
        lookup={"number": business_key(number)},
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
