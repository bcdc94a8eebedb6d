"""The simulator's copy of the demo firm's master data matches what the tower loads."""

from __future__ import annotations

from controltower.operations import demo
from simulator import demo_firm


def test_the_simulators_demo_firm_is_the_demo_data_the_tower_loads():
    assert demo_firm.CUSTOMERS == demo.CUSTOMERS
    assert demo_firm.RATE_CARDS == demo.RATE_CARDS
    assert demo_firm.RESOURCES == demo.RESOURCES


def test_the_demo_customers_codes_are_ones_their_erp_accepts_in_the_simulator_and_the_tower():
    assert demo_firm.CUSTOMER_TERMS == demo.CUSTOMER_TERMS
    erp = {
        (str(fields["subsidiary"]["id"]), kind, str(fields["externalId"]))
        for kind, fields in demo_firm.erp_code_records()
    }
    kinds = {"payment_terms": "term", "tax_code": "salesTaxItem"}
    assert {(entity, kinds[kind], code) for entity, kind, code, _ in demo.ACCEPTED_CODES} == erp
    for number, _, entity, _ in demo.CUSTOMERS:
        tax_code, payment_terms = demo.CUSTOMER_TERMS[number]
        assert (entity, "salesTaxItem", tax_code) in erp
        assert (entity, "term", payment_terms) in erp
