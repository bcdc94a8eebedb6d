"""The billing models through the flows, to the simulated ERP over real HTTP and back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.models import Invoice, TimeEntry
from controltower.operations.models import BusinessException
from integrations.choices import TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run

pytestmark = pytest.mark.django_db(transaction=True)


def signed(number: str, billing_model: str, **terms) -> dict:
    """Contract ``number`` (US rate card: Manager 300/h) under ``billing_model``, Grace
    Hopper (E-0002) assigned to its project as Manager."""
    contract = contract_event(number)
    contract["data"].update(billing_model=billing_model, **terms)
    return contract


def staffed(number: str) -> None:
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


def time_entry(number: str, contract: str, work_date: str, hours: int = 8) -> dict:
    return event(
        "time_entry.approved",
        {
            "number": number,
            "project": f"P-{contract}",
            "resource": "E-0002",
            "work_date": work_date,
            "hours": hours,
            "billable": True,
        },
    )


def posted(erp, invoice: Invoice, approver) -> dict:
    """Approves ``invoice``, posts it to the ERP and answers the ERP's copy."""
    response = approver.post(f"/api/v1/invoices/{invoice.pk}/approve/", {})
    assert response.status_code == 200, response.content
    transactions_process(ids=[Transaction.objects.get(event_type="invoice.approved").pk])
    invoice.refresh_from_db()
    assert invoice.status == "posted"
    [copy] = erp.get("/services/rest/record/v1/invoice").json()["items"]
    return copy


def reconciled(operator) -> list[str]:
    response = operator.post("/api/v1/reconciliation/runs/", {"reason": "month end"})
    transactions_process(ids=[response.json()["id"]])
    return list(
        BusinessException.objects.filter(exception_type="reconciliation_drift").values_list(
            "message", flat=True
        )
    )


def test_a_fixed_fee_contract_bills_its_milestone_not_its_time_and_the_erp_takes_it(
    erp, user_with_role, api_client_for
):
    [contract] = events_run(signed("K-7101", "fixed_fee"), system="clm")
    assert contract.state == TransactionState.SUCCEEDED, contract.last_error
    staffed("K-7101")

    [time] = events_run(time_entry("T-7101", "K-7101", "2026-11-03"), system="psa")

    assert (time.state, time.outcome) == (TransactionState.SUCCEEDED, "applied")
    assert TimeEntry.objects.get(number="T-7101").invoice is None
    assert not Invoice.objects.exists()

    [milestone] = events_run(
        event(
            "milestone.reached", {"contract": "K-7101", "code": "M1", "reached_on": "2026-11-20"}
        ),
        system="clm",
    )
    assert milestone.state == TransactionState.SUCCEEDED, milestone.last_error
    invoice = Invoice.objects.get(number="INV-P-K-7101-202611")
    assert invoice.amount == Decimal("20000.00")

    contracts = api_client_for(user_with_role("approver")).get("/api/v1/contracts/").json()
    [shown] = contracts["results"]
    assert (shown["cap_amount"], shown["billed_amount"], shown["cap_remaining"]) == (
        "250000.00",
        "20000.00",
        "230000.00",
    )
    copy = posted(erp, invoice, api_client_for(user_with_role("approver")))
    assert Decimal(str(copy["total"])) == Decimal("20000")
    assert [item["description"] for item in copy["item"]["items"]] == [
        "Milestone M1: Discovery signed off"
    ]
    assert reconciled(api_client_for(user_with_role("operator"))) == []


def test_a_retainer_bills_its_fee_on_signing_and_its_overage_and_the_erp_agrees(
    erp, user_with_role, api_client_for
):
    [contract] = events_run(
        signed("K-7201", "retainer", monthly_fee="6000.00", included_hours=40), system="clm"
    )
    assert contract.state == TransactionState.SUCCEEDED, contract.last_error
    invoice = Invoice.objects.get(number="INV-P-K-7201-202611")
    assert invoice.amount == Decimal("6000.00")  # November, in advance
    staffed("K-7201")

    days = ("2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-09")
    txs = events_run(
        *(time_entry(f"T-72{n}", "K-7201", day) for n, day in enumerate(days)), system="psa"
    )

    assert {tx.state for tx in txs} == {TransactionState.SUCCEEDED}
    invoice.refresh_from_db()
    assert invoice.amount == Decimal("8400.00")  # 40 h drawn; 8 h x 300 past them
    copy = posted(erp, invoice, api_client_for(user_with_role("approver")))
    assert Decimal(str(copy["total"])) == Decimal("8400")
    assert [(i["quantity"], i["amount"]) for i in copy["item"]["items"]] == [
        ("1.00", "6000.00"),
        ("8.00", "2400.00"),
    ]
    assert reconciled(api_client_for(user_with_role("operator"))) == []


