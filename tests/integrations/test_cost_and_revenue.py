"""Cost and revenue through the flows to the simulated ERP over real HTTP: approved time
as a journal entry per project and month, each contract's revenue schedule as a revenue
plan, and the margin the project's page and the API show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.models import Invoice, InvoiceLine, Resource, TimeEntry
from integrations.choices import TransactionState
from integrations.models import ExceptionRecord, Transaction
from integrations.services.finance import finance_queue
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = "/services/rest/record/v1"
END_OF_NOVEMBER = date(2026, 11, 30)


def signed(number: str, billing_model: str, **terms) -> None:
    """Contract ``number`` (US rate card: Manager 300/h; milestones M1 20000 due 2026-12-15
    and M2 45000.50 due 2027-05-30), Grace Hopper (E-0002) assigned as Manager."""
    contract = contract_event(number)
    contract["data"].update(billing_model=billing_model, **terms)
    [signing] = events_run(contract, system="clm")
    assert signing.state == TransactionState.SUCCEEDED, signing.last_error
    [staffing] = events_run(
        event(
            "assignment.upserted",
            {
                "number": f"A-{number}",
                "project": f"P-{number}",
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 100,
            },
        ),
        system="psa",
    )
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error


def worked(number: str, contract: str, work_date: str, hours: str) -> Transaction:
    [time] = events_run(
        event(
            "time_entry.approved",
            {
                "number": number,
                "project": f"P-{contract}",
                "resource": "E-0002",
                "work_date": work_date,
                "hours": float(hours),
                "billable": True,
            },
        ),
        system="psa",
    )
    assert time.state == TransactionState.SUCCEEDED, time.last_error
    return time


def cost_rate(value: str | None) -> None:
    """Grace Hopper's cost rate, as the HRIS holds it."""
    Resource.objects.filter(employee_number="E-0002").update(
        cost_rate=Decimal(value) if value is not None else None
    )


def cost_run(today: date = END_OF_NOVEMBER) -> list[Transaction]:
    queued = finance_queue(today=today)
    transactions_process(ids=[tx.pk for tx in queued])
    done = list(Transaction.objects.filter(pk__in=[tx.pk for tx in queued]).order_by("pk"))
    assert all(tx.state == TransactionState.SUCCEEDED for tx in done), [
        tx.last_error for tx in done
    ]
    return done


def erp_records(erp, kind: str) -> list[dict]:
    return erp.get(f"{RECORDS}/{kind}").json()["items"]


def test_a_fixed_fee_contracts_time_bills_nothing_but_its_cost_reaches_the_erp(erp):
    cost_rate("112.50")
    signed("K-7301", "fixed_fee")

    worked("T-7301", "K-7301", "2026-11-03", "8")  # 8 h x 112.50 = 900.00
    worked("T-7302", "K-7301", "2026-11-04", "6")  # 6 h x 112.50 = 675.00

    assert not InvoiceLine.objects.exists() and not Invoice.objects.exists()
    assert list(TimeEntry.objects.order_by("number").values_list("cost", flat=True)) == [
        Decimal("900.00"),
        Decimal("675.00"),
    ]
    cost_run()

    [job] = erp_records(erp, "job")
    [journal] = erp_records(erp, "journalEntry")
    assert journal["externalId"] == "COST-P-K-7301-202611"
    assert (journal["tranDate"], journal["currency"], journal["subsidiary"]) == (
        "2026-11-30",
        {"refName": "USD"},
        {"id": "US01"},
    )
    assert journal["memo"] == "P-K-7301 cost November 2026: 14 h"
    assert journal["line"]["items"] == [
        {
            "account": {"refName": "Project cost"},
            "debit": "1575.00",
            "entity": {"id": job["id"]},
            "memo": "14 h at cost",
        },
        {"account": {"refName": "Accrued payroll"}, "credit": "1575.00"},
    ]
    [plan] = erp_records(erp, "revenuePlan")
    assert (plan["externalId"], plan["job"], plan["amount"]) == (
        "REV-K-7301",
        {"id": job["id"]},
        "65000.50",
    )
    assert plan["plannedRevenue"]["items"] == [
        {
            "plannedPeriod": "2026-12",
            "amount": "20000.00",
            "recognitionMethod": "milestone",
            "isRecognized": False,
        },
        {
            "plannedPeriod": "2027-05",
            "amount": "45000.50",
            "recognitionMethod": "milestone",
            "isRecognized": False,
        },
    ]


def test_a_second_cost_run_changes_nothing_in_the_erp(erp):
    cost_rate("112.50")
    signed("K-7302", "fixed_fee")
    worked("T-7311", "K-7302", "2026-11-03", "8")
    cost_run()
    journals, plans = erp_records(erp, "journalEntry"), erp_records(erp, "revenuePlan")
    assert journals[0]["lastModifiedDate"] and plans[0]["lastModifiedDate"]

    assert finance_queue(today=END_OF_NOVEMBER) == []  # nothing to send

    assert (erp_records(erp, "journalEntry"), erp_records(erp, "revenuePlan")) == (
        journals,
        plans,
    )


