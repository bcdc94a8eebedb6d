"""Cost and revenue to the ERP: a project's cost for a month as a journal entry, and a
contract's revenue schedule as a revenue plan, each upserted by its external id and sent
once per version (``integrations.services.finance`` queues them).

The ERP's shapes, NetSuite's::

    journalEntry  externalId COST-<project>-<YYYYMM>; subsidiary, currency, tranDate (the
                  month's last day), memo; line.items: debit "Project cost" (with the
                  project as entity), credit "Accrued payroll", the same amount.
    revenuePlan   externalId REV-<contract>; job, subsidiary, currency, amount (the total),
                  revenueRecognitionRule (the contract's billing model);
                  plannedRevenue.items: plannedPeriod (YYYY-MM), amount, recognitionMethod,
                  isRecognized.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import TYPE_CHECKING

from django.db import transaction

from canonical.choices import RevenueStatus, TimeEntryStatus
from canonical.models import Contract, ProjectCost, Resource, TimeEntry
from canonical.selectors import month_after
from canonical.services.billing import hours_text
from canonical.services.finance import revenue_schedule_refresh
from integrations.choices import ExceptionType, Outcome
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.flows.pushing import push
from integrations.flows.registry import handles
from integrations.selectors.routing import erp_for
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import waiting_key
from integrations.services.finance import (
    COST_EVENT,
    REVENUE_EVENT,
    missing_cost_rate_raise,
    missing_cost_rates_resolve,
)
from integrations.services.lineage import link_to_contract

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, SyncState, Transaction

# The ERP's accounts a project's cost is booked to.
COST_ACCOUNT = "Project cost"
ACCRUAL_ACCOUNT = "Accrued payroll"


def _erp_job(project, erp_system: ConnectedSystem, *, what: str, money=None, currency=""):
    state: SyncState | None = sync_state_for(project, erp_system)
    if state is None or not state.external_id:
        raise IntegrationError.business(
            f"Project {project.code} is not in the ERP yet; {what} waits for it.",
            code=ExceptionType.UNKNOWN_PROJECT,
            waiting_on=waiting_key("erp_project", project.code),
            money_at_risk=money,
            currency=currency,
        )
    return state


@handles(COST_EVENT, atomic=False)
def project_cost_post(tx: Transaction) -> str:
    """A project's month of cost to the ERP as a journal entry; the people in it without a
    cost rate are a warning to finance, which does not hold the posting of the rest."""
    data = tx.normalized["data"]
    cost = ProjectCost.objects.select_related(
        "project__legal_entity", "project__contract", "project__customer"
    ).get(project__code=data["project"], period_start=date.fromisoformat(data["period_start"]))
    project = cost.project
    link_to_contract(tx, project)
    month = cost.period_start
    uncosted = list(
        Resource.objects.filter(
            time_entries__project=project,
            time_entries__status=TimeEntryStatus.APPROVED,
            time_entries__cost__isnull=True,
            time_entries__work_date__gte=month,
            time_entries__work_date__lt=month_after(month),
        ).distinct()
    )
    with transaction.atomic():
        for resource in uncosted:
            missing_cost_rate_raise(tx=tx, resource=resource)
        costed = list(
            TimeEntry.objects.filter(project=project, work_date__gte=month)
            .filter(work_date__lt=month_after(month))
            .values_list("resource__employee_number", flat=True)
            .distinct()
        )
        missing_cost_rates_resolve(employee_numbers=[n for n in costed if n])
    erp_system = erp_for(project.legal_entity.code)
    state = sync_state_for(cost, erp_system)
    if not cost.amount and (state is None or not state.external_id):
        return Outcome.UNCHANGED  # nothing costed, nothing in the ERP to bring to zero
    job = _erp_job(
        project,
        erp_system,
        what=f"its cost for {month:%B %Y}",
        money=cost.amount,
        currency=cost.currency,
    )
    erp = ErpClient(erp_system)
    last_day = month.replace(day=calendar.monthrange(month.year, month.month)[1])
    memo = f"{project.code} cost {month:%B %Y}: {hours_text(cost.hours)} h"
    if cost.uncosted_hours:
        memo += f" ({hours_text(cost.uncosted_hours)} h without a cost rate)"
    amount = str(cost.amount)
    body = {
        "externalId": cost.external_id,
        "subsidiary": {"id": project.legal_entity.code},
        "currency": {"refName": cost.currency},
        "tranDate": last_day.isoformat(),
        "memo": memo,
        "line": {
            "items": [
                {
                    "account": {"refName": COST_ACCOUNT},
                    "debit": amount,
                    "entity": {"id": job.external_id},
                    "memo": f"{hours_text(cost.hours)} h at cost",
                },
                {"account": {"refName": ACCRUAL_ACCOUNT}, "credit": amount},
            ]
        },
    }
    push(
        tx,
        cost,
        erp_system,
        content=body,
        external_id_of=lambda current: erp.upsert("journalEntry", body, record_id=current),
    )
    return Outcome.APPLIED


@handles(REVENUE_EVENT, atomic=False)
def revenue_schedule_push(tx: Transaction) -> str:
    """A contract's revenue schedule to the ERP as its revenue plan, once per version."""
    data = tx.normalized["data"]
    contract = Contract.objects.select_related("legal_entity").get(number=data["contract"])
    schedule, _ = revenue_schedule_refresh(
        contract=contract, today=date.fromisoformat(data["as_of"])
    )
    if schedule is None or schedule.project is None:
        return Outcome.UNCHANGED  # no revenue, or no project to plan it on yet
    project = schedule.project
    link_to_contract(tx, project)
    erp_system = erp_for(contract.legal_entity.code)
    job = _erp_job(project, erp_system, what=f"the revenue plan of {contract.number}")
    erp = ErpClient(erp_system)
    body = {
        "externalId": schedule.external_id,
        "job": {"id": job.external_id},
        "subsidiary": {"id": contract.legal_entity.code},
        "currency": {"refName": schedule.currency},
        "memo": f"Revenue plan of contract {contract.number}",
        "revenueRecognitionRule": {"refName": contract.get_billing_model_display()},
        "amount": str(schedule.total),
        "plannedRevenue": {
            "items": [
                {
                    "plannedPeriod": f"{line.period_start:%Y-%m}",
                    "amount": str(line.amount),
                    "recognitionMethod": line.method,
                    "isRecognized": line.status == RevenueStatus.RECOGNISED,
                }
                for line in schedule.lines.order_by("period_start", "method", "status")
            ]
        },
    }
    push(
        tx,
        schedule,
        erp_system,
        content=body,
        external_id_of=lambda current: erp.upsert("revenuePlan", body, record_id=current),
    )
    return Outcome.APPLIED
