"""Compensating actions, one per flow step that can half-fail for good.

A step that calls several systems can fail permanently after an earlier call already
changed one of them. The sync state says what that system kept; the step proposes the
action that undoes it (``STEPS``), a person allows it (a second person where money moves,
``controltower.operations.services.compensations``), and ``compensation_execute`` runs it
as a new transaction of the step's flow, through the same client, under the same push
lock as the record's pushes, and keyed so that a retry never does it twice:

| step | side effect kept | action | executed as |
|---|---|---|---|
| ``contract_to_project.psa_project`` | the ERP job (project shell) | ``close_erp_job`` | ``PATCH job/<id>`` status Closed, inactive |
| ``time_to_billing.posted_time_reduced`` | a posted invoice billing hours since withdrawn or reduced | ``credit_note`` | ``PUT creditMemo/eid:CM-<invoice>-<n>`` created from the invoice |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils import timezone

from canonical.models import Invoice, Project
from canonical.services.billing import TimeCredit
from integrations.choices import CompensationAction, CompensationState, FlowKind, Outcome
from integrations.clients.erp import JOB_STATUS, ErpClient
from integrations.errors import IntegrationError
from integrations.flows.catalog import COMPENSATION_EVENT
from integrations.flows.registry import handles
from integrations.models import Compensation
from integrations.selectors.routing import erp_for
from integrations.selectors.sync import sync_state_for
from integrations.services.compensations import (
    compensation_fail,
    compensation_finish,
    compensation_propose,
)
from integrations.services.locks import push_lock

if TYPE_CHECKING:
    from integrations.models import ConnectedSystem, Transaction


@dataclass(frozen=True)
class Step:
    """A flow step that proposes a compensation when it half-fails."""

    flow: FlowKind
    action: CompensationAction
    undoes: str


PSA_PROJECT = "contract_to_project.psa_project"
POSTED_TIME_REDUCED = "time_to_billing.posted_time_reduced"

STEPS: dict[str, Step] = {
    PSA_PROJECT: Step(
        flow=FlowKind.CONTRACT_TO_PROJECT,
        action=CompensationAction.CLOSE_ERP_JOB,
        undoes="The ERP job created before the PSA refused the project.",
    ),
    POSTED_TIME_REDUCED: Step(
        flow=FlowKind.TIME_TO_BILLING,
        action=CompensationAction.CREDIT_NOTE,
        undoes="Hours a posted invoice billed that the time system since withdrew or reduced.",
    ),
}


def flow_of(compensation: Compensation) -> FlowKind:
    return STEPS[compensation.step].flow


# --- proposing ---------------------------------------------------------------------------


def psa_project_refused(
    tx: Transaction, project: Project, erp_system: ConnectedSystem, failure: IntegrationError
) -> Compensation | None:
    """The PSA refused the project for good after the ERP job was created: propose closing
    the job (a fix at the PSA and a retry would instead create the project and keep it)."""
    job = sync_state_for(project, erp_system)
    if job is None or not job.external_id:
        return None
    return compensation_propose(
        key=f"{PSA_PROJECT}:{erp_system.slug}:job:{job.external_id}",
        step=PSA_PROJECT,
        action=STEPS[PSA_PROJECT].action,
        system=erp_system,
        record_kind="job",
        external_id=job.external_id,
        business_key=project.code,
        reason=f"The PSA refused project {project.code} for good ({failure.message}); the ERP "
        f"job {job.external_id} was created before and is still open.",
        source=tx,
        details={"project": project.code},
    )


def posted_time_reduced(tx: Transaction, credit: TimeCredit) -> Compensation | None:
    """An entry billed on an invoice past approval now bills fewer hours: propose a credit
    note against that invoice for the difference (the invoice itself is never changed)."""
    invoice = credit.invoice
    erp_system = erp_for(invoice.legal_entity.code)
    posted = sync_state_for(invoice, erp_system)
    n = Compensation.objects.filter(step=POSTED_TIME_REDUCED, business_key=invoice.number).count()
    entry = credit.entry
    return compensation_propose(
        key=f"{POSTED_TIME_REDUCED}:{entry.number}:v{entry.version}",
        step=POSTED_TIME_REDUCED,
        action=STEPS[POSTED_TIME_REDUCED].action,
        system=erp_system,
        record_kind="invoice",
        external_id=posted.external_id if posted is not None else "",
        business_key=invoice.number,
        reason=f"Time entry {entry.number} (version {entry.version}) bills {credit.hours} h "
        f"fewer than invoice {invoice.number} billed, now {invoice.status}.",
        source=tx,
        amount=credit.amount,
        rate=credit.rate,
        currency=invoice.currency,
        details={
            "invoice": invoice.number,
            "entry": entry.number,
            "hours": str(credit.hours),
            "credit_memo": f"CM-{invoice.number}-{n + 1}",
        },
    )


# --- executing ---------------------------------------------------------------------------


def _close_erp_job(tx: Transaction, compensation: Compensation) -> tuple[str, dict]:
    """Sets the job closed and inactive, as NetSuite closes a project; the same PATCH twice
    leaves it as once."""
    project = Project.objects.get(code=compensation.details["project"])
    system = compensation.system
    with push_lock(system_id=system.pk, record_label="canonical.project", record_id=project.pk):
        ErpClient(system).update(
            "job",
            compensation.external_id,
            {"entityStatus": {"refName": JOB_STATUS["closed"]}, "isInactive": True},
        )
    return compensation.external_id, {"closed_at": timezone.now().isoformat()}


def _credit_note(tx: Transaction, compensation: Compensation) -> tuple[str, dict]:
    """Creates the credit memo from the posted invoice, upserted by its external id: sent
    again after a lost answer, it finds the memo the first call made."""
    invoice = Invoice.objects.select_related("legal_entity").get(
        number=compensation.details["invoice"]
    )
    system = compensation.system
    posted = sync_state_for(invoice, system)
    if posted is None or not posted.external_id:
        raise IntegrationError.transient_failure(
            f"Invoice {invoice.number} is not in {system.slug} yet; its credit note waits "
            "for the posting.",
            system=system,
        )
    erp = ErpClient(system)
    with push_lock(system_id=system.pk, record_label="canonical.invoice", record_id=invoice.pk):
        erp_invoice = erp.get("invoice", posted.external_id)
        body = {
            "externalId": compensation.details["credit_memo"],
            "entity": {"id": (erp_invoice.get("entity") or {}).get("id")},
            "createdFrom": {"id": posted.external_id},
            "subsidiary": {"id": invoice.legal_entity.code},
            "currency": {"refName": compensation.currency},
            "tranDate": timezone.localdate().isoformat(),
            "memo": f"Credit of {invoice.number}: {compensation.reason}"[:999],
            "item": {
                "items": [
                    {
                        "description": f"Time entry {compensation.details['entry']} reduced",
                        "quantity": compensation.details["hours"],
                        "rate": str(compensation.rate),
                        "amount": str(compensation.amount),
                    }
                ]
            },
        }
        memo_id = erp.ensure("creditMemo", body)
    memo = erp.get("creditMemo", memo_id)
    return memo_id, {"tran_id": memo.get("tranId", "")}


EXECUTORS: dict[str, Callable[[Transaction, Compensation], tuple[str, dict]]] = {
    CompensationAction.CLOSE_ERP_JOB: _close_erp_job,
    CompensationAction.CREDIT_NOTE: _credit_note,
}


@handles(COMPENSATION_EVENT, atomic=False)
def compensation_execute(tx: Transaction) -> str:
    compensation = Compensation.objects.select_related("system").get(
        pk=tx.normalized["data"]["compensation"]
    )
    if compensation.state == CompensationState.DONE:
        return Outcome.UNCHANGED
    try:
        result_id, details = EXECUTORS[compensation.action](tx, compensation)
    except IntegrationError as failure:
        if not failure.transient:
            compensation_fail(compensation_id=compensation.pk, error=failure.message)
        raise
    compensation_finish(compensation_id=compensation.pk, result_id=result_id, details=details)
    return Outcome.APPLIED
