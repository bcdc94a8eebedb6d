"""Cost and revenue to the ERP: queueing the posting of each project's monthly cost and
the push of each contract's revenue schedule, once per version of their figures.

Approving time does not call the ERP: the cost run (beat, ``finance_task``) sums the
approved time per project and month in one grouped read, and queues one transaction per
month whose figures changed. A revenue schedule changes with its contract's billing (an
invoice posted, a milestone reached, a monthly fee, an amendment); those flows queue its
push, and the cost run catches whatever else moved (a month of a retainer's term begun).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from canonical.choices import TimeEntryStatus
from canonical.models import Contract, ProjectCost, Resource, RevenueSchedule, TimeEntry
from canonical.services.billing import money
from canonical.services.finance import (
    project_costs_refresh,
    revenue_schedule_refresh,
    time_entries_cost,
)
from canonical.services.rates import rate_or_none
from integrations.choices import ExceptionType, FlowKind, TransactionState
from integrations.errors import IntegrationError
from integrations.models import ExceptionRecord, Transaction
from integrations.services.exceptions import exception_raise, exceptions_resolve_by_fix
from integrations.services.queueing import transaction_internal_create, transactions_enqueue

COST_EVENT = "project_cost.post"
REVENUE_EVENT = "revenue_schedule.push"


def _queued(key: str) -> bool:
    return (
        Transaction.objects.filter(source_system=None, idempotency_key=key)
        .exclude(state=TransactionState.REJECTED)
        .exists()
    )


def _cost_queue(cost: ProjectCost) -> Transaction | None:
    """The posting of this version of a project's month, unless it is queued already."""
    key = f"project_cost:{cost.external_id}:v{cost.version}"
    if _queued(key):
        return None
    project = cost.project
    return transaction_internal_create(
        flow=FlowKind.TIME_TO_BILLING,
        event_type=COST_EVENT,
        business_key=f"{project.code} {cost.period_start:%Y-%m}",
        idempotency_key=key,
        correlation_id=project.contract.correlation_id if project.contract_id else "",
        data={"project": project.code, "period_start": cost.period_start.isoformat()},
    )


def _revenue_queue(schedule: RevenueSchedule, *, as_of: date) -> Transaction | None:
    """The push of this version of a contract's revenue schedule, unless it is queued already."""
    contract = schedule.contract
    key = f"revenue_schedule:{contract.number}:v{schedule.version}"
    if _queued(key):
        return None
    return transaction_internal_create(
        flow=FlowKind.TIME_TO_BILLING,
        event_type=REVENUE_EVENT,
        business_key=contract.number,
        idempotency_key=key,
        correlation_id=contract.correlation_id,
        data={"contract": contract.number, "as_of": as_of.isoformat()},
    )


def revenue_schedule_queue(*, contract: Contract, as_of: date | None = None) -> Transaction | None:
    """Brings the contract's revenue schedule up to date and, if that made a new version,
    queues its push to the ERP (sent once the caller's database transaction commits)."""
    as_of = as_of or timezone.localdate()
    with transaction.atomic():
        schedule, _ = revenue_schedule_refresh(contract=contract, today=as_of)
        tx = _revenue_queue(schedule, as_of=as_of) if schedule is not None else None
        if tx is not None:
            transactions_enqueue(transactions=[tx])
    return tx


def finance_queue(*, today: date | None = None) -> list[Transaction]:
    """The cost run: costs the time of people whose cost rate has arrived, brings every
    project's monthly cost and every contract's revenue schedule up to date, and queues
    the ERP postings of the versions not queued before. Run twice, it queues nothing new."""
    today = today or timezone.localdate()
    costed = time_entries_cost()
    queued: list[Transaction] = []
    with transaction.atomic():
        if costed:
            missing_cost_rates_resolve(employee_numbers=costed)
        project_costs_refresh()
        for cost in ProjectCost.objects.select_related("project__contract").order_by("pk"):
            tx = _cost_queue(cost)
            if tx is not None:
                queued.append(tx)
        for contract in Contract.objects.order_by("number"):
            schedule, _ = revenue_schedule_refresh(contract=contract, today=today)
            tx = _revenue_queue(schedule, as_of=today) if schedule is not None else None
            if tx is not None:
                queued.append(tx)
        transactions_enqueue(transactions=queued)
    return queued


def resource_uncosted(resource: Resource) -> tuple[Decimal, Decimal, str]:
    """The resource's approved hours without a cost, and those hours at the rate they bill
    (the rate card's rate for the person's role on each project; 0 where none): the hours,
    the money and its currency."""
    hours: dict[int, Decimal] = defaultdict(Decimal)
    projects = {}
    for entry in TimeEntry.objects.filter(
        resource=resource, status=TimeEntryStatus.APPROVED, cost__isnull=True
    ).select_related("project__contract", "project__customer"):
        hours[entry.project_id] += entry.hours
        projects[entry.project_id] = entry.project
    total_hours = sum(hours.values(), Decimal("0"))
    value = Decimal("0")
    currency = ""
    for project_id, project_hours in hours.items():
        project = projects[project_id]
        rate = rate_or_none(project=project, role=resource.role) or Decimal("0")
        value += money(project_hours * rate)
        currency = currency or (
            project.contract.currency if project.contract_id else project.customer.currency
        )
    return total_hours, value, currency


def missing_cost_rate_raise(*, tx: Transaction, resource: Resource) -> ExceptionRecord | None:
    """Warns finance that ``resource``'s approved hours carry no cost (its time is billed as
    usual); one exception per person, restated with today's hours and money. Call inside a
    database transaction."""
    hours, value, currency = resource_uncosted(resource)
    if not hours:
        return None
    return exception_raise(
        tx=tx,
        failure=IntegrationError.business(
            f"{resource.employee_number} has no cost rate in the HRIS: {hours} approved "
            "hours carry no cost in the ERP or the margin.",
            code=ExceptionType.MISSING_COST_RATE,
            details={"resource": resource.employee_number, "hours": str(hours)},
            money_at_risk=value,
            currency=currency,
            record=resource,
        ),
        cause=f"cost_rate:{resource.employee_number}",
        business_key=resource.employee_number,
        restate=True,
    )


def missing_cost_rates_resolve(*, employee_numbers: list[str]) -> int:
    """Resolves the missing-cost-rate warnings of these people whose hours are all costed now."""
    still = set(
        TimeEntry.objects.filter(
            resource__employee_number__in=employee_numbers,
            status=TimeEntryStatus.APPROVED,
            cost__isnull=True,
        ).values_list("resource__employee_number", flat=True)
    )
    done = [number for number in employee_numbers if number not in still]
    if not done:
        return 0
    return exceptions_resolve_by_fix(
        ExceptionRecord.objects.filter(
            exception_type=ExceptionType.MISSING_COST_RATE, business_key__in=done
        ),
        resolution="The cost rate arrived from the HRIS; the hours are costed and posted.",
    )
