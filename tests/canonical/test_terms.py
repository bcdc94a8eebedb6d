"""An invoice's bill-to account, tax code and payment terms, and the codes a legal entity's
ERP accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.choices import AcceptedCodeKind, RuleCode
from canonical.errors import RuleViolation
from canonical.models import AcceptedCode
from canonical.services.parties import customer_upsert
from canonical.services.terms import accepted_codes_replace, invoice_billing_terms
from integrations.adapters import EventRejected
from integrations.adapters.canonical import CanonicalAdapter
from tests.factories.canonical import (
    ContractFactory,
    CustomerFactory,
    InvoiceFactory,
    LegalEntityFactory,
    ProjectFactory,
)

pytestmark = pytest.mark.django_db


def invoice_for(customer, **contract_terms):
    contract = ContractFactory(customer=customer, **contract_terms)
    return InvoiceFactory(project=ProjectFactory(contract=contract), amount=Decimal("1200.00"))


def test_the_contracts_tax_code_overrides_the_customers_and_its_terms_fall_back():
    customer = CustomerFactory(tax_code="US-EXEMPT", payment_terms="NET30")
    terms = invoice_billing_terms(invoice=invoice_for(customer, tax_code="US-NY"))
    assert (terms.bill_to, terms.tax_code, terms.payment_terms) == (customer, "US-NY", "NET30")


def test_a_customer_with_a_parent_is_billed_with_the_parents_codes():
    parent = CustomerFactory(tax_code="GB-S20", payment_terms="NET60")
    child = CustomerFactory(legal_entity=parent.legal_entity, tax_code="", payment_terms="")
    child.parent = parent
    child.save()
    terms = invoice_billing_terms(invoice=invoice_for(child))
    assert (terms.bill_to, terms.tax_code, terms.payment_terms) == (parent, "GB-S20", "NET60")


def test_missing_payment_terms_hold_the_invoice_amount():
    invoice = invoice_for(CustomerFactory(payment_terms=""))
    with pytest.raises(RuleViolation) as refused:
        invoice_billing_terms(invoice=invoice)
    assert refused.value.code == RuleCode.INVOICE_PAYMENT_TERMS_MISSING
    assert refused.value.money_at_risk == Decimal("1200.00")
    assert refused.value.waiting_on == f"invoice_terms:{invoice.number.upper()}"


def test_a_legal_entity_with_a_list_accepts_only_its_active_codes():
    customer = CustomerFactory(tax_code="TX-STD", payment_terms="NET30")
    entity = customer.legal_entity
    invoice = invoice_for(customer)
    assert invoice_billing_terms(invoice=invoice).tax_code == "TX-STD"  # no list: the ERP judges
    accepted_codes_replace(
        legal_entity=entity,
        kind=AcceptedCodeKind.TAX_CODE,
        codes={"TX-STD": "Standard", "TX-ZERO": "Zero"},
        source_system="erp",
    )
    assert invoice_billing_terms(invoice=invoice).tax_code == "TX-STD"
    result = accepted_codes_replace(
        legal_entity=entity,
        kind=AcceptedCodeKind.TAX_CODE,
        codes={"TX-ZERO": "Zero"},
        source_system="erp",
    )
    assert (result.added, result.changed, result.deactivated) == (0, 0, 1)
    assert not AcceptedCode.objects.get(legal_entity=entity, code="TX-STD").active
    with pytest.raises(RuleViolation) as refused:
        invoice_billing_terms(invoice=invoice)
    assert refused.value.code == RuleCode.CODE_NOT_ACCEPTED_BY_ERP
    assert refused.value.details["code"] == "TX-STD"


def test_a_customer_cannot_be_the_parent_of_its_own_parent():
    entity = LegalEntityFactory()
    for number, parent in (("C-A", None), ("C-B", "C-A")):
        customer_upsert(
            number=number,
            name=number,
            legal_entity_code=entity.code,
            currency=entity.currency,
            parent_number=parent,
            version=1,
            source_system="crm",
        )
    with pytest.raises(RuleViolation) as refused:
        customer_upsert(
            number="C-A",
            name="C-A",
            legal_entity_code=entity.code,
            currency=entity.currency,
            parent_number="C-B",
            version=2,
            source_system="crm",
        )
    assert refused.value.code == RuleCode.CUSTOMER_PARENT_CYCLE


def test_an_update_that_does_not_carry_the_codes_keeps_them():
    entity = LegalEntityFactory()
    common = {"name": "Acme", "legal_entity_code": entity.code, "currency": entity.currency}
    customer_upsert(
        number="C-K",
        tax_code="TX-STD",
        payment_terms="NET30",
        version=1,
        source_system="crm",
        **common,
    )
    result = customer_upsert(number="C-K", version=2, source_system="crm", **common)
    assert (result.record.tax_code, result.record.payment_terms) == ("TX-STD", "NET30")


def envelope(event_type, data):
    return {
        "type": event_type,
        "id": "evt-1",
        "occurred_at": "2026-11-02T09:30:00Z",
        "version": 1,
        "data": data,
    }


def test_the_schemas_take_the_codes_and_the_parent_and_refuse_them_malformed():
    adapter = CanonicalAdapter()
    customer = {"number": "C-1", "name": "A", "legal_entity": "US01", "currency": "USD"}
    adapter.validate_normalized(
        envelope(
            "customer.upserted",
            {**customer, "tax_code": "US-EXEMPT", "payment_terms": "NET30", "parent": "C-2"},
        )
    )
    adapter.validate_normalized(envelope("customer.upserted", {**customer, "parent": None}))
    with pytest.raises(EventRejected) as refused:
        adapter.validate_normalized(
            envelope("customer.upserted", {**customer, "tax_code": 7, "parent": "C" * 41})
        )
    assert set(refused.value.errors) == {"data.tax_code", "data.parent"}
    contract = {
        "number": "K-1",
        "customer": "C-1",
        "legal_entity": "US01",
        "currency": "USD",
        "billing_model": "time_and_materials",
        "start_date": "2026-11-02",
        "project": {"code": "P-K-1", "name": "Delivery"},
    }
    adapter.validate_normalized(
        envelope("contract.signed", {**contract, "tax_code": "US-NY", "payment_terms": "NET60"})
    )
    with pytest.raises(EventRejected) as refused:
        adapter.validate_normalized(
            envelope(
                "contract.amended",
                {**contract, "effective_date": "2026-12-01", "payment_terms": ["NET60"]},
            )
        )
    assert set(refused.value.errors) == {"data.payment_terms"}