def test_a_retainer_signed_without_its_fee_waits_named_until_the_clm_sends_it(erp):
    [parked] = events_run(signed("K-7301", "retainer"), system="clm")

    assert parked.state == TransactionState.BLOCKED
    exc = parked.exception
    assert exc.exception_type == "billing_terms_missing"
    assert exc.waiting_on == "contract_billing_terms:K-7301"
    assert exc.message == (
        "Contract K-7301 is retainer but names no monthly fee and no included hours."
    )

    complete = signed("K-7301", "retainer", monthly_fee="6000.00", included_hours=40)
    [fixed] = events_run(complete | {"version": 2}, system="clm")

    assert fixed.state == TransactionState.SUCCEEDED, fixed.last_error
    assert BusinessException.objects.get(pk=exc.pk).status == "resolved"
    assert Invoice.objects.get(number="INV-P-K-7301-202611").amount == Decimal("6000.00")


def test_managed_services_bill_their_fee_and_no_time(erp):
    [contract] = events_run(
        signed("K-7401", "managed_services", monthly_fee="2500.00"), system="clm"
    )
    assert contract.state == TransactionState.SUCCEEDED, contract.last_error
    staffed("K-7401")

    events_run(time_entry("T-7401", "K-7401", "2026-11-03"), system="psa")

    invoice = Invoice.objects.get(number="INV-P-K-7401-202611")
    assert (invoice.amount, invoice.lines.count()) == (Decimal("2500.00"), 1)


def test_the_monthly_run_bills_each_fee_once_and_a_hold_parks_only_its_own(erp):
    from datetime import date

    from canonical.models import Customer
    from integrations.services.billing import monthly_fees_queue

    events_run(signed("K-7501", "managed_services", monthly_fee="2500.00"), system="clm")
    Customer.objects.filter(number="C-1004").update(billing_hold=True)
    contract = signed("K-7502", "retainer", monthly_fee="6000.00", included_hours=40)
    contract["data"]["customer"] = "C-1004"
    [held_on_signing] = events_run(contract, system="clm")
    assert held_on_signing.exception.exception_type == "billing_hold"

    runs = monthly_fees_queue(day=date(2026, 12, 1))
    transactions_process(ids=[run.pk for run in runs])

    fee, held = Transaction.objects.filter(pk__in=[run.pk for run in runs]).order_by("pk")
    assert (fee.business_key, fee.state) == ("K-7501 2026-12", TransactionState.SUCCEEDED)
    assert Invoice.objects.get(number="INV-P-K-7501-202612").amount == Decimal("2500.00")
    assert held.state == TransactionState.BLOCKED
    assert (held.exception.exception_type, held.exception.money_at_risk) == (
        "billing_hold",
        Decimal("6000.00"),
    )
    assert monthly_fees_queue(day=date(2026, 12, 1)) == []  # queued once a month


def test_a_rejected_retainer_or_fixed_fee_candidate_is_rebuilt_as_its_contract_bills(
    erp, user_with_role
):
    from controltower.operations.services.approvals import invoice_reject
    from controltower.operations.services.exceptions import exception_resolve

    events_run(signed("K-7601", "retainer", monthly_fee="6000.00", included_hours=4), system="clm")
    events_run(signed("K-7602", "fixed_fee"), system="clm")
    staffed("K-7601")
    staffed("K-7602")
    events_run(
        time_entry("T-7601", "K-7601", "2026-11-03"),  # 4 h drawn, 4 h x 300 past them
        time_entry("T-7602", "K-7602", "2026-11-03"),  # fixed fee: not billed
        system="psa",
    )
    events_run(
        event(
            "milestone.reached", {"contract": "K-7602", "code": "M1", "reached_on": "2026-11-20"}
        ),
        system="clm",
    )
    approver, operator = user_with_role("approver"), user_with_role("operator")
    for number, amount in (("INV-P-K-7601-202611", "7200.00"), ("INV-P-K-7602-202611", "20000.00")):
        invoice = Invoice.objects.get(number=number)
        assert invoice.amount == Decimal(amount)
        invoice_reject(invoice_id=invoice.pk, actor=approver, reason="Wrong PO number")

    for rebuild in Transaction.objects.filter(event_type="invoice.rebuild"):
        exception_resolve(
            exception_id=rebuild.exception_id, actor=operator, resolution="PO corrected."
        )
        transactions_process(ids=[rebuild.pk])

    retainer = Invoice.objects.get(number="INV-P-K-7601-202611-2")
    assert (retainer.amount, retainer.lines.count()) == (Decimal("7200.00"), 2)
    fixed = Invoice.objects.get(number="INV-P-K-7602-202611-2")
    assert [(line.description, line.amount) for line in fixed.lines.all()] == [
        ("Milestone M1: Discovery signed off", Decimal("20000.00"))
    ]
