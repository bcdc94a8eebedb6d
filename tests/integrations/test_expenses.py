"""Expense reports from the PSA, billed and posted to the simulated ERP over real HTTP."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.choices import InvoiceStatus
from canonical.models import ExpenseReport, Invoice
from controltower.operations.models import BusinessException
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from simulator import traffic
from tests.support.inbound import contract_event, event, events_run, events_send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def signed(erp):
    """Contract K-6001 in USD, rebilling travel and lodging at 12.5 % markup."""
    contract = contract_event("K-6001")
    contract["data"] |= {
        "expense_categories": ["travel", "lodging"],
        "expense_markup_percent": 12.5,
    }
    [tx] = events_run(contract, system="clm")
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    return erp


def report(number, *lines, version=1):
    return event(
        "expense_report.approved",
        {
            "number": number,
            "project": "P-K-6001",
            "resource": "E-0002",
            "currency": "USD",
            "approved_at": "2026-11-20T10:00:00Z",
            "lines": list(lines),
        },
        version=version,
    )


HOTEL = {
    "category": "lodging",
    "amount": "412.50",
    "currency": "EUR",
    "exchange_rate": "1.17",
    "receipt_reference": "R-4471",
    "billable": True,
    "incurred_on": "2026-11-12",
    "description": "Hotel, Frankfurt",
}
DINNER = {"category": "meals", "amount": 58, "billable": False, "incurred_on": "2026-11-12"}


def test_an_expense_report_is_billed_and_its_invoice_carries_the_expense_to_the_erp(
    signed, user_with_role, api_client_for
):
    [tx] = events_run(report("EXP-100", HOTEL, DINNER), system="psa")
    assert (tx.state, tx.outcome) == (TransactionState.SUCCEEDED, "applied")
    [again] = events_run(report("EXP-100", HOTEL, DINNER), system="psa")
    assert (again.state, again.outcome) == (TransactionState.SUCCEEDED, "unchanged")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    # 412.50 EUR x 1.17 = 482.625 USD; x 1.125 = 542.953125, rounded once: 542.95 USD.
    # The dinner is not billable: recorded, not billed.
    assert (invoice.amount, invoice.lines.count()) == (Decimal("542.95"), 1)
    assert ExpenseReport.objects.get(number="EXP-100").lines.count() == 2

    approver = api_client_for(user_with_role("approver"))
    response = approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {"reason": "checked"})
    assert response.status_code == 200, response.content
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.POSTED
    [erp_invoice] = signed.get("/services/rest/record/v1/invoice").json()["items"]
    assert erp_invoice["item"]["items"] == [
        {
            "description": "Expense 2026-11-12 lodging: Hotel, Frankfurt "
            "(EXP-100 line 1; 412.50 EUR at 1.17; +12.5 % markup)",
            "quantity": "1.00",
            "rate": "542.95",
            "amount": "542.95",
            "taxCode": {"externalId": "US-EXEMPT"},
            "category": {"refName": "lodging"},
        }
    ]
    assert Decimal(str(erp_invoice["total"])) == Decimal("542.95")


def test_an_expense_in_a_category_the_contract_does_not_rebill_is_an_exception_with_its_money(
    signed,
):
    taxi = {"category": "travel", "amount": 40, "billable": True, "incurred_on": "2026-11-12"}
    dinner = DINNER | {"billable": True, "amount": "58.00"}
    [tx] = events_run(report("EXP-101", taxi, dinner), system="psa")
    assert tx.state == TransactionState.BLOCKED
    exception = tx.exception
    assert exception.exception_type == "expense_category_not_allowed"
    assert exception.message == (
        "Expense EXP-101 line 2 (meals): contract K-6001 rebills travel, lodging only."
    )
    # 58.00 x 1.125 = 65.25 USD.
    assert (exception.money_at_risk, exception.currency) == (Decimal("65.25"), "USD")
    assert not Invoice.objects.filter(project__code="P-K-6001").exists()


def test_a_missing_receipt_over_the_threshold_is_an_exception_with_its_money(signed):
    hotel = HOTEL | {"receipt_reference": ""}
    [tx] = events_run(report("EXP-102", hotel), system="psa")
    assert tx.state == TransactionState.BLOCKED
    assert tx.exception.exception_type == "expense_receipt_missing"
    assert tx.exception.money_at_risk == Decimal("542.95")
    [fixed] = events_run(report("EXP-102", HOTEL, version=2), system="psa")
    assert fixed.state == TransactionState.SUCCEEDED
    assert Invoice.objects.get(number="INV-P-K-6001-202611").amount == Decimal("542.95")


def test_the_demo_traffics_expense_reports_are_billed_and_its_bad_one_is_held(erp):
    plan = traffic.traffic_build(
        contracts=2, days=2, volume=1, error_share=0.2, seed=7, start=date(2026, 11, 2)
    )
    for request in plan.requests():
        events_send(*request.events, system=request.system)
    reports = {
        item.event["data"]["number"]: item.scenario
        for item in plan.events
        if item.event["type"] == "expense_report.approved"
    }
    assert set(reports.values()) == {traffic.OK, traffic.EXPENSE_CATEGORY_NOT_ALLOWED}
    for tx in Transaction.objects.filter(event_type="expense_report.approved"):
        if reports[tx.business_key] == traffic.OK:
            assert tx.state == TransactionState.SUCCEEDED, tx.last_error
        else:
            assert tx.exception.exception_type == "expense_category_not_allowed"
            assert tx.exception.money_at_risk > 0


def test_reconciliation_counts_no_hours_for_an_expense_line(signed, user_with_role, api_client_for):
    assignment = event(
        "assignment.upserted",
        {
            "number": "A-1",
            "project": "P-K-6001",
            "resource": "E-0002",
            "role": "Manager",
            "start_date": "2026-11-02",
            "allocation_percent": 50,
        },
    )
    time_entry = event(
        "time_entry.approved",
        {
            "number": "T-1",
            "project": "P-K-6001",
            "resource": "E-0002",
            "work_date": "2026-11-03",
            "hours": 8,
            "billable": True,
        },
    )
    events_run(assignment, time_entry, report("EXP-103", HOTEL), system="psa")
    invoice = Invoice.objects.get(number="INV-P-K-6001-202611")
    # 8 h x 300.00 = 2,400.00 and the hotel's 542.95.
    assert invoice.amount == Decimal("2942.95")
    api_client_for(user_with_role("approver")).post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    response = api_client_for(user_with_role("operator")).post(
        "/api/v1/reconciliation/runs/", {"reason": "month end"}
    )
    assert response.status_code == 202, response.content
    transactions_process(ids=[response.json()["id"]])
    assert Transaction.objects.get(pk=response.json()["id"]).state == TransactionState.SUCCEEDED
    assert not BusinessException.objects.filter(exception_type="reconciliation_drift").exists()
