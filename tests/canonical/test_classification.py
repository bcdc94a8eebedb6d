"""The classification of sensitive canonical fields, and the one mask that hides them."""

from __future__ import annotations

from canonical.classification import (
    MASKED,
    DataClass,
    data_class,
    data_classes,
    mask,
    mask_value,
)
from canonical.models import ContractVersion, Customer, InvoiceLine, Resource

NOTHING: frozenset[DataClass] = frozenset()


def test_a_model_names_its_sensitive_fields_beside_them():
    assert data_class(Resource, "email") == DataClass.PERSONAL
    assert data_class(Resource, "cost_rate") == DataClass.PRICING
    assert data_class(Resource, "role") is None
    assert data_class(ContractVersion, "terms.rates") == DataClass.PRICING
    assert data_class(ContractVersion, "terms.currency") is None
    assert data_classes("canonical.InvoiceLine") is data_classes(InvoiceLine)
    assert data_classes(Customer) == {}  # a customer is a company, not a person


def test_the_mask_hides_only_what_the_reader_may_not_see():
    person = {"employee_number": "E-1", "name": "Ada", "email": "a@x", "cost_rate": "80.00"}

    assert mask(person, model=Resource, visible=NOTHING) == {
        "employee_number": "E-1",
        "name": MASKED,
        "email": MASKED,
        "cost_rate": MASKED,
    }
    assert mask(person, model=Resource, visible={DataClass.PERSONAL}, placeholder=None) == {
        **person,
        "cost_rate": None,
    }
    assert mask(person, model=Resource, visible=set(DataClass)) == person


def test_an_empty_value_stays_empty_and_a_missing_one_missing():
    assert mask({"email": "", "cost_rate": None}, model=Resource, visible=NOTHING) == {
        "email": "",
        "cost_rate": None,
    }
    assert mask({"role": "Architect"}, model=Resource, visible=NOTHING) == {"role": "Architect"}


def test_inside_a_json_field_keys_stay_and_values_go():
    terms = {
        "currency": "USD",
        "rates": {"Architect": "210.00", "Developer": "150.00"},
        "cap_amount": "50000.00",
        "milestones": [{"code": "M1", "amount": "7000.00"}, {"code": "M2", "amount": None}],
    }

    hidden = mask({"terms": terms}, model=ContractVersion, visible=NOTHING)["terms"]

    assert hidden == {
        "currency": "USD",
        "rates": {"Architect": MASKED, "Developer": MASKED},
        "cap_amount": MASKED,
        "milestones": [{"code": "M1", "amount": MASKED}, {"code": "M2", "amount": None}],
    }
    assert terms["rates"]["Architect"] == "210.00"  # the record itself is untouched


def test_one_value_is_masked_by_its_class():
    assert mask_value("8,925.00 USD", data_class=DataClass.PRICING, visible=NOTHING) == MASKED
    assert (
        mask_value("8,925.00 USD", data_class=DataClass.PRICING, visible={DataClass.PRICING})
        == "8,925.00 USD"
    )
