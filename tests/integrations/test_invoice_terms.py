"""Tax codes, payment terms and bill-to accounts on invoices, against the simulated ERP over
real HTTP: an invoice without them (or with one its ERP does not accept) waits before the
ERP, named, and goes by itself once they are fixed."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command

from canonical.choices import AcceptedCodeKind, InvoiceStatus
from canonical.models import AcceptedCode, Customer, Invoice
from controltower.operations.demo import demo_load
from controltower.operations.services.approvals import invoice_approve
from integrations.choices import ExceptionStatus, TransactionState
from integrations.models import Transaction
from integrations.services.accepted_codes import accepted_codes_sync
from integrations.services.exceptions import exceptions_recheck
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run
from tests.support.simulator import demo_systems_simulated, simulator_client

pytestmark = pytest.mark.django_db(transaction=True)

RECORDS = "/services/rest/record/v1"


@pytest.fixture
def erp(live_server):
    """The demo against the simulated ERP, which accepts for US01 the payment terms NET30 and
    NET60 and the tax code US-EXEMPT (and checks invoices against them itself)."""
    demo_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
        for record, body in (
            ("term", {"externalId": "NET30", "name": "Net 30", "daysUntilNetDue": 30}),
            ("term", {"externalId": "NET60", "name": "Net 60", "daysUntilNetDue": 60}),
            ("salesTaxItem", {"externalId": "US-EXEMPT", "itemId": "US-EXEMPT", "rate": "0%"}),
        ):
            response = http.post(f"{RECORDS}/{record}", json={**body, "subsidiary": {"id": "US01"}})
            assert response.status_code == 204, response.text
        yield http


def customer(number, version=1, **fields):
    return event(
        "customer.upserted",
        {
            "number": number,
            "name": f"Customer {number}",
            "legal_entity": "US01",
            "currency": "USD",
            **fields,
        },
        version=version,
    )


def time_entry(number, project, hours=8):
    return event(
        "time_entry.approved",
        {
            "number": number,
            "project": project,
            "resource": "E-0002",
            "work_date": "2026-11-03",
            "hours": hours,
            "billable": True,
        },
    )


def billed(contract, *, customer_number, approver, **terms):
    """Contract ``contract`` signed for the customer, 8 h of Grace Hopper (Manager, 300/h)
    approved on it, and its November candidate approved: its posting, processed once."""
    signed = contract_event(contract, customer=customer_number)
    signed["data"].update(terms)
    [tx] = events_run(signed, system="clm")
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    project = f"P-{contract}"
    [staffing] = events_run(
        event(
            "assignment.upserted",
            {
                "number": f"A-{contract}",
                "project": project,
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 50,
            },
        ),
        system="psa",
    )
    assert staffing.state == TransactionState.SUCCEEDED, staffing.last_error
    [entry] = events_run(time_entry(f"T-{contract}", project), system="psa")
    assert entry.state == TransactionState.SUCCEEDED, entry.last_error
    invoice = Invoice.objects.get(number=f"INV-{project}-202611")
    posting = invoice_approve(invoice_id=invoice.pk, actor=approver)
    transactions_process(ids=[posting.pk])
    posting.refresh_from_db()
    return posting


def erp_records(http, record):
    return http.get(f"{RECORDS}/{record}").json()["items"]


def erp_id_of(http, record, external_id):
    [found] = [r for r in erp_records(http, record) if r.get("externalId") == external_id]
    return str(found["id"])


def test_an_invoice_held_for_a_missing_tax_code_is_released_when_it_is_added(erp, user_with_role):
    [crm] = events_run(customer("C-2001", payment_terms="NET30"), system="crm")
    assert crm.state == TransactionState.SUCCEEDED, crm.last_error

    posting = billed("K-7001", customer_number="C-2001", approver=user_with_role("approver"))

    assert posting.state == TransactionState.BLOCKED
    held = posting.exception
    assert held.exception_type == "invoice_tax_code_missing"
    assert held.message == (
        "Invoice INV-P-K-7001-202611 has no tax code: neither its contract nor its "
        "bill-to account C-2001 names one."
    )
    assert held.waiting_on == "invoice_terms:INV-P-K-7001-202611"
    assert (held.money_at_risk, held.currency) == (Decimal("2400.00"), "USD")
    assert erp_records(erp, "invoice") == []  # nothing reached the ERP

    # The CRM gives the customer its tax code: the invoice goes by itself.
    [update] = events_run(
        customer("C-2001", version=2, payment_terms="NET30", tax_code="US-EXEMPT"), system="crm"
    )
    assert update.state == TransactionState.SUCCEEDED, update.last_error
    held.refresh_from_db()
    assert held.status == ExceptionStatus.RESOLVED
    posting.refresh_from_db()
    assert posting.state != TransactionState.BLOCKED
    transactions_process(ids=[posting.pk])
    assert Invoice.objects.get(number="INV-P-K-7001-202611").status == InvoiceStatus.POSTED
    [posted] = erp_records(erp, "invoice")
    assert posted["terms"]["externalId"] == "NET30"
    assert [line["taxCode"]["externalId"] for line in posted["item"]["items"]] == ["US-EXEMPT"]
    assert posted["entity"]["id"] == erp_id_of(erp, "customer", "C-2001")


def test_the_contracts_payment_terms_override_the_customers(erp, user_with_role):
    # C-1001 (the demo's Acme) bills on NET30 with US-EXEMPT; this contract on NET60.
    posting = billed(
        "K-7002",
        customer_number="C-1001",
        approver=user_with_role("approver"),
        payment_terms="NET60",
    )
    assert posting.state == TransactionState.SUCCEEDED, posting.last_error
    [posted] = erp_records(erp, "invoice")
    assert posted["terms"]["externalId"] == "NET60"
    assert posted["item"]["items"][0]["taxCode"]["externalId"] == "US-EXEMPT"


def test_an_invoice_is_addressed_to_the_customers_parent_in_the_erp(erp, user_with_role):
    [child] = events_run(customer("C-2002", parent="C-1001"), system="crm")
    assert child.state == TransactionState.SUCCEEDED, child.last_error
    assert Customer.objects.get(number="C-2002").parent.number == "C-1001"

    # The child has no codes of its own: the bill-to account's are the invoice's.
    posting = billed("K-7003", customer_number="C-2002", approver=user_with_role("approver"))

    assert posting.state == TransactionState.SUCCEEDED, posting.last_error
    acme = erp_id_of(erp, "customer", "C-1001")
    [posted] = erp_records(erp, "invoice")
    assert posted["entity"]["id"] == acme
    assert posted["terms"]["externalId"] == "NET30"
    [erp_child] = [c for c in erp_records(erp, "customer") if c["externalId"] == "C-2002"]
    assert erp_child["parent"]["id"] == acme


def test_a_code_the_erp_does_not_accept_parks_the_invoice_until_the_erp_list_has_it(
    erp, user_with_role
):
    events_run(customer("C-2003", tax_code="US-NY", payment_terms="NET30"), system="crm")
    assert accepted_codes_sync(legal_entity_codes=["US01"]).failed == {}
    assert set(
        AcceptedCode.objects.filter(legal_entity__code="US01", active=True).values_list(
            "kind", "code"
        )
    ) == {
        (AcceptedCodeKind.PAYMENT_TERMS, "NET30"),
        (AcceptedCodeKind.PAYMENT_TERMS, "NET60"),
        (AcceptedCodeKind.TAX_CODE, "US-EXEMPT"),
    }

    posting = billed("K-7004", customer_number="C-2003", approver=user_with_role("approver"))

    assert posting.state == TransactionState.BLOCKED
    held = posting.exception
    assert held.exception_type == "code_not_accepted_by_erp"
    assert held.message == (
        "Invoice INV-P-K-7004-202611's tax code US-NY is not one the ERP of US01 accepts."
    )
    assert held.money_at_risk == Decimal("2400.00")
    assert erp_records(erp, "invoice") == []

    # The ERP is given the tax code; the nightly sync brings it and the invoice goes.
    erp.post(
        f"{RECORDS}/salesTaxItem",
        json={"externalId": "US-NY", "itemId": "US-NY", "subsidiary": {"id": "US01"}},
    )
    synced = accepted_codes_sync(legal_entity_codes=["US01"])
    assert synced.changed["US01:tax_code"].added == 1
    assert synced.released == 1
    held.refresh_from_db()
    assert held.status == ExceptionStatus.RESOLVED
    transactions_process(ids=[posting.pk])
    assert Transaction.objects.get(pk=posting.pk).state == TransactionState.SUCCEEDED
    [posted] = erp_records(erp, "invoice")
    assert posted["item"]["items"][0]["taxCode"]["externalId"] == "US-NY"


def test_the_sync_makes_a_code_the_erp_dropped_inactive(erp):
    AcceptedCode.objects.filter(legal_entity__code="US01").delete()
    accepted_codes_sync(legal_entity_codes=["US01"])
    net60 = erp_id_of(erp, "term", "NET60")
    erp.patch(f"{RECORDS}/term/{net60}", json={"isInactive": True})

    synced = accepted_codes_sync(legal_entity_codes=["US01"])

    assert synced.changed["US01:payment_terms"].deactivated == 1
    assert list(
        AcceptedCode.objects.filter(
            legal_entity__code="US01", kind=AcceptedCodeKind.PAYMENT_TERMS, active=True
        ).values_list("code", "name")
    ) == [("NET30", "Net 30")]


def test_the_erp_refuses_an_invoice_with_terms_its_subsidiary_does_not_have(erp):
    refused = erp.post(
        f"{RECORDS}/invoice",
        json={
            "externalId": "INV-X",
            "subsidiary": {"id": "US01"},
            "terms": {"externalId": "NET90"},
            "item": {"items": [{"amount": "10.00", "taxCode": {"externalId": "US-EXEMPT"}}]},
        },
    )
    assert refused.status_code == 400
    [detail] = refused.json()["o:errorDetails"]
    assert detail["o:errorCode"] == "INVALID_KEY_OR_REF"
    assert detail["o:errorPath"] == "terms"
    assert detail["detail"] == "Invalid terms reference key NET90 for subsidiary US01."
    bad_tax = erp.post(
        f"{RECORDS}/invoice",
        json={
            "externalId": "INV-Y",
            "subsidiary": {"id": "US01"},
            "terms": {"externalId": "NET30"},
            "item": {"items": [{"amount": "10.00", "taxCode": {"externalId": "GB-S20"}}]},
        },
    )
    assert bad_tax.status_code == 400
    assert bad_tax.json()["o:errorDetails"][0]["o:errorPath"] == "item.items[0].taxCode"


def test_a_parent_not_yet_known_waits_for_it(erp):
    [child] = events_run(customer("C-2005", parent="C-2004"), system="crm")
    assert child.state == TransactionState.BLOCKED
    assert child.exception.exception_type == "unknown_customer"
    assert child.exception.waiting_on == "customer:C-2004"
    events_run(customer("C-2004"), system="crm")
    transactions_process(ids=[child.pk])
    assert Customer.objects.get(number="C-2005").parent.number == "C-2004"


def test_a_parent_that_would_make_a_cycle_is_refused(erp):
    events_run(customer("C-2006"), customer("C-2007", parent="C-2006"), system="crm")
    events_run(customer("C-2008", parent="C-2007"), system="crm")

    [cycle] = events_run(customer("C-2006", version=2, parent="C-2008"), system="crm")

    assert cycle.exception.exception_type == "customer_parent_cycle"
    assert cycle.exception.message == (
        "Customer C-2008 cannot be the bill-to account of C-2006: C-2006 is already "
        "C-2008's bill-to account, or above it."
    )
    assert Customer.objects.get(number="C-2006").parent is None
    [itself] = events_run(customer("C-2009", parent="C-2009"), system="crm")
    assert itself.exception.exception_type == "customer_parent_cycle"
    assert itself.exception.message == "Customer C-2009 cannot be its own bill-to account."


def test_a_code_fixed_in_the_admin_releases_the_invoice_at_the_recheck(erp, user_with_role):
    events_run(customer("C-2010", tax_code="US-EXEMPT"), system="crm")
    posting = billed("K-7010", customer_number="C-2010", approver=user_with_role("approver"))
    assert posting.exception.exception_type == "invoice_payment_terms_missing"
    assert exceptions_recheck() == 0  # still missing: nothing re-runs in a loop

    Customer.objects.filter(number="C-2010").update(payment_terms="NET60")

    assert exceptions_recheck() == 1
    transactions_process(ids=[posting.pk])
    assert Invoice.objects.get(number="INV-P-K-7010-202611").status == InvoiceStatus.POSTED
    assert erp_records(erp, "invoice")[0]["terms"]["externalId"] == "NET60"


def test_customers_applied_together_take_their_codes_and_keep_them_when_not_sent(erp):
    events_run(
        customer("C-2011", tax_code="US-EXEMPT", payment_terms="NET30"),
        customer("C-2012", tax_code="US-EXEMPT", payment_terms="NET60"),
        system="crm",
    )
    events_run(customer("C-2011", version=2), customer("C-2012", version=2), system="crm")
    assert list(
        Customer.objects.filter(number__in=["C-2011", "C-2012"])
        .order_by("number")
        .values_list("number", "version", "tax_code", "payment_terms")
    ) == [("C-2011", 2, "US-EXEMPT", "NET30"), ("C-2012", 2, "US-EXEMPT", "NET60")]


def test_the_sync_command_reports_what_it_changed(erp):
    AcceptedCode.objects.filter(legal_entity__code="US01").delete()
    out = io.StringIO()
    call_command("accepted_codes_sync", "US01", stdout=out)
    assert out.getvalue().splitlines() == [
        "US01:payment_terms: 2 added, 0 changed, 0 made inactive.",
        "US01:tax_code: 1 added, 0 changed, 0 made inactive.",
        "0 parked invoice(s) sent to try again.",
    ]
