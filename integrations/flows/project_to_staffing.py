"""Project to staffing: a PSA assignment, checked by the staffing rules (the resource still
with the firm, the role priced, the dates inside the project's), becomes the ERP's cost
forecast for the project; a person it takes above 100 % is a warning to the resource
managers, not a refusal (``canonical.services.staffing``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from canonical.services.delivery import assignment_upsert
from integrations.choices import Domain, ExceptionType, Outcome
from integrations.clients.erp import ErpClient
from integrations.errors import IntegrationError
from integrations.flows.pushing import push
from integrations.flows.registry import handles
from integrations.selectors.routing import erp_for
from integrations.selectors.sync import sync_state_for
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.lineage import link_to_contract
from integrations.services.staffing import (
    allocation_judge,
    assignment_dates_clear,
    skills_judge,
)
from integrations.services.sync import outcome_for_retry, sync_state_from_sender

if TYPE_CHECKING:
    from integrations.models import Transaction


@handles("assignment.upserted", atomic=False, domain=Domain.PROJECT)
def project_to_staffing(tx: Transaction) -> str:
    data = tx.normalized["data"]
    with transaction.atomic():
        result = assignment_upsert(
            number=data["number"],
            project_code=data["project"],
            employee_number=data["resource"],
            role=data["role"],
            start_date=date.fromisoformat(data["start_date"]),
            end_date=date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
            allocation_percent=data["allocation_percent"],
            bill_rate=Decimal(str(data["bill_rate"]))
            if data.get("bill_rate") is not None
            else None,
            version=tx.event_version or 1,
            source_system=tx.source_system.slug,
        )
        if result.outcome == Outcome.STALE:
            return result.outcome
        assignment = result.record
        outcome = outcome_for_retry(tx=tx, record=assignment, outcome=result.outcome)
        link_to_contract(tx, assignment.project)
        if result.outcome == Outcome.APPLIED:
            project_code = assignment.project.code
            exceptions_clear(
                waiting_on=[
                    waiting_key("assignment", project_code, assignment.resource.employee_number),
                    # An assignment's own bill rate is a rate for the project's time.
                    *(
                        [waiting_key("project_rates", project_code)]
                        if assignment.bill_rate is not None
                        else []
                    ),
                ],
                resolution=f"Assignment {assignment.number} arrived from {tx.source_system.slug}.",
            )
            # An earlier version parked outside the project's dates is superseded by this one.
            assignment_dates_clear(
                project=assignment.project,
                number=assignment.number,
                resolution=f"Assignment {assignment.number} v{assignment.version} arrived from "
                f"{tx.source_system.slug} within the project's dates.",
            )
            allocation_judge(tx=tx, resource=assignment.resource)
            skills_judge(tx=tx, assignments=[assignment])
        sync_state_from_sender(
            tx=tx,
            record=assignment,
            outcome=result.outcome,
            key=assignment.number,
        )
    erp_system = erp_for(assignment.project.legal_entity.code)
    job = _erp_job(assignment.project, erp_system)
    erp = ErpClient(erp_system)
    forecast = {
        "externalId": assignment.number,
        "job": {"id": job.external_id},
        "resource": assignment.resource.employee_number,
        "role": assignment.role,
        "startDate": assignment.start_date.isoformat(),
        "endDate": assignment.end_date.isoformat() if assignment.end_date else None,
        "allocationPercent": assignment.allocation_percent,
        "costRate": str(assignment.resource.cost_rate)
        if assignment.resource.cost_rate is not None
        else None,
    }
    push(
        tx,
        assignment,
        erp_system,
        content=forecast,
        external_id_of=lambda current: erp.upsert(
            "projectCostForecast",
            forecast,
            record_id=current,
        ),
    )
    return outcome


def _erp_job(project, erp_system):
    """The project's ERP sync state, or a wait for contract-to-project to create it there."""
    state = sync_state_for(project, erp_system)
    if state is None or not state.external_id:
        raise IntegrationError.business(
            f"Project {project.code} is not in the ERP yet; its cost forecast waits for it.",
            code=ExceptionType.UNKNOWN_PROJECT,
            waiting_on=waiting_key("erp_project", project.code),
        )
    return state
