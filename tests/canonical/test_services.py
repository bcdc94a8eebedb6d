from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canonical import selectors
from canonical.errors import RuleViolation
from canonical.models import Customer, LegalEntity
from canonical.services import base
from canonical.services.parties import customer_upsert, legal_entity_upsert
from tests.factories.canonical import CustomerFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db


def upsert_entity(version: int, name: str = "Tower US Inc.", **overrides):
    values = {
        "code": "US01",
        "name": name,
        "country": "US",
        "currency": "USD",
        "version": version,
        "source_system": "erp",
        **overrides,
    }
    with transaction.atomic():
        return legal_entity_upsert(**values)


def upsert_customer(version: int, name: str = "Acme Corp", **overrides):
    values = {
        "number": "C-1001",
        "name": name,
        "legal_entity_code": "US01",
        "currency": "USD",
        "version": version,
        "source_system": "crm",
        **overrides,
    }
    with transaction.atomic():
        return customer_upsert(**values)


class TestLegalEntityUpsert:
    def test_it_creates_a_missing_entity_with_the_incoming_version(self) -> None:
        result = upsert_entity(3)

        assert (result.outcome, result.created) == ("applied", True)
        entity = LegalEntity.objects.get(code="US01")
        assert (entity.version, entity.source_system, entity.name) == (3, "erp", "Tower US Inc.")

    def test_it_applies_a_newer_version(self) -> None:
        upsert_entity(1)

        result = upsert_entity(2, name="Tower US LLC", active=False)

        assert (result.outcome, result.created) == ("applied", False)
        entity = LegalEntity.objects.get(code="US01")
        assert (entity.version, entity.name, entity.active) == (2, "Tower US LLC", False)

    def test_it_leaves_the_same_version_unchanged(self) -> None:
        upsert_entity(2)

        result = upsert_entity(2, name="Something else")

        assert (result.outcome, result.created) == ("unchanged", False)
        assert LegalEntity.objects.get(code="US01").name == "Tower US Inc."

    def test_it_ignores_an_older_version_as_stale(self) -> None:
        upsert_entity(5)
        before = LegalEntity.objects.get(code="US01").updated_at

        result = upsert_entity(4, name="Old name")

        assert (result.outcome, result.created) == ("stale", False)
        entity = LegalEntity.objects.get(code="US01")
        assert (entity.version, entity.name, entity.updated_at) == (5, "Tower US Inc.", before)

    def test_it_normalises_codes_and_currency(self) -> None:
        result = upsert_entity(1, code="  us01 ", country="us", currency="usd ")

        assert (result.record.code, result.record.country, result.record.currency) == (
            "US01",
            "US",
            "USD",
        )
        assert upsert_entity(1, code="Us01").outcome == "unchanged"

    def test_it_reads_the_row_again_when_a_concurrent_create_wins(self, monkeypatch) -> None:
        # The other transaction's row is there, but our first look missed it.
        LegalEntityFactory(code="US01", version=1)
        real = base.locked
        calls = []

        def first_look_misses(model, lookup):
            calls.append(lookup)
            return None if len(calls) == 1 else real(model, lookup)

        monkeypatch.setattr(base, "locked", first_look_misses)

        result = upsert_entity(2, name="Tower US LLC")

        assert (result.outcome, result.created) == ("applied", False)
        assert len(calls) == 2
        assert LegalEntity.objects.get(code="US01").name == "Tower US LLC"

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(versions=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=12))
    def test_it_ends_on_the_highest_version_whatever_the_order(self, versions) -> None:
        with transaction.atomic():
            for version in versions:
                upsert_entity(version, name=f"Name at v{version}")

            entity = LegalEntity.objects.get(code="US01")
            assert entity.version == max(versions)
            assert entity.name == f"Name at v{max(versions)}"
            transaction.set_rollback(True)


class TestCustomerUpsert:
    def test_it_creates_a_customer_under_its_legal_entity(self) -> None:
        entity = LegalEntityFactory(code="US01")

        result = upsert_customer(1, number=" c-1001", legal_entity_code="us01 ", currency="usd")

        assert (result.outcome, result.created) == ("applied", True)
        customer = Customer.objects.get()
        assert (customer.number, customer.legal_entity, customer.currency) == (
            "C-1001",
            entity,
            "USD",
        )

    def test_it_moves_a_customer_to_another_legal_entity_on_a_newer_version(self) -> None:
        CustomerFactory(number="C-1001", legal_entity__code="US01", version=1)
        LegalEntityFactory(code="DE01")

        result = upsert_customer(2, legal_entity_code="DE01", currency="EUR")

        assert result.outcome == "applied"
        assert Customer.objects.get().legal_entity.code == "DE01"

    def test_it_leaves_the_same_version_unchanged_and_stale_ones_alone(self) -> None:
        CustomerFactory(number="C-1001", name="Acme", legal_entity__code="US01", version=3)

        assert upsert_customer(3, name="Acme Renamed").outcome == "unchanged"
        assert upsert_customer(2, name="Acme Older").outcome == "stale"
        assert Customer.objects.get().name == "Acme"

    def test_it_refuses_an_unknown_legal_entity(self) -> None:
        with pytest.raises(RuleViolation) as refused:
            upsert_customer(1, legal_entity_code="xx99")

        assert refused.value.code == "invalid_legal_entity"
        assert refused.value.status_code == 422
        assert refused.value.message == "Legal entity 'XX99' does not exist."
        assert refused.value.details == {"legal_entity": "XX99"}
        assert refused.value.as_dict()["code"] == "invalid_legal_entity"
        assert not Customer.objects.exists()

    def test_it_refuses_an_inactive_legal_entity(self) -> None:
        LegalEntityFactory(code="US01", active=False)

        with pytest.raises(RuleViolation) as refused:
            upsert_customer(1)

        assert refused.value.code == "invalid_legal_entity"
        assert not Customer.objects.exists()

    def test_it_calls_a_stale_update_stale_even_if_its_legal_entity_is_gone(self) -> None:
        CustomerFactory(number="C-1001", legal_entity__code="US01", version=5)

        assert upsert_customer(4, legal_entity_code="XX99").outcome == "stale"


class TestSelectors:
    def test_it_finds_records_by_business_key_in_any_case(self) -> None:
        customer = CustomerFactory(number="C-1001", legal_entity__code="US01")

        assert selectors.customer_get(number=" c-1001 ") == customer
        assert selectors.legal_entity_get(code="us01") == customer.legal_entity

    def test_it_answers_none_for_an_unknown_key(self) -> None:
        assert selectors.customer_get(number="C-404") is None
        assert selectors.legal_entity_get(code="XX99") is None