def test_more_time_and_a_milestone_reached_are_pushed_again(erp):
    cost_rate("112.50")
    signed("K-7303", "fixed_fee")
    worked("T-7321", "K-7303", "2026-11-03", "8")
    cost_run()

    worked("T-7322", "K-7303", "2026-11-05", "4")  # 12 h: 1350.00
    [milestone] = events_run(
        event(
            "milestone.reached", {"contract": "K-7303", "code": "M1", "reached_on": "2026-11-20"}
        ),
        system="clm",
    )
    assert milestone.state == TransactionState.SUCCEEDED, milestone.last_error
    # The milestone's flow queued the revenue plan's push itself.
    push = Transaction.objects.get(
        event_type="revenue_schedule.push", idempotency_key="revenue_schedule:K-7303:v2"
    )
    transactions_process(ids=[push.pk])
    cost_run()

    [journal] = erp_records(erp, "journalEntry")
    assert [line.get("debit") for line in journal["line"]["items"]] == ["1350.00", None]
    [plan] = erp_records(erp, "revenuePlan")
    assert [
        (item["plannedPeriod"], item["amount"], item["isRecognized"])
        for item in plan["plannedRevenue"]["items"]
    ] == [("2026-11", "20000.00", True), ("2027-05", "45000.50", False)]


def test_time_of_a_person_without_a_cost_rate_is_billed_and_costed_when_the_rate_arrives(
    erp,
):
    cost_rate(None)
    signed("K-7304", "time_and_materials")

    worked("T-7331", "K-7304", "2026-11-03", "8")

    assert Invoice.objects.get().amount == Decimal("2400.00")  # 8 h x 300, billed as usual
    cost_run()
    [warning] = ExceptionRecord.objects.filter(exception_type="missing_cost_rate")
    assert (warning.status, warning.business_key, warning.money_at_risk, warning.currency) == (
        "open",
        "E-0002",
        Decimal("2400.00"),
        "USD",
    )
    assert warning.message == (
        "E-0002 has no cost rate in the HRIS: 8.00 approved hours carry no cost in the ERP "
        "or the margin."
    )
    assert erp_records(erp, "journalEntry") == []  # nothing costed yet

    cost_rate("150.00")
    cost_run()

    [journal] = erp_records(erp, "journalEntry")
    assert journal["line"]["items"][0]["debit"] == "1200.00"
    warning.refresh_from_db()
    assert warning.status == "resolved"


def test_the_projects_margin_is_shown_on_its_page_and_in_the_api(
    erp, user_with_role, api_client_for, client
):
    cost_rate("112.50")
    signed("K-7305", "fixed_fee")
    worked("T-7341", "K-7305", "2026-11-03", "8")  # costs 900.00
    [milestone] = events_run(
        event(
            "milestone.reached", {"contract": "K-7305", "code": "M1", "reached_on": "2026-11-20"}
        ),
        system="clm",
    )
    assert milestone.state == TransactionState.SUCCEEDED, milestone.last_error
    project = TimeEntry.objects.get(number="T-7341").project

    answer = api_client_for(user_with_role("approver")).get(
        f"/api/v1/projects/{project.pk}/margin/"
    )

    assert answer.status_code == 200, answer.content
    margin = answer.json()
    assert (margin["currency"], margin["revenue"], margin["cost"], margin["margin"]) == (
        "USD",
        "20000.00",
        "900.00",
        "19100.00",
    )
    assert margin["margin_percent"] == "95.5"
    assert margin["months"][0] == {
        "period_start": "2026-11-01",
        "revenue": "20000.00",
        "planned_revenue": "0.00",
        "cost": "900.00",
        "margin": "19100.00",
        "hours": "8.00",
        "uncosted_hours": "0.00",
    }
    refused = api_client_for(user_with_role("operator")).get(
        f"/api/v1/projects/{project.pk}/margin/"
    )
    assert refused.status_code == 403

    client.force_login(user_with_role("approver"))
    page = client.get(f"/records/project/{project.pk}/").content.decode()
    assert 'id="margin-heading"' in page
    assert "19100.00" in page


def test_an_invoice_posted_makes_its_time_revenue_recognised_in_the_erp(
    erp, user_with_role, api_client_for
):
    cost_rate("100.00")
    signed("K-7306", "time_and_materials")
    worked("T-7351", "K-7306", "2026-11-03", "8")  # 8 h x 300 = 2400.00
    cost_run()

    def billed_time() -> list[tuple[str, str, bool]]:
        [plan] = erp_records(erp, "revenuePlan")
        return [
            (item["plannedPeriod"], item["amount"], item["isRecognized"])
            for item in plan["plannedRevenue"]["items"]
            if item["recognitionMethod"] == "as_billed"
        ]

    assert billed_time() == [("2026-11", "2400.00", False)]

    invoice = Invoice.objects.get()
    approver = api_client_for(user_with_role("approver"))
    assert approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {}).status_code == 200
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    # Posting the invoice queued the revenue plan's push itself.
    [push] = Transaction.objects.filter(
        event_type="revenue_schedule.push", state=TransactionState.RECEIVED
    )
    transactions_process(ids=[push.pk])

    assert billed_time() == [("2026-11", "2400.00", True)]
