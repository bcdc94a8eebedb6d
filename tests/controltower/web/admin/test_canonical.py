from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from canonical.models import (
    AcceptedCode,
    ExpenseLine,
    ExpenseReport,
    LegalEntity,
    ProjectCost,
    RevenueSchedule,
    RevenueScheduleLine,
)
from controltower.operations.models import AuditEvent
from tests.factories.canonical import (
    BillingMilestoneFactory,
    ContractVersionFactory,
    InvoiceLineFactory,
    RateCardLineFactory,
    TimeEntryFactory,
)

pytestmark = pytest.mark.django_db

CANONICAL_MODELS = [m for m in admin.site._registry if m._meta.app_label == "canonical"]


@pytest.fixture
def admin_client_with_data(admin_client):
    RateCardLineFactory()
    version = ContractVersionFactory()
    entry = TimeEntryFactory()
    InvoiceLineFactory(time_entry=entry, milestone=BillingMilestoneFactory())
    project = entry.project
    AcceptedCode.objects.create(legal_entity=project.legal_entity, kind="tax_code", code="TX-STD")
    report = ExpenseReport.objects.create(
        number="EXP-1", project=project, resource=entry.resource, currency="USD"
    )
    ExpenseLine.objects.create(
        report=report,
        line_number=1,
        category="travel",
        amount=Decimal("42.00"),
        currency="USD",
        incurred_on=dt.date(2026, 11, 2),
    )
    ProjectCost.objects.create(
        project=project,
        period_start=dt.date(2026, 11, 1),
        hours=Decimal("8.00"),
        amount=Decimal("900.00"),
        uncosted_hours=Decimal("0.00"),
    )
    schedule = RevenueSchedule.objects.create(
        contract=version.contract, currency="USD", total=Decimal("1200.00")
    )
    RevenueScheduleLine.objects.create(
        schedule=schedule,
        period_start=dt.date(2026, 11, 1),
        method="as_billed",
        status="planned",
        amount=Decimal("1200.00"),
    )
    return admin_client


def test_every_canonical_model_is_in_the_admin() -> None:
    assert set(CANONICAL_MODELS) == set(apps.get_app_config("canonical").get_models())


@pytest.mark.parametrize("model", CANONICAL_MODELS, ids=lambda m: m._meta.model_name)
def test_it_shows_the_list_and_a_record_of_each_model(admin_client_with_data, model) -> None:
    opts = model._meta
    obj = model.objects.first()

    listing = admin_client_with_data.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"), {"q": "x"}
    )
    detail = admin_client_with_data.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    )

    assert listing.status_code == 200
    assert detail.status_code == 200


def test_it_offers_no_way_to_add_change_or_delete_a_contract_version(admin_client) -> None:
    version = ContractVersionFactory()

    assert admin_client.get(reverse("admin:canonical_contractversion_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:canonical_contractversion_delete", args=[version.pk])
        ).status_code
        == 403
    )
    page = admin_client.get(reverse("admin:canonical_contractversion_change", args=[version.pk]))
    assert b'name="_save"' not in page.content


def test_a_change_in_the_admin_grows_the_version_and_is_audited(admin_client) -> None:
    entity = LegalEntity.objects.create(
        code="US01", name="Tower US", country="US", currency="USD", version=4
    )

    response = admin_client.post(
        reverse("admin:canonical_legalentity_change", args=[entity.pk]),
        {
            "code": "US01",
            "name": "Tower US LLC",
            "country": "US",
            "currency": "USD",
            "active": "on",
        },
    )

    assert response.status_code == 302
    entity.refresh_from_db()
    assert (entity.name, entity.version) == ("Tower US LLC", 5)
    assert AuditEvent.objects.filter(action="legalentity.change", object_id=str(entity.pk)).exists()
