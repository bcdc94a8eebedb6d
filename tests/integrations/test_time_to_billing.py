"""Staffing and time to billing against the simulated ERP over real HTTP."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.test import Client

from canonical.choices import InvoiceStatus
from canonical.models import Customer, Invoice
from controltower.operations.models import AuditEvent
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.billing import invoices_poll
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run, signed_post

pytestmark = pytest.mark.django_db(transaction=True)


def assignment(number, resource, role="Manager", project="P-K-6001", **extra):
    return event(
        "assignment.upserted",
        {
            "number": number,
            "project": project,
            "resource": resource,
            "role": role,
            "start_date": "2026-11-02",
            "allocation_percent": 50,
            **extra,
        },
    )


def time_entry(
    number, resource="E-0002", hours=8, project="P-K-6001", work_date="2026-11-03", billable=True
):
    return event(
        "time_entry.approved",
        {
            "number": number,
            "project": project,
            "resource": resource,
            "work_date": work_date,
            "hours": hours,
            "billable": billable,
        },
    )


@pytest.fixture
def staffed(erp):
    """Contract K-6001 (US rate card, Manager 300/h) signed, with Grace Hopper assigned as Manager."""
    [signed] = events_run(contract_event("K-6001"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    [staffing] = events_run(assignment("A-1", "E-0002"), system="psa")
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error
    return erp


def test_an_assignment_updates_the_erp_cost_forecast(staffed):
    forecasts = staffed.get("/services/rest/record/v1/projectCostForecast").json()["items"]
    assert [(f["externalId"], f["resource"], f["role"]) for f in forecasts] == [
        ("A-1", "E-0002", "Manager")
    ]
    events_run(assignment("A-1", "E-0002", allocation_percent=80) | {"version": 2}, system="psa")
    forecasts = staffed.get("/services/rest/record/v1/projectCostForecast").json()["items"]
    assert len(forecasts) == 1 and forecasts[0]["allocationPercent"] == 80


def test_an_assignment_retried_after_an_erp_outage_still_reports_applied(staffed):
    staffed.put("/_faults", json={"outage": True})
    [tx] = events_run(assignment("A-9", "E-0003", role="Manager"), system="psa")
    assert tx.state == TransactionState.RETRY_SCHEDULED  # stored in the tower, ERP down
    staffed.put("/_faults", json={"outage": False})
    Transaction.objects.filter(pk=tx.pk).update(next_attempt_at=tx.received_at)
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert (tx.state, tx.outcome) == (TransactionState.SUCCEEDED, "applied")


def test_an_assignment_for_a_role_the_contract_cannot_bill_waits_for_the_rate(staffed):
    [tx] = events_run(assignment("A-2", "E-0003", role="Architect"), system="psa")
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == "missing_rate_card"
    assert tx.exception.waiting_on == "rate_card:RC-US-STD:ARCHITECT"
    events_run(
        event(
            "rate_card.upserted",
            {
                "code": "RC-US-STD",
                "name": "US",
                "currency": "USD",
                "lines": [{"role": "Manager", "rate": 300}, {"role": "Architect", "rate": 260}],
            },
            version=2,
        ),
        system="erp",
    )
    transactions_process(ids=[tx.pk])
    assert Transaction.objects.get(pk=tx.pk).state == TransactionState.SUCCEEDED


def test_approved_time_is_grouped_into_one_candidate_per_project_and_month(staffed):
    events_run(
        time_entry("T-1", hours=8),
        time_entry("T-2", hours=4),
        time_entry("T-3", hours=2, work_date="2026-12-01"),
        system="psa",
    )
    november = Invoice.objects.get(number="INV-P-K-6001-202611")
    assert (november.status, november.amount, november.lines.count()) == (
        InvoiceStatus.AWAITING_APPROVAL,
        Decimal("3600.00"),
        2,
    )
    assert Invoice.objects.get(number="INV-P-K-6001-202612").amount == Decimal("600.00")


def test_time_that_breaks_a_billing_rule_is_blocked_with_its_own_exception_and_money(staffed):
    Customer.objects.filter(number="C-1004").update(billing_hold=True)
    events_run(contract_event("K-6002", customer="C-1004"), system="clm")
    events_run(assignment("A-3", "E-0002", project="P-K-6002"), system="psa")
    txs = events_run(
        time_entry("T-10", project="P-NOPE"),
        time_entry("T-11", resource="E-0003"),
        time_entry("T-12", project="P-K-6002"),
        system="psa",
    )
    assert [tx.exception.exception_type for tx in txs] == [
        "unknown_project",
        "resource_not_assigned",
        "billing_hold",
    ]
    assert txs[2].exception.money_at_risk == Decimal("2400.00")
    # Unassigned: what the time would bill at the resource's own role (Consultant, 190/h).
    assert txs[1].exception.money_at_risk == Decimal("1520.00")
    assert txs[1].exception.currency == "USD"
    events_run(
        event("project.upserted", {"code": "P-K-6001", "status": "closed"}, version=2), system="psa"
    )
    [closed] = events_run(time_entry("T-13"), system="psa")
    assert closed.exception.exception_type == "project_not_active"


def test_time_worked_before_a_project_closed_is_still_billed_and_later_time_is_not(staffed):
    from canonical.models import Project

    # Closed in the PSA on 2 November (the event's day) without an end date.
    events_run(
        event("project.upserted", {"code": "P-K-6001", "status": "closed"}, version=2), system="psa"
    )
    assert Project.objects.get(code="P-K-6001").closed_on.isoformat() == "2026-11-02"
    on_the_day, after = events_run(
        time_entry("T-20", work_date="2026-11-02"),
        time_entry("T-21", work_date="2026-11-03"),
        system="psa",
    )
    assert on_the_day.state == TransactionState.SUCCEEDED, on_the_day.last_error
    assert after.exception.exception_type == "project_not_active"
    assert after.exception.message == (
        "Project P-K-6001 closed on 2026-11-02; time on 2026-11-03 is after that "
        "and cannot be billed."
    )
    assert after.exception.money_at_risk == Decimal("2400.00")

    # The PSA moves the end to 5 November: the waiting time re-runs and is billed.
    events_run(
        event(
            "project.upserted",
            {"code": "P-K-6001", "status": "closed", "end_date": "2026-11-05"},
            version=3,
        ),
        system="psa",
    )
    assert Project.objects.get(code="P-K-6001").closed_on.isoformat() == "2026-11-05"
    transactions_process(ids=[after.pk])
    after.refresh_from_db()
    assert after.state == TransactionState.SUCCEEDED, after.last_error

    # Reopened, it bills every day again.
    events_run(
        event("project.upserted", {"code": "P-K-6001", "status": "active"}, version=4),
        system="psa",
    )
    assert Project.objects.get(code="P-K-6001").closed_on is None


def test_the_sweep_leaves_a_hold_or_a_closed_project_alone_until_it_is_lifted(staffed):
    """The recheck re-runs work only when what it waits for holds, never in a loop."""
    from canonical.models import Project
    from integrations.services.exceptions import exceptions_recheck

    events_run(
        event("project.upserted", {"code": "P-K-6001", "status": "closed"}, version=2), system="psa"
    )
    [closed] = events_run(time_entry("T-14"), system="psa")
    assert closed.exception.waiting_on == "project_active:P-K-6001"
    Customer.objects.filter(number="C-1004").update(billing_hold=True)
    events_run(contract_event("K-6004", customer="C-1004"), system="clm")
    events_run(assignment("A-5", "E-0002", project="P-K-6004"), system="psa")
    [held] = events_run(time_entry("T-15", project="P-K-6004"), system="psa")
    assert held.exception.waiting_on == "customer_hold:C-1004"

    assert exceptions_recheck() == 0
    assert exceptions_recheck() == 0
    Project.objects.filter(code="P-K-6001").update(status="active")
    Customer.objects.filter(number="C-1004").update(billing_hold=False)
    assert exceptions_recheck() == 2
    transactions_process(ids=[closed.pk, held.pk])
    assert set(
        Transaction.objects.filter(pk__in=[closed.pk, held.pk]).values_list("state", flat=True)
    ) == {TransactionState.SUCCEEDED}
    assert exceptions_recheck() == 0


def test_time_past_the_contract_cap_is_blocked_with_the_overrun_at_risk(staffed):
    events_run(contract_event("K-6003", project_code="P-CAP") | {}, system="clm")
    from canonical.models import Contract

    Contract.objects.filter(number="K-6003").update(cap_amount=Decimal("3000"))
    events_run(assignment("A-4", "E-0002", project="P-CAP"), system="psa")
    ok, over = events_run(
        time_entry("T-20", project="P-CAP", hours=8),
        time_entry("T-21", project="P-CAP", hours=8),
        system="psa",
    )
    assert ok.state == TransactionState.SUCCEEDED
    assert (
        over.exception.exception_type == "cap_exceeded"
        and over.exception.money_at_risk == Decimal("2400.00")
    )
    assert over.exception.message == (
        "Contract K-6003's cap of 3,000.00 USD would be exceeded: 2,400.00 USD is billed "
        "and this entry adds 2,400.00 USD."
    )


def test_an_approver_approves_a_candidate_and_it_is_posted_to_the_erp_once_then_paid(
    staffed, user_with_role, api_client_for
):
    events_run(time_entry("T-30", hours=8), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    approver = api_client_for(user_with_role("approver"))
    assert (
        api_client_for(user_with_role("operator"))
        .post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
        .status_code
        == 403
    )
    staffed.put("/_faults", json={"outage": True, "pay_after_seconds": 1})
    response = approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {"reason": "checked"})
    assert response.status_code == 200 and response.json()["status"] == InvoiceStatus.APPROVED
    assert approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {}).status_code == 409
    posting = Transaction.objects.get(event_type="invoice.approved")
    transactions_process(ids=[posting.pk])
    posting.refresh_from_db()
    assert posting.state == TransactionState.RETRY_SCHEDULED  # the ERP is down: retried, not lost
    staffed.put("/_faults", json={"outage": False})
    Transaction.objects.filter(pk=posting.pk).update(next_attempt_at=posting.received_at)
    transactions_process(ids=[posting.pk])
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.POSTED and invoice.erp_number.startswith("INV")
    erp_invoices = staffed.get("/services/rest/record/v1/invoice").json()["items"]
    assert len(erp_invoices) == 1 and Decimal(str(erp_invoices[0]["total"])) == Decimal("2400")
    assert AuditEvent.objects.get(action="invoice.approve").reason == "checked"
    time.sleep(1.1)
    assert invoices_poll() == 1
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.PAID


def test_a_rejected_candidate_releases_its_time(staffed, user_with_role, api_client_for):
    events_run(time_entry("T-40"), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    approver = api_client_for(user_with_role("approver"))
    assert approver.post(f"/api/v1/invoices/{invoice.pk}/reject/", {}).status_code == 400
    assert (
        approver.post(f"/api/v1/invoices/{invoice.pk}/reject/", {"reason": "wrong month"}).json()[
            "status"
        ]
        == "rejected"
    )
    events_run(time_entry("T-40", hours=6) | {"version": 2}, system="psa")
    replacement = Invoice.objects.exclude(status="rejected").get(project__code="P-K-6001")
    assert replacement.number == "INV-P-K-6001-202611-2" and replacement.amount == Decimal(
        "1800.00"
    )


def test_the_preparer_of_a_candidate_cannot_approve_it_but_a_second_approver_can(
    staffed, user_with_role, api_client_for
):
    events_run(time_entry("T-41"), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    ada, bob = user_with_role("approver"), user_with_role("approver")
    prepared = api_client_for(ada).post(f"/api/v1/invoices/{invoice.pk}/prepare/", {})
    assert prepared.status_code == 200, prepared.content
    refused = api_client_for(ada).post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    assert refused.status_code == 403
    assert "second person" in refused.json()["message"]
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.AWAITING_APPROVAL
    approved = api_client_for(bob).post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    assert approved.status_code == 200 and approved.json()["status"] == InvoiceStatus.APPROVED
    assert list(
        AuditEvent.objects.filter(object_id=str(invoice.pk), object_type="canonical.invoice")
        .order_by("at", "id")
        .values_list("action", "actor_name")
    ) == [("invoice.prepare", ada.username), ("invoice.approve", bob.username)]


def test_a_rejected_candidate_comes_back_with_an_exception_and_resolving_rebuilds_it(
    staffed, user_with_role
):
    from controltower.operations.services.approvals import invoice_reject
    from controltower.operations.services.exceptions import exception_resolve

    events_run(time_entry("T-42", hours=8), time_entry("T-43", hours=2), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    invoice_reject(invoice_id=invoice.pk, actor=user_with_role("approver"), reason="Hours wrong")
    rebuild = Transaction.objects.get(event_type="invoice.rebuild")
    exc = rebuild.exception
    assert rebuild.state == TransactionState.BLOCKED and exc.exception_type == "invoice_rejected"
    assert exc.money_at_risk == Decimal("3000.00") and exc.record == invoice
    exception_resolve(
        exception_id=exc.pk, actor=user_with_role("operator"), resolution="Hours confirmed."
    )
    transactions_process(ids=[rebuild.pk])
    again = Invoice.objects.get(number="INV-P-K-6001-202611-2")
    assert (again.status, again.amount, again.lines.count()) == (
        InvoiceStatus.AWAITING_APPROVAL,
        Decimal("3000.00"),
        2,
    )


def test_late_time_for_an_approved_month_goes_on_a_supplementary_candidate(staffed):
    events_run(time_entry("T-44", hours=8), system="psa")
    Invoice.objects.filter(number="INV-P-K-6001-202611").update(status=InvoiceStatus.APPROVED)
    [late] = events_run(time_entry("T-45", hours=1, work_date="2026-11-28"), system="psa")
    assert late.state == TransactionState.SUCCEEDED, late.last_error
    supplement = Invoice.objects.get(number="INV-P-K-6001-202611-2")
    assert supplement.amount == Decimal("300.00") and supplement.status == "awaiting_approval"


def test_an_edited_time_replay_waits_for_a_second_approver(staffed, user_with_role):
    from controltower.operations.services.actions import transaction_replay
    from controltower.operations.services.approvals import FourEyesError, exception_approve

    [original] = events_run(time_entry("T-46", hours=8), system="psa")
    ada, bob = user_with_role("approver"), user_with_role("approver")
    edited = {**original.normalized, "data": {**original.normalized["data"], "hours": "6.00"}}
    replay = transaction_replay(
        transaction_id=original.pk, actor=ada, payload=edited, reason="PSA had 6 h"
    )
    assert replay.state == TransactionState.AWAITING_APPROVAL
    assert (
        replay.exception.exception_type == "edited_replay" and replay.exception.prepared_by == ada
    )
    with pytest.raises(FourEyesError):
        exception_approve(exception_id=replay.exception_id, actor=ada)
    exception_approve(exception_id=replay.exception_id, actor=bob, reason="matches the PSA")
    transactions_process(ids=[replay.pk])
    replay.refresh_from_db()
    assert replay.state == TransactionState.SUCCEEDED, replay.last_error


def test_harvest_time_waits_for_its_user_to_be_linked_to_a_resource_then_runs(
    staffed, user_with_role, api_client_for
):
    from canonical.models import Resource
    from controltower.operations.models import BusinessException
    from tests.integrations.adapters.support import document

    entry = document("harvest", "time_entry_approved.json")
    entry.update(spent_date="2026-11-04", hours=5.0)
    entry["project"]["code"] = "P-K-6001"
    response = signed_post(Client(), "harvest", entry)
    assert response.status_code == 202, response.content
    [tx_id] = response.json()["transaction_ids"]
    transactions_process(ids=[tx_id])
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    user_id = str(entry["user"]["id"])
    assert (
        exc.exception_type == "unknown_resource" and exc.waiting_on == f"resource:HARVEST-{user_id}"
    )
    assert f"user {user_id} is linked to no resource" in exc.message
    grace = Resource.objects.get(employee_number="E-0002")
    operator = api_client_for(user_with_role("operator"))
    linked = operator.post(
        f"/api/v1/resources/{grace.pk}/link/", {"system": "harvest", "external_id": user_id}
    )
    assert linked.status_code == 200, linked.content
    assert BusinessException.objects.get(pk=exc.pk).status == "resolved"
    transactions_process(ids=[tx_id])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Invoice.objects.get(number="INV-P-K-6001-202611").amount == Decimal("1500.00")
    other = Resource.objects.get(employee_number="E-0003")
    taken = operator.post(
        f"/api/v1/resources/{other.pk}/link/", {"system": "harvest", "external_id": user_id}
    )
    assert taken.status_code == 409 and "already linked" in taken.json()["message"]


def test_harvest_time_without_a_project_code_waits_for_its_project_to_be_linked_then_runs(
    staffed, user_with_role, api_client_for
):
    """A Harvest account that keeps no project codes names the project by its Harvest id:
    the time waits, as one exception, until an operator links the project once."""
    from canonical.models import Project, Resource
    from controltower.operations.models import BusinessException
    from tests.integrations.adapters.support import document

    operator = api_client_for(user_with_role("operator"))
    entry = document("harvest", "time_entry_without_project_code.json")
    entry.update(spent_date="2026-11-04", hours=5.0)
    user_id, project_id = str(entry["user"]["id"]), str(entry["project"]["id"])
    grace = Resource.objects.get(employee_number="E-0002")
    assert (
        operator.post(
            f"/api/v1/resources/{grace.pk}/link/", {"system": "harvest", "external_id": user_id}
        ).status_code
        == 200
    )
    response = signed_post(Client(), "harvest", entry)
    [tx_id] = response.json()["transaction_ids"]
    transactions_process(ids=[tx_id])
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    assert exc.exception_type == "unknown_project"
    assert exc.waiting_on == f"project:HARVEST-{project_id}"
    assert f"Harvest project {project_id} is linked to no project" in exc.message

    project = Project.objects.get(code="P-K-6001")
    linked = operator.post(
        f"/api/v1/projects/{project.pk}/link/", {"system": "harvest", "external_id": project_id}
    )
    assert linked.status_code == 200, linked.content
    assert BusinessException.objects.get(pk=exc.pk).status == "resolved"
    transactions_process(ids=[tx_id])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Invoice.objects.get(number="INV-P-K-6001-202611").amount == Decimal("1500.00")
    # The next entry of the project runs at once.
    entry.update(id=entry["id"] + 1, spent_date="2026-11-05", updated_at="2026-11-06T10:00:00Z")
    [next_id] = signed_post(Client(), "harvest", entry).json()["transaction_ids"]
    transactions_process(ids=[next_id])
    assert Transaction.objects.get(pk=next_id).state == TransactionState.SUCCEEDED


def test_a_contracts_lineage_lists_its_transactions_and_each_systems_copy(
    staffed, user_with_role, api_client_for
):
    from canonical.models import Contract

    events_run(time_entry("T-50"), system="psa")
    contract = Contract.objects.get(number="K-6001")
    body = (
        api_client_for(user_with_role("viewer"))
        .get(f"/api/v1/contracts/{contract.pk}/lineage/")
        .json()
    )
    assert [t["event_type"] for t in body["transactions"]] == [
        "contract.signed",
        "assignment.upserted",
        "time_entry.approved",
    ]
    [project] = body["records"]["projects"]
    assert {s["system"] for s in project["systems"]} == {"erp", "psa"}
    assert all(s["behind"] == 0 for s in project["systems"])
    [staffing] = body["records"]["assignments"]
    assert {s["system"] for s in staffing["systems"]} == {
        "psa",
        "erp",
    }  # from the PSA, forecast in the ERP
    assert body["records"]["invoices"][0]["status"] == "awaiting_approval"


def test_a_reached_milestone_goes_on_the_candidate_once(staffed):
    from canonical.models import BillingMilestone

    reached = event(
        "milestone.reached", {"contract": "K-6001", "code": "M1", "reached_on": "2026-11-20"}
    )
    [first] = events_run(reached, system="clm")
    [again] = events_run(
        event(
            "milestone.reached", {"contract": "K-6001", "code": "M1", "reached_on": "2026-11-21"}
        ),
        system="clm",
    )
    assert (first.outcome, again.outcome) == ("applied", "unchanged")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    assert invoice.amount == Decimal("20000.00") and invoice.lines.get().milestone.code == "M1"
    assert BillingMilestone.objects.get(contract__number="K-6001", code="M1").status == "reached"
    [unknown] = events_run(
        event(
            "milestone.reached", {"contract": "K-6001", "code": "M9", "reached_on": "2026-11-21"}
        ),
        system="clm",
    )
    assert (
        unknown.state == TransactionState.BLOCKED
        and unknown.exception.waiting_on == "contract_terms:K-6001"
    )


def test_reconciliation_finds_an_invoice_the_erp_holds_twice_and_one_never_posted(
    staffed, user_with_role, api_client_for
):
    from controltower.operations.models import BusinessException
    from integrations.models import SyncState

    events_run(time_entry("T-60", hours=8), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    approver = api_client_for(user_with_role("approver"))
    approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    operator = api_client_for(user_with_role("operator"))

    def reconcile() -> Transaction:
        response = operator.post("/api/v1/reconciliation/runs/", {"reason": "month end"})
        assert response.status_code == 202, response.content
        transactions_process(ids=[response.json()["id"]])
        return Transaction.objects.get(pk=response.json()["id"])

    clean = reconcile()
    assert clean.state == TransactionState.SUCCEEDED
    assert not BusinessException.objects.filter(exception_type="reconciliation_drift").exists()

    erp_job = SyncState.objects.get(content_type__model="project", system__slug="erp").external_id
    copy = staffed.get("/services/rest/record/v1/invoice").json()["items"][0]
    staffed.post(
        "/services/rest/record/v1/invoice",
        json={
            k: copy[k] for k in ("externalId", "entity", "job", "subsidiary", "currency", "item")
        },
    )
    staffed.post(
        "/services/rest/record/v1/invoice",
        json={
            "externalId": "HAND-1",
            "entity": copy["entity"],
            "job": {"id": erp_job},
            "subsidiary": copy["subsidiary"],
            "item": {
                "items": [{"description": "keyed by hand", "quantity": 1, "rate": 99, "amount": 99}]
            },
        },
    )
    reconcile()
    drifts = {
        e.message: e.money_at_risk
        for e in BusinessException.objects.filter(exception_type="reconciliation_drift")
    }
    assert drifts == {
        "The ERP holds invoice INV-P-K-6001-202611 2 times.": Decimal("2400.00"),
        next(m for m in drifts if "never posted" in m): Decimal("99"),
    }
    reconcile()  # the same drift again is the same exception, with the same amount
    again = BusinessException.objects.filter(exception_type="reconciliation_drift")
    assert {e.message: e.money_at_risk for e in again} == drifts
    assert {e.business_key for e in again} == {
        "INV-P-K-6001-202611",
        next(e.business_key for e in again if e.business_key.startswith("erp:")),
    }
    assert {e.occurrences for e in again} == {2}


def test_reconciliation_finds_hours_the_erp_bills_differently(
    staffed, user_with_role, api_client_for
):
    from controltower.operations.models import BusinessException
    from controltower.operations.services.actions import reconciliation_start
    from integrations.models import SyncState

    events_run(time_entry("T-70", hours=8), time_entry("T-71", hours=4), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    api_client_for(user_with_role("approver")).post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    erp_id = SyncState.objects.get(content_type__model="invoice", system__slug="erp").external_id
    erp_invoice = staffed.get(f"/services/rest/record/v1/invoice/{erp_id}").json()
    items = erp_invoice["item"]["items"]
    items[0]["quantity"] = "7"  # someone corrected the hours in the ERP only
    staffed.patch(f"/services/rest/record/v1/invoice/{erp_id}", json={"item": {"items": items}})
    transactions_process(ids=[reconciliation_start(actor=None).pk])
    drift = BusinessException.objects.get(exception_type="reconciliation_drift")
    assert (drift.details["tower_hours"], drift.details["erp_hours"]) == ("12.00", "11.00")
    assert drift.money_at_risk == Decimal("300.00")

    items[0]["quantity"] = "8"  # put right in the ERP: the next run resolves the drift
    staffed.patch(f"/services/rest/record/v1/invoice/{erp_id}", json={"item": {"items": items}})
    transactions_process(ids=[reconciliation_start(actor=None).pk])
    drift.refresh_from_db()
    assert drift.status == "resolved" and drift.resolved_by is None
    assert "no longer finds this drift" in drift.resolution
    assert drift.money_at_risk == Decimal("300.00")  # what was at stake while it lasted


def test_an_operator_picks_the_project_on_the_exception_and_the_choice_is_remembered(
    staffed, user_with_role, api_client_for
):
    from django.test import Client as PageClient

    from canonical.models import Resource
    from controltower.operations.models import BusinessException
    from tests.integrations.adapters.support import document

    operator = user_with_role("operator")
    entry = document("harvest", "time_entry_without_project_code.json")
    entry.update(spent_date="2026-11-04", hours=5.0)
    grace = Resource.objects.get(employee_number="E-0002")
    api_client_for(operator).post(
        f"/api/v1/resources/{grace.pk}/link/",
        {"system": "harvest", "external_id": str(entry["user"]["id"])},
    )
    [tx_id] = signed_post(Client(), "harvest", entry).json()["transaction_ids"]
    transactions_process(ids=[tx_id])
    exc = Transaction.objects.get(pk=tx_id).exception
    page = PageClient()
    page.force_login(operator)
    shown = page.get(f"/exceptions/{exc.pk}/")
    assert "Which project is Harvest project 41221045?" in shown.text
    assert '<option value="P-K-6001">' in shown.text

    wrong = page.post(f"/exceptions/{exc.pk}/link/", {"link-key": "P-NOPE"})
    assert wrong.status_code == 400 and "There is no project" in wrong.text
    picked = page.post(f"/exceptions/{exc.pk}/link/", {"link-key": "p-k-6001"}, follow=True)
    assert "Linked Harvest id 41221045" in picked.text
    assert BusinessException.objects.get(pk=exc.pk).status == "resolved"
    transactions_process(ids=[tx_id])
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED


def test_a_v1_time_entry_is_processed_as_v2_and_keeps_the_version_it_arrived_in(staffed):
    from canonical.models import TimeEntry

    v2 = time_entry("T-V2", hours="4.25") | {"schema_version": 2}
    old, new = events_run(time_entry("T-V1", hours=7.5), v2, system="psa")
    assert (old.state, new.state) == (TransactionState.SUCCEEDED, TransactionState.SUCCEEDED)
    assert (old.schema_version, new.schema_version) == (1, 2)
    # Kept as it arrived; read, as every event of its type, in the current version.
    assert old.payload["data"]["hours"] == 7.5 and "schema_version" not in old.payload
    assert old.normalized["data"]["hours"] == "7.50" and old.normalized["schema_version"] == 2
    hours = dict(TimeEntry.objects.values_list("number", "hours"))
    assert (hours["T-V1"], hours["T-V2"]) == (Decimal("7.50"), Decimal("4.25"))
