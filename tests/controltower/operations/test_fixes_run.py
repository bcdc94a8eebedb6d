"""Fixes made from an exception's page run the parked work for real, against the simulated
ERP over real HTTP: finance adds a missing rate and the assignment reaches the ERP; finance
sets a missing tax code from the accepted list and the invoice posts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from canonical.choices import InvoiceStatus
from canonical.models import Customer, Invoice
from controltower.operations.models import AuditEvent
from integrations.choices import ExceptionStatus, TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.integrations.test_invoice_terms import RECORDS, billed, customer, erp_records
from tests.support.inbound import contract_event, event, events_run
from tests.support.simulator import demo_systems_simulated, simulator_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def erp(live_server):
    """The demo against the simulated ERP, which accepts for US01 the payment terms NET30
    and the tax code US-EXEMPT."""
    from controltower.operations.demo import demo_load

    demo_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
        for record, body in (
            ("term", {"externalId": "NET30", "name": "Net 30", "daysUntilNetDue": 30}),
            ("salesTaxItem", {"externalId": "US-EXEMPT", "itemId": "US-EXEMPT", "rate": "0%"}),
        ):
            response = http.post(f"{RECORDS}/{record}", json={**body, "subsidiary": {"id": "US01"}})
            assert response.status_code == 204, response.text
        yield http


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_finance_adds_the_missing_rate_and_the_assignment_reaches_the_erp(erp, user_with_role):
    [signed] = events_run(contract_event("K-6001"), system="clm")
    assert signed.state == TransactionState.SUCCEEDED, signed.last_error
    [tx] = events_run(
        event(
            "assignment.upserted",
            {
                "number": "A-2",
                "project": "P-K-6001",
                "resource": "E-0003",
                "role": "Architect",
                "start_date": "2026-11-02",
                "allocation_percent": 50,
            },
        ),
        system="psa",
    )
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    assert (exc.exception_type, exc.waiting_on) == (
        "missing_rate_card",
        "rate_card:RC-US-STD:ARCHITECT",
    )

    response = signed_in(user_with_role("approver")).post(
        f"/exceptions/{exc.pk}/fix_rate/", {"fix_rate-rate": "260.00"}
    )
    assert response.status_code == 302
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.RESOLVED
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    forecasts = erp.get(f"{RECORDS}/projectCostForecast").json()["items"]
    assert ("A-2", "Architect") in [(f["externalId"], f["role"]) for f in forecasts]


def test_finance_sets_the_missing_tax_code_from_the_accepted_list_and_the_invoice_posts(
    erp, user_with_role
):
    [crm] = events_run(customer("C-2001", payment_terms="NET30"), system="crm")
    assert crm.state == TransactionState.SUCCEEDED, crm.last_error
    posting = billed("K-7001", customer_number="C-2001", approver=user_with_role("approver"))
    assert posting.state == TransactionState.BLOCKED
    exc = posting.exception
    assert exc.exception_type == "invoice_tax_code_missing"

    finance = signed_in(user_with_role("approver"))
    page = finance.get(f"/exceptions/{exc.pk}/")
    assert "Fix it here: Set the tax code of invoice INV-P-K-7001-202611" in page.text
    assert "<code>US-EXEMPT</code>" in page.text

    # An operator is told it is finance's, and refused.
    operator = signed_in(user_with_role("operator"))
    assert (
        "Needs a finance role (approver or admin)." in operator.get(f"/exceptions/{exc.pk}/").text
    )
    refused = operator.post(
        f"/exceptions/{exc.pk}/fix_code/",
        {"fix_code-code": "US-EXEMPT", "fix_code-target": "customer"},
    )
    assert refused.status_code == 403

    # A code the ERP does not accept is refused, nothing changes.
    wrong = finance.post(
        f"/exceptions/{exc.pk}/fix_code/",
        {"fix_code-code": "US-STD", "fix_code-target": "customer"},
    )
    assert wrong.status_code == 400
    assert "The ERP of US01 does not accept the tax code US-STD." in wrong.text
    assert Customer.objects.get(number="C-2001").tax_code == ""

    done = finance.post(
        f"/exceptions/{exc.pk}/fix_code/",
        {"fix_code-code": "US-EXEMPT", "fix_code-target": "customer"},
    )
    assert done.status_code == 302
    assert Customer.objects.get(number="C-2001").tax_code == "US-EXEMPT"
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.RESOLVED
    assert AuditEvent.objects.get(action="exception.fix_billing_code").after == {
        "tax_code": "US-EXEMPT",
        "on": "customer C-2001",
        "rerun_transactions": [posting.pk],
    }
    transactions_process(ids=[posting.pk])
    assert Transaction.objects.get(pk=posting.pk).state == TransactionState.SUCCEEDED
    assert Invoice.objects.get(number="INV-P-K-7001-202611").status == InvoiceStatus.POSTED
    [posted] = erp_records(erp, "invoice")
    assert [line["taxCode"]["externalId"] for line in posted["item"]["items"]] == ["US-EXEMPT"]
    assert Invoice.objects.get(number="INV-P-K-7001-202611").amount == Decimal("2400.00")
