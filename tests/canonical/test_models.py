from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from canonical.choices import InvoiceStatus
from canonical.errors import ImmutableRecordError
from canonical.models import ContractVersion
from tests.factories.canonical import (
    AssignmentFactory,
    BillingMilestoneFactory,
    ContractFactory,
    ContractVersionFactory,
    CustomerFactory,
    InvoiceFactory,
    LegalEntityFactory,
    ProjectFactory,
    RateCardFactory,
    RateCardLineFactory,
    ResourceFactory,
    TimeEntryFactory,
)

pytestmark = pytest.mark.django_db


@contextmanager
def refused() -> Iterator[None]:
    """Expects the database to refuse the block's write; the savepoint keeps the test usable."""
    with pytest.raises(IntegrityError), transaction.atomic():
        yield


@pytest.mark.parametrize(
    ("factory", "key", "value"),
    [
        (LegalEntityFactory, "code", "US01"),
        (RateCardFactory, "code", "RC-STD"),
        (ContractFactory, "number", "K-5001"),
        (ProjectFactory, "code", "P-1042"),
        (ResourceFactory, "employee_number", "E-2001"),
        (AssignmentFactory, "number", "A-3001"),
        (TimeEntryFactory, "number", "T-4001"),
        (InvoiceFactory, "number", "INV-6001"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else str(v),
)
def test_it_refuses_a_second_record_with_the_same_business_key(factory, key, value) -> None:
    factory(**{key: value})

    with refused():
        factory(**{key: value})


def test_it_refuses_a_second_customer_with_the_same_number() -> None:
    CustomerFactory(number="C-1001")

    with refused():
        CustomerFactory(number="C-1001")


def test_it_refuses_two_rates_for_the_same_role_on_one_rate_card() -> None:
    line = RateCardLineFactory(role="Architect")

    with refused():
        RateCardLineFactory(rate_card=line.rate_card, role="Architect")


def test_it_allows_the_same_role_on_two_rate_cards() -> None:
    RateCardLineFactory(role="Architect")
    RateCardLineFactory(role="Architect")


def test_it_refuses_a_negative_rate() -> None:
    with refused():
        RateCardLineFactory(rate=Decimal("-0.01"))


def test_it_refuses_a_contract_that_ends_before_it_starts() -> None:
    with refused():
        ContractFactory(start_date=dt.date(2025, 6, 1), end_date=dt.date(2025, 5, 31))


def test_it_accepts_a_contract_that_ends_the_day_it_starts_or_never() -> None:
    ContractFactory(start_date=dt.date(2025, 6, 1), end_date=dt.date(2025, 6, 1))
    ContractFactory(start_date=dt.date(2025, 6, 1), end_date=None)


def test_it_refuses_two_contract_versions_with_the_same_number() -> None:
    first = ContractVersionFactory(version=1)

    with refused():
        ContractVersionFactory(contract=first.contract, version=1)


@pytest.mark.parametrize("percent", [101, 1000])
def test_it_refuses_an_allocation_over_100_percent(percent: int) -> None:
    with refused():
        AssignmentFactory(allocation_percent=percent)


@pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-1"), Decimal("24.01")])
def test_it_refuses_hours_outside_0_to_24(hours: Decimal) -> None:
    with refused():
        TimeEntryFactory(hours=hours)


@pytest.mark.parametrize("hours", [Decimal("0.25"), Decimal("24")])
def test_it_accepts_hours_at_the_edges(hours: Decimal) -> None:
    TimeEntryFactory(hours=hours)


def test_it_refuses_two_milestones_with_the_same_code_on_one_contract() -> None:
    milestone = BillingMilestoneFactory(code="M1")

    with refused():
        BillingMilestoneFactory(contract=milestone.contract, code="M1")


def test_it_refuses_a_second_invoice_for_the_same_project_and_period() -> None:
    invoice = InvoiceFactory()

    with refused():
        InvoiceFactory(project=invoice.project)


def test_it_allows_a_new_invoice_for_a_period_whose_invoice_was_rejected() -> None:
    rejected = InvoiceFactory(status=InvoiceStatus.REJECTED)

    InvoiceFactory(project=rejected.project)


class TestContractVersionImmutability:
    def test_it_refuses_to_save_a_version_again(self) -> None:
        version = ContractVersionFactory(terms={"cap": "1000.00"})
        version.terms = {"cap": "9999.00"}

        with pytest.raises(ImmutableRecordError):
            version.save()
        version.refresh_from_db()
        assert version.terms == {"cap": "1000.00"}

    def test_it_refuses_to_delete_a_version(self) -> None:
        version = ContractVersionFactory()

        with pytest.raises(ImmutableRecordError):
            version.delete()
        assert ContractVersion.objects.filter(pk=version.pk).exists()

    def test_it_refuses_bulk_updates_and_deletes(self) -> None:
        ContractVersionFactory(terms={"cap": "1000.00"})

        with pytest.raises(ImmutableRecordError):
            ContractVersion.objects.update(terms={})
        with pytest.raises(ImmutableRecordError):
            ContractVersion.objects.all().delete()
        assert ContractVersion.objects.get().terms == {"cap": "1000.00"}

    def test_it_writes_each_new_version_once(self) -> None:
        contract = ContractFactory()

        ContractVersion.objects.create(
            contract=contract, version=1, terms={}, effective_date=contract.start_date
        )
        ContractVersion.objects.create(
            contract=contract, version=2, terms={}, effective_date=contract.start_date
        )

        assert list(contract.versions.values_list("version", flat=True)) == [1, 2]


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (lambda: LegalEntityFactory(code="US01", name="Tower US"), "US01 Tower US"),
        (lambda: CustomerFactory(number="C-1001", name="Acme"), "C-1001 Acme"),
        (lambda: ContractFactory(number="K-5001"), "K-5001"),
        (lambda: ProjectFactory(code="P-1042", name="Rollout"), "P-1042 Rollout"),
        (lambda: ContractVersionFactory(contract__number="K-1", version=3), "K-1 v3"),
    ],
)
def test_it_names_a_record_by_its_business_key(factory, expected: str) -> None:
    assert str(factory()) == expected
