"""Contract to project: a signed contract becomes a project shell and billing schedule in
the ERP and a project in the PSA, each created once whatever the redelivery."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet

from canonical.models import Contract, Project
from canonical.services.billing import monthly_fee_bill
from canonical.services.contracts import ContractTerms, contract_sign
from canonical.services.rates import contract_rates
from canonical.services.staffing import role_skills_of
from integrations.choices import Domain, Outcome, SystemKind
from integrations.clients.erp import JOB_STATUS, ErpClient
from integrations.clients.psa import PsaClient
from integrations.errors import IntegrationError
from integrations.flows.catalog import PROPAGATE_EVENT
from integrations.flows.compensation import psa_project_refused
from integrations.flows.master_data import erp_customer_push
from integrations.flows.pushing import create_key, push
from integrations.flows.registry import handles
from integrations.selectors.routing import erp_for
from integrations.selectors.sync import holds_version, sync_state_for, target_system
from integrations.services.exceptions import exceptions_clear, waiting_key
from integrations.services.outbox import contract_signed_publish, project_ready_publish
from integrations.services.staffing import current_assignments, skills_judge
from integrations.services.sync import (
    key_for_external_id,
    outcome_for_retry,
    sync_state_from_sender,
)

if TYPE_CHECKING:
    from integrations.models import Transaction


def terms_of(tx: Transaction) -> ContractTerms:
    """The contract terms ``tx`` carries, its customer named by the tower's number (a
    sender that names accounts by its own ids, Salesforce, gives its account's id)."""
    data = tx.normalized["data"]
    customer = key_for_external_id(system=tx.source_system, kind="customer", key=data["customer"])
    return terms_from({**data, "customer": customer})


def terms_from(data: dict[str, Any]) -> ContractTerms:
    project = data.get("project") or {}
    return ContractTerms(
        number=data["number"],
        customer=data["customer"],
        legal_entity=data["legal_entity"],
        currency=data["currency"],
        billing_model=data["billing_model"],
        start_date=date.fromisoformat(data["start_date"]),
        end_date=date.fromisoformat(data["end_date"]) if data.get("end_date") else None,
        rate_card=data.get("rate_card", ""),
        rates={line["role"]: Decimal(str(line["rate"])) for line in data.get("rates", [])},
        cap_amount=Decimal(str(data["cap_amount"])) if data.get("cap_amount") is not None else None,
        monthly_fee=Decimal(str(data["monthly_fee"]))
        if data.get("monthly_fee") is not None
        else None,
        included_hours=Decimal(str(data["included_hours"]))
        if data.get("included_hours") is not None
        else None,
        unused_hours_roll_over=bool(data.get("unused_hours_roll_over", False)),
        expense_categories=tuple(data.get("expense_categories", [])),
        expense_markup_percent=Decimal(str(data.get("expense_markup_percent") or 0)),
        milestones=tuple(data.get("milestones", [])),
        project_code=project.get("code", ""),
        project_name=project.get("name", ""),
        project_role_skills=role_skills_of(project.get("roles")),
        signed_at=datetime.fromisoformat(data["signed_at"].replace("Z", "+00:00"))
        if data.get("signed_at")
        else None,
        tax_code=data.get("tax_code") or "",
        payment_terms=data.get("payment_terms") or "",
    )


@handles("contract.signed", atomic=False, domain=Domain.CONTRACT)
def contract_to_project(tx: Transaction) -> str:
    with transaction.atomic():
        result = contract_sign(
            terms=terms_of(tx),
            version=tx.event_version or 1,
            source_system=tx.source_system.slug,
            correlation_id=tx.correlation_id,
        )
        if result.outcome == Outcome.STALE:
            return result.outcome
        contract = result.contract
        outcome = outcome_for_retry(tx=tx, record=contract, outcome=result.outcome)
        if result.outcome == Outcome.APPLIED:
            contract_signed_publish(contract=contract)
            exceptions_clear(
                waiting_on=[
                    waiting_key("contract_signed", contract.number),
                    # An earlier version parked for terms its billing model lacked.
                    waiting_key("contract_billing_terms", contract.number),
                ],
                resolution=f"Contract {contract.number} was signed.",
            )
            if result.project is not None:
                # Its roles' skills may have changed for people already staffed on it.
                skills_judge(tx=tx, assignments=current_assignments(project=result.project))
        sync_state_from_sender(
            tx=tx,
            record=contract,
            outcome=result.outcome,
            key=contract.number,
            version=contract.version,
        )
    if result.project is not None:
        push_project(tx, contract, result.project)
        with transaction.atomic():
            # Created in both systems (a redelivery publishes it once: same version).
            project_ready_publish(project=result.project)
        with transaction.atomic():
            # A retainer's or managed service's first month is invoiced in advance, once the
            # project exists everywhere; a billing hold parks this transaction, not the project.
            monthly_fee_bill(contract=contract, day=contract.start_date)
    return outcome


