"""Amendment propagation: an amended contract becomes a new version; what changed (rates,
dates, milestones, cap) reaches the ERP's billing schedule and the PSA's plan."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from canonical.models import Invoice
from canonical.services.contracts import contract_amend
from integrations.choices import Domain, ExceptionType, Outcome
from integrations.flows.contract_to_project import push_project, terms_of
from integrations.flows.registry import handles
from integrations.models import Transaction
from integrations.services.billing import invoice_terms_waits_clear
from integrations.services.exceptions import exception_approved, exceptions_clear, waiting_key
from integrations.services.finance import revenue_schedule_queue
from integrations.services.lineage import link_to_contract
from integrations.services.staffing import assignment_dates_clear
from integrations.services.sync import outcome_for_retry, sync_state_from_sender


@handles("contract.amended", atomic=False, domain=Domain.CONTRACT)
def amendment_propagate(tx: Transaction) -> str:
    data = tx.normalized["data"]
    with transaction.atomic():
        result = contract_amend(
            terms=terms_of(tx),
            effective_date=date.fromisoformat(data["effective_date"]),
            version=tx.event_version or 1,
            source_system=tx.source_system.slug,
            invoiced_rate_cut_approved=exception_approved(
                tx.exception, ExceptionType.AMENDMENT_CONFLICT
            ),
        )
        contract = result.contract
        link_to_contract(tx, contract)
        if result.outcome == Outcome.STALE:
            return result.outcome
        outcome = outcome_for_retry(tx=tx, record=contract, outcome=result.outcome)
        if result.outcome == Outcome.APPLIED:
            # A new cap, rates or milestones may unblock what waited on the old terms.
            exceptions_clear(
                waiting_on=[
                    waiting_key(wait, contract.number)
                    for wait in (
                        "contract_cap",
                        "contract_rates",
                        "contract_terms",
                        "contract_billing_terms",
                    )
                ],
                resolution=f"Contract {contract.number} was amended (v{contract.version}).",
            )
            invoice_terms_waits_clear(
                invoices=Invoice.objects.filter(project__contract=contract),
                resolution=f"Contract {contract.number} was amended (v{contract.version}).",
            )
            for project in contract.projects.all():
                assignment_dates_clear(
                    project=project,
                    resolution=f"Contract {contract.number} was amended (v{contract.version}); "
                    "the assignment fits its dates now.",
                )
            sync_state_from_sender(
                tx=tx,
                record=contract,
                outcome=result.outcome,
                key=contract.number,
                version=contract.version,
            )
            revenue_schedule_queue(contract=contract)  # new dates, fee or milestones
    if result.project is not None:
        push_project(tx, contract, result.project)
    return outcome
