"""Compensating actions against the simulated ERP and PSA over real HTTP: proposed by the
engine when a step half-fails, executed through the push path, visible in lineage, with
four eyes where money moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.choices import InvoiceStatus
from canonical.models import Contract, Invoice
from controltower.operations.models import AuditEvent
from controltower.operations.services.approvals import (
    FourEyesError,
    invoice_approve,
    invoice_prepare,
)
from controltower.operations.services.compensations import (
    compensation_approve,
    compensation_reject,
    compensation_request,
)
from integrations.choices import CompensationAction, CompensationState, TransactionState
from integrations.flows.compensation import EXECUTORS, compensation_execute
from integrations.models import Compensation, Transaction
from integrations.selectors.lineage import contract_lineage
from integrations.services.processing import transactions_process
from tests.integrations.test_time_to_billing import assignment, time_entry
from tests.support.inbound import contract_event, events_run

pytestmark = pytest.mark.django_db(transaction=True)


def executed(compensation: Compensation) -> Compensation:
    compensation.refresh_from_db()
    assert compensation.state == CompensationState.EXECUTING and compensation.execution_id
    transactions_process(ids=[compensation.execution_id])
    compensation.refresh_from_db()
    return compensation


def test_a_psa_refusal_after_the_erp_job_proposes_closing_it_and_closing_shows_in_lineage(
    simulator, user_with_role
):
    rule = {"record": "project", "field": "code", "value": "P-K-5101", "message": "Code taken"}
    assert simulator.put("/psa/_faults", json={"reject": [rule]}).status_code == 200
    [signed] = events_run(contract_event("K-5101"), system="clm")
    assert signed.state == TransactionState.BLOCKED and "Code taken" in signed.last_error
    [job] = simulator.get("/erp/services/rest/record/v1/job").json()["items"]
    [proposal] = Compensation.objects.all()
    assert (proposal.action, proposal.state, proposal.external_id, proposal.source_transaction) == (
        CompensationAction.CLOSE_ERP_JOB,
        CompensationState.PROPOSED,
        job["id"],
        signed,
    )
    transactions_process(ids=[signed.pk])  # the step fails again: still one proposal
    assert Compensation.objects.count() == 1
    with pytest.raises(Exception, match="reason is required"):
        compensation_request(
            compensation_id=proposal.pk, actor=user_with_role("operator"), reason=""
        )

    # No money moves: one operator's request executes it.
    compensation_request(
        compensation_id=proposal.pk, actor=user_with_role("operator"), reason="Project dropped"
    )
    done = executed(proposal)
    assert done.state == CompensationState.DONE, done.last_error
    job = simulator.get(f"/erp/services/rest/record/v1/job/{job['id']}").json()
    assert (job["entityStatus"]["refName"], job["isInactive"]) == ("Closed", True)
    lineage = contract_lineage(Contract.objects.get(number="K-5101"))
    assert [(c["action"], c["state"], c["execution"]) for c in lineage["compensations"]] == [
        ("close_erp_job", "done", done.execution_id)
    ]
    execution = next(tx for tx in lineage["transactions"] if tx["id"] == done.execution_id)
    assert (execution["event_type"], execution["state"]) == ("compensation.execute", "succeeded")
    assert AuditEvent.objects.filter(action="compensation.request").count() == 1


@pytest.fixture
def posted(erp, user_with_role):
    """Contract K-6001 staffed; T-1 (8 h at 300) billed on INV-P-K-6001-202611, posted to
    the ERP after a second person's approval."""
    events_run(contract_event("K-6001"), system="clm")
    events_run(assignment("A-1", "E-0002"), system="psa")
    events_run(time_entry("T-1", hours=8), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    invoice_prepare(invoice_id=invoice.pk, actor=user_with_role("approver"))
    posting = invoice_approve(invoice_id=invoice.pk, actor=user_with_role("approver"))
    transactions_process(ids=[posting.pk])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.POSTED
    return invoice


def credit_memos(erp) -> list[dict]:
    return erp.get("/services/rest/record/v1/creditMemo").json()["items"]


def test_reduced_time_on_a_posted_invoice_gets_a_credit_note_under_four_eyes(
    posted, erp, user_with_role
):
    [reduced] = events_run(time_entry("T-1", hours=6) | {"version": 2}, system="psa")
    assert reduced.state == TransactionState.SUCCEEDED, reduced.last_error
    posted.refresh_from_db()
    assert (posted.amount, posted.lines.get().quantity) == (Decimal("2400.00"), Decimal("8.00"))
    [credit] = Compensation.objects.all()
    assert (credit.action, credit.amount, credit.currency, credit.business_key) == (
        CompensationAction.CREDIT_NOTE,
        Decimal("600.00"),
        "USD",
        posted.number,
    )
    ada, bob = user_with_role("approver"), user_with_role("approver")
    compensation_request(compensation_id=credit.pk, actor=ada, reason="PSA says 6 h")
    credit.refresh_from_db()
    assert credit.state == CompensationState.AWAITING_APPROVAL and not credit_memos(erp)
    with pytest.raises(FourEyesError, match="second person"):
        compensation_approve(compensation_id=credit.pk, actor=ada, reason="Mine")
    with pytest.raises(FourEyesError):
        compensation_approve(
            compensation_id=credit.pk, actor=user_with_role("operator"), reason="Not mine"
        )
    compensation_approve(compensation_id=credit.pk, actor=bob, reason="Checked the timesheet")
    done = executed(credit)
    assert done.state == CompensationState.DONE, done.last_error
    [memo] = credit_memos(erp)
    assert (memo["id"], memo["total"], memo["createdFrom"]["id"]) == (
        done.result_id,
        600,
        erp.get("/services/rest/record/v1/invoice").json()["items"][0]["id"],
    )
    erp_invoice = erp.get(f"/services/rest/record/v1/invoice/{memo['createdFrom']['id']}").json()
    assert (erp_invoice["total"], erp_invoice["amountRemaining"]) == (2400, 1800)
    lineage = contract_lineage(Contract.objects.get(number="K-6001"))
    assert [(c["action"], c["state"], c["result_id"]) for c in lineage["compensations"]] == [
        ("credit_note", "done", memo["id"])
    ]


def test_a_credit_note_executed_twice_or_after_a_lost_answer_makes_one_credit_memo(
    posted, erp, user_with_role
):
    events_run(time_entry("T-1", hours=5) | {"version": 2}, system="psa")
    [credit] = Compensation.objects.all()
    assert credit.amount == Decimal("900.00")
    compensation_request(compensation_id=credit.pk, actor=user_with_role("approver"), reason="5 h")
    compensation_approve(compensation_id=credit.pk, actor=user_with_role("approver"), reason="ok")
    credit.refresh_from_db()
    # The ERP makes the memo, the tower never hears back (as if the answer were lost) ...
    EXECUTORS[credit.action](credit.execution, credit)
    assert len(credit_memos(erp)) == 1
    assert Compensation.objects.get(pk=credit.pk).state == CompensationState.EXECUTING
    # ... and the execution runs again: it finds that memo instead of making a second.
    assert executed(credit).state == CompensationState.DONE
    assert compensation_execute(Transaction.objects.get(pk=credit.execution_id)) == "unchanged"
    [memo] = credit_memos(erp)
    assert memo["total"] == 900 and memo["id"] == credit.result_id
    # The simulated ERP's own checks: no more credit than the invoice billed, its customer.
    body = {
        "entity": memo["entity"],
        "createdFrom": memo["createdFrom"],
        "item": {"items": [{"description": "too much", "amount": "1500.01"}]},
    }
    refused = erp.put("/services/rest/record/v1/creditMemo/eid:CM-X", json=body)
    assert refused.status_code == 400
    assert refused.json()["o:errorDetails"][0]["o:errorPath"] == "item"
    other = {**body, "entity": {"id": "999999"}, "item": {"items": [{"amount": "1"}]}}
    assert erp.put("/services/rest/record/v1/creditMemo/eid:CM-Y", json=other).status_code == 400
    assert len(credit_memos(erp)) == 1


def test_more_time_on_a_posted_invoice_goes_on_a_supplementary_invoice_for_the_difference(
    posted, user_with_role
):
    [more] = events_run(time_entry("T-1", hours=10) | {"version": 2}, system="psa")
    assert more.state == TransactionState.SUCCEEDED, more.last_error
    posted.refresh_from_db()
    assert posted.amount == Decimal("2400.00")  # the posted invoice is never changed
    supplement = Invoice.objects.get(number="INV-P-K-6001-202611-2")
    assert (supplement.status, supplement.amount, supplement.lines.get().quantity) == (
        InvoiceStatus.AWAITING_APPROVAL,
        Decimal("600.00"),
        Decimal("2.00"),
    )
    assert not Compensation.objects.exists()
    # Back to 7 h: the supplement's line goes, and the hour below the posted 8 is credited.
    events_run(time_entry("T-1", hours=7) | {"version": 3}, system="psa")
    assert not Invoice.objects.get(pk=supplement.pk).lines.exists()
    [credit] = Compensation.objects.all()
    assert credit.amount == Decimal("300.00")
    compensation_reject(compensation_id=credit.pk, actor=user_with_role("approver"), reason="Kept")
    assert Compensation.objects.get(pk=credit.pk).state == CompensationState.REJECTED