def pushable_projects() -> QuerySet[Project]:
    """Projects with what ``push_project`` reads of their contract."""
    return Project.objects.select_related(
        "contract__customer__legal_entity", "contract__legal_entity"
    )


def push_project(tx: Transaction, contract: Contract, project: Project) -> None:
    """Creates the ERP project shell with its billing schedule, and the PSA project, once.

    The ERP is the instance that owns the contract's legal entity; the customer is
    created there too (each instance keeps its own customers).
    """
    erp_system = erp_for(contract.legal_entity.code)
    erp = ErpClient(erp_system)
    customer = contract.customer
    customer_id = erp_customer_push(tx, customer, erp_system)
    job = {
        "externalId": project.code,
        "entityId": project.code,
        "companyName": project.name,
        "customer": {"id": customer_id},
        "subsidiary": {"id": contract.legal_entity.code},
        "entityStatus": {"refName": JOB_STATUS[project.status]},
        "startDate": project.start_date.isoformat(),
        "endDate": project.end_date.isoformat() if project.end_date else None,
        "custentity_contract_number": contract.number,
        "custentity_cap_amount": str(contract.cap_amount)
        if contract.cap_amount is not None
        else None,
        "billingRates": {
            "items": [
                {"role": role, "rate": str(rate)}
                for role, rate in sorted(contract_rates(contract).items())
            ]
        },
        "billingSchedule": {
            "items": [
                {
                    "code": m.code,
                    "name": m.name,
                    "dueDate": m.due_date.isoformat() if m.due_date else None,
                    "amount": str(m.amount),
                }
                for m in contract.milestones.order_by("code")
            ]
        },
    }
    push(
        tx,
        project,
        erp_system,
        content=job,
        external_id_of=lambda current: erp.upsert(
            "job",
            job,
            record_id=current,
        ),
    )
    with transaction.atomic():  # the cost forecasts that waited for the ERP project
        exceptions_clear(
            waiting_on=waiting_key("erp_project", project.code),
            resolution=f"Project {project.code} was created in {erp_system.slug}.",
        )
    psa_system = target_system(SystemKind.PSA)
    psa_project = {
        "code": project.code,
        "name": project.name,
        "customer": customer.number,
        "contract": contract.number,
        "status": project.status,
        "start_date": project.start_date.isoformat(),
        "end_date": project.end_date.isoformat() if project.end_date else None,
    }
    try:
        push(
            tx,
            project,
            psa_system,
            content=psa_project,
            external_id_of=lambda current: PsaClient(psa_system).upsert(
                "projects",
                psa_project,
                record_id=current,
                key_field="code",
                idempotency_key=create_key(psa_system, "projects", project.code),
            ),
        )
    except IntegrationError as failure:
        if not failure.transient:
            # Refused for good, the ERP job already made: propose closing it.
            psa_project_refused(tx, project, erp_system, failure)
        raise


@handles(PROPAGATE_EVENT, atomic=False)
def project_propagate(tx: Transaction) -> str:
    """A project changed in the PSA: the ERP's copy is brought to the new version.

    Only a copy the ERP holds already: a project still on its way there is created at
    its current version by its own contract-to-project transaction.
    """
    project = pushable_projects().filter(code=tx.normalized["data"]["project"]).first()
    if project is None or project.contract is None:
        return Outcome.UNCHANGED
    erp = sync_state_for(project, erp_for(project.contract.legal_entity.code))
    if erp is None or holds_version(erp, project):
        return Outcome.UNCHANGED
    push_project(tx, project.contract, project)
    return Outcome.APPLIED
