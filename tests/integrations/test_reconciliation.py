"""Reconciliation you can act on: each drift kind found against the simulated ERP and PSA
over real HTTP, named with its customer and amount, fixed by its one-click action and
resolved by the next run."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from canonical.models import Invoice
from controltower.operations.demo import demo_load
from controltower.operations.models import AuditEvent, BusinessException
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run
from tests.support.simulator import demo_systems_simulated, simulator_client

pytestmark = pytest.mark.django_db(transaction=True)

ERP = "/services/rest/record/v1"


@pytest.fixture
def systems(live_server):
    demo_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with (
        simulator_client(f"{base}/erp", timeout=10) as erp,
        simulator_client(f"{base}/psa", timeout=10) as psa,
    ):
        erp.post("/_reset")
        psa.post("/_reset")
        yield erp, psa


@pytest.fixture
def signed(systems):
    """Contract K-6001 (Acme Corporation, cap 250,000.00 USD, Manager 300/h) signed, with
    Grace Hopper assigned to its project as Manager."""
    [contract] = events_run(contract_event("K-6001"), system="clm")
    assert contract.state == TransactionState.SUCCEEDED, contract.last_error
    [staffing] = events_run(
        event(
            "assignment.upserted",
            {
                "number": "A-1",
                "project": "P-K-6001",
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 50,
            },
        ),
        system="psa",
    )
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error
    return systems


@pytest.fixture
def operator(user_with_role, api_client_for):
    return api_client_for(user_with_role("operator"))


def time_entry(number: str, hours: int, work_date: str = "2026-11-03") -> dict:
    return event(
        "time_entry.approved",
        {
            "number": number,
            "project": "P-K-6001",
            "resource": "E-0002",
            "work_date": work_date,
            "hours": hours,
            "billable": True,
        },
    )


def reconcile(client) -> Transaction:
    response = client.post("/api/v1/reconciliation/runs/", {"reason": "month end"})
    assert response.status_code == 202, response.content
    transactions_process(ids=[response.json()["id"]])
    run = Transaction.objects.get(pk=response.json()["id"])
    assert run.state == TransactionState.SUCCEEDED, run.last_error
    return run


def open_drift(kind: str) -> BusinessException:
    return BusinessException.objects.get(
        exception_type="reconciliation_drift", details__kind=kind, status="open"
    )


def act(client, drift: BusinessException) -> Transaction:
    response = client.post(f"/api/v1/reconciliation/drifts/{drift.pk}/act/", {"reason": "fix"})
    assert response.status_code == 202, response.content
    transactions_process(ids=[response.json()["id"]])
    tx = Transaction.objects.get(pk=response.json()["id"])
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    return tx


def assert_resolved(drift: BusinessException) -> None:
    drift.refresh_from_db()
    assert drift.status == "resolved" and drift.resolved_by is None
    assert "no longer finds this drift" in drift.resolution


def post_invoice(approver) -> Invoice:
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    invoice.refresh_from_db()
    assert invoice.status == "posted"
    return invoice


def test_a_clean_tower_has_no_drift_of_any_kind(signed, operator):
    events_run(time_entry("T-1", 8), system="psa")
    reconcile(operator)
    assert not BusinessException.objects.filter(exception_type="reconciliation_drift").exists()


def test_a_contract_whose_erp_job_was_deleted_is_drift_and_its_action_creates_the_job_again(
    signed, operator
):
    erp, _ = signed
    [job] = erp.get(f"{ERP}/job").json()["items"]
    assert erp.delete(f"{ERP}/job/{job['id']}").status_code == 204
    reconcile(operator)
    drift = open_drift("missing_record")
    assert drift.money_at_risk == Decimal("250000.00")  # the cap; nothing billed yet
    assert (drift.currency, drift.customer.number) == ("USD", "C-1001")
    assert drift.details["customer_name"] == "Acme Corporation"
    assert (drift.details["contract"], drift.details["project"]) == ("K-6001", "P-K-6001")
    assert drift.details["missing"] == "ERP job"
    assert drift.message == "Contract K-6001 is signed but the ERP has no job for project P-K-6001."

    repush = act(operator, drift)
    assert repush.normalized["data"]["recreate"] is True
    [again] = erp.get(f"{ERP}/job").json()["items"]
    assert again["externalId"] == "P-K-6001" and again["id"] != job["id"]
    audit = AuditEvent.objects.get(action="reconciliation.drift_action")
    assert (audit.object_id, audit.after) == (
        str(drift.pk),
        {"action": "recreate", "transaction": repush.pk},
    )
    assert AuditEvent.objects.filter(
        action="record.repush", object_type="canonical.project", reason__contains="fix"
    ).exists()
    reconcile(operator)
    assert_resolved(drift)


def test_a_contract_whose_psa_project_was_deleted_is_drift_and_its_action_creates_it_again(
    signed, operator
):
    _, psa = signed
    [project] = psa.get("/api/v1/projects").json()["results"]
    assert psa.delete(f"/api/v1/projects/{project['id']}").status_code == 204
    reconcile(operator)
    drift = open_drift("missing_record")
    assert (drift.money_at_risk, drift.customer.number) == (Decimal("250000.00"), "C-1001")
    assert drift.details["missing"] == "PSA project"
    act(operator, drift)
    assert [p["code"] for p in psa.get("/api/v1/projects").json()["results"]] == ["P-K-6001"]
    reconcile(operator)
    assert_resolved(drift)


def test_an_erp_job_with_other_rates_is_drift_on_the_unbilled_hours_and_a_repush_fixes_it(
    signed, operator
):
    erp, _ = signed
    events_run(time_entry("T-1", 8), system="psa")  # 8 h at 300, on a candidate, not posted
    [job] = erp.get(f"{ERP}/job").json()["items"]
    rates = [
        {"role": line["role"], "rate": "280.00" if line["role"] == "Manager" else line["rate"]}
        for line in job["billingRates"]["items"]
    ]
    erp.patch(f"{ERP}/job/{job['id']}", json={"billingRates": {"items": rates}})
    reconcile(operator)
    drift = open_drift("erp_rates")
    assert drift.money_at_risk == Decimal("160.00")  # 8 h x (300 - 280)
    assert (drift.customer.number, drift.details["project"]) == ("C-1001", "P-K-6001")
    assert (drift.details["tower_rates"]["Manager"], drift.details["erp_rates"]["Manager"]) == (
        "300.00",
        "280.00",
    )
    assert "Manager 300.00 in the tower, 280.00 in the ERP" in drift.message

    act(operator, drift)
    [job] = erp.get(f"{ERP}/job").json()["items"]
    assert {"role": "Manager", "rate": "300.00"} in job["billingRates"]["items"]
    reconcile(operator)
    assert_resolved(drift)


def test_a_psa_project_with_another_status_and_end_is_drift_and_a_repush_fixes_it(signed, operator):
    _, psa = signed
    events_run(time_entry("T-1", 8), system="psa")
    [project] = psa.get("/api/v1/projects").json()["results"]
    psa.patch(
        f"/api/v1/projects/{project['id']}", json={"status": "closed", "end_date": "2026-11-30"}
    )
    reconcile(operator)
    drift = open_drift("psa_project")
    assert drift.money_at_risk == Decimal("2400.00")  # 8 h x 300 approved, not posted
    assert drift.customer.number == "C-1001"
    assert drift.details["psa"] == {
        "status": "closed",
        "start_date": "2026-11-02",
        "end_date": "2026-11-30",
    }
    assert drift.details["tower"]["status"] == "active"
    act(operator, drift)
    [project] = psa.get("/api/v1/projects").json()["results"]
    assert (project["status"], project["end_date"]) == ("active", "2027-06-30")
    reconcile(operator)
    assert_resolved(drift)


def test_approved_time_no_invoice_holds_after_its_month_is_drift_and_its_action_bills_it(
    signed, operator, user_with_role, api_client_for
):
    events_run(time_entry("T-1", 8), time_entry("T-2", 4, "2026-11-04"), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    approver = api_client_for(user_with_role("approver"))
    response = approver.post(f"/api/v1/invoices/{invoice.pk}/reject/", {"reason": "wrong month"})
    assert response.status_code == 200, response.content
    reconcile(operator)
    drift = open_drift("unbilled_time")
    assert drift.money_at_risk == Decimal("3600.00")  # 12 h x 300
    assert (drift.customer.number, drift.business_key) == ("C-1001", "unbilled:P-K-6001:2026-11")
    assert (drift.details["hours"], drift.details["period_start"]) == ("12.00", "2026-11-01")
    assert drift.details["entries"] == ["T-1", "T-2"]

    rebuild = act(operator, drift)
    assert rebuild.event_type == "invoice.rebuild"
    candidate = Invoice.objects.get(status="awaiting_approval")
    assert candidate.amount == Decimal("3600.00")
    reconcile(operator)
    assert_resolved(drift)


def test_an_invoice_missing_a_line_in_the_erp_is_one_drift_and_a_repush_restores_it(
    signed, operator, user_with_role, api_client_for
):
    erp, _ = signed
    events_run(time_entry("T-1", 8), time_entry("T-2", 4, "2026-11-04"), system="psa")
    invoice = post_invoice(api_client_for(user_with_role("approver")))
    [copy] = erp.get(f"{ERP}/invoice").json()["items"]
    items = copy["item"]["items"]
    erp.patch(f"{ERP}/invoice/{copy['id']}", json={"item": {"items": items[:1]}})
    reconcile(operator)
    drift = open_drift("invoice")
    # The 4 h line is missing: one drift, its 1,200.00 counted once (not for total and hours).
    assert BusinessException.objects.filter(exception_type="reconciliation_drift").count() == 1
    assert drift.money_at_risk == Decimal("1200.00")
    assert (drift.customer.number, drift.details["customer_name"]) == ("C-1001", "Acme Corporation")
    assert (drift.details["tower"], drift.details["erp"]) == ("3600.00", "2400")
    assert (drift.details["tower_hours"], drift.details["erp_hours"]) == ("12.00", "8.00")
    assert drift.details["invoice"] == invoice.number

    act(operator, drift)
    [copy] = erp.get(f"{ERP}/invoice").json()["items"]
    assert len(copy["item"]["items"]) == 2 and Decimal(str(copy["total"])) == Decimal("3600")
    reconcile(operator)
    assert_resolved(drift)


def test_an_invoice_deleted_in_the_erp_is_posted_again_by_its_action(
    signed, operator, user_with_role, api_client_for
):
    erp, _ = signed
    events_run(time_entry("T-1", 8), system="psa")
    post_invoice(api_client_for(user_with_role("approver")))
    [copy] = erp.get(f"{ERP}/invoice").json()["items"]
    erp.delete(f"{ERP}/invoice/{copy['id']}")
    reconcile(operator)
    drift = open_drift("invoice")
    assert (drift.money_at_risk, drift.customer.number) == (Decimal("2400.00"), "C-1001")
    assert drift.details["missing"] is True
    act(operator, drift)
    [again] = erp.get(f"{ERP}/invoice").json()["items"]
    assert again["externalId"] == "INV-P-K-6001-202611"
    reconcile(operator)
    assert_resolved(drift)


def test_a_viewer_cannot_run_a_drift_action_by_api_or_page(
    signed, operator, user_with_role, api_client_for
):
    erp, _ = signed
    [job] = erp.get(f"{ERP}/job").json()["items"]
    erp.delete(f"{ERP}/job/{job['id']}")
    reconcile(operator)
    drift = open_drift("missing_record")
    viewer = user_with_role("viewer")
    response = api_client_for(viewer).post(f"/api/v1/reconciliation/drifts/{drift.pk}/act/", {})
    assert response.status_code == 403
    page = Client()
    page.force_login(viewer)
    assert page.post(f"/reconciliation/drifts/{drift.pk}/act/").status_code == 403
    run_page = page.get(f"/reconciliation/runs/{Transaction.objects.latest('pk').pk}/")
    assert "Create the ERP job again" not in run_page.text
    assert not Transaction.objects.filter(event_type="record.repush").exists()
    assert not AuditEvent.objects.filter(action="reconciliation.drift_action").exists()


def test_an_operator_fixes_a_drift_from_the_run_page_with_one_htmx_click(
    signed, operator, user_with_role
):
    erp, _ = signed
    [job] = erp.get(f"{ERP}/job").json()["items"]
    erp.delete(f"{ERP}/job/{job['id']}")
    run = reconcile(operator)
    drift = open_drift("missing_record")
    page = Client()
    page.force_login(user_with_role("operator"))
    shown = page.get(f"/reconciliation/runs/{run.pk}/")
    assert "Customer C-1001 Acme Corporation" in shown.text
    assert f'hx-post="/reconciliation/drifts/{drift.pk}/act/"' in shown.text
    assert "Create the ERP job again" in shown.text
    assert "Create the ERP job again" in page.get(f"/exceptions/{drift.pk}/").text

    clicked = page.post(f"/reconciliation/drifts/{drift.pk}/act/", HTTP_HX_REQUEST="true")
    assert clicked.status_code == 200
    tx = Transaction.objects.get(event_type="record.repush")
    assert f"queued as transaction {tx.pk}" in clicked.text
    again = page.post(f"/reconciliation/drifts/{drift.pk}/act/", HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "is already queued" in again.text  # shown in place


def test_a_project_missing_from_both_the_erp_and_the_psa_puts_its_contract_at_stake_once(
    signed, operator
):
    erp, psa = signed
    [job] = erp.get(f"{ERP}/job").json()["items"]
    erp.delete(f"{ERP}/job/{job['id']}")
    [project] = psa.get("/api/v1/projects").json()["results"]
    psa.delete(f"/api/v1/projects/{project['id']}")
    reconcile(operator)
    missing = {
        d.details["missing"]: d.money_at_risk
        for d in BusinessException.objects.filter(details__kind="missing_record")
    }
    assert missing == {"ERP job": Decimal("250000.00"), "PSA project": Decimal("0.00")}
