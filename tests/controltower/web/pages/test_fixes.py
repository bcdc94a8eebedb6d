"""Fixes made from an exception's page, by the role that owns them: finance adds the missing
rate card line, an operator checks a record fixed in its own system again, and an admin page
says "admins only" to anyone else before they click."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from canonical.errors import ApplicationError, ConflictError
from canonical.models import LegalEntity, RateCard, RateCardLine, Resource
from controltower.operations.models import AuditEvent, BusinessException
from controltower.operations.selectors.exceptions import fix_link_for
from controltower.operations.services.fixes import exception_fix_rate, exception_fix_recheck
from integrations.choices import ExceptionStatus, ExceptionType, TransactionState
from integrations.models import Transaction
from tests.factories.operations import BusinessExceptionFactory
from tests.support.work_scene import work_scene

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene():
    return work_scene()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def architect_rate() -> Decimal | None:
    line = RateCardLine.objects.filter(rate_card__code="RC-US-STD", role="Architect").first()
    return line.rate if line else None


# The missing rate card line: finance's


@pytest.mark.parametrize("role", ["approver", "admin"])
def test_finance_adds_the_missing_rate_on_the_exception_page_and_its_work_runs_again(role, scene):
    client = signed_in(scene.users[role])
    page = client.get(f"/exceptions/{scene.rate.pk}/")
    assert "Fix it here: Add the Architect rate to rate card RC-US-STD" in page.text
    assert 'href="#fix"' in page.text  # "Open the fix" stays on the tower's page
    assert 'name="fix_rate-rate"' in page.text

    response = client.post(f"/exceptions/{scene.rate.pk}/fix_rate/", {"fix_rate-rate": "260"})
    assert response.status_code == 302
    assert architect_rate() == Decimal("260.00")
    scene.rate.refresh_from_db()
    assert scene.rate.status == ExceptionStatus.RESOLVED
    assert scene.rate.resolution == "Architect rate 260.00 USD added to rate card RC-US-STD."
    assert Transaction.objects.get(pk=scene.rate_tx.pk).state != TransactionState.BLOCKED
    audit = AuditEvent.objects.get(action="exception.fix_rate", object_id=str(scene.rate.pk))
    assert audit.actor == scene.users[role]
    assert audit.after == {
        "rate_card": "RC-US-STD",
        "role": "Architect",
        "rate": "260.00",
        "rerun_transactions": [scene.rate_tx.pk],
    }
    follow = client.get(f"/exceptions/{scene.rate.pk}/")
    assert "Rate added. 1 held transaction(s) sent to run again." in follow.text


def test_an_operator_is_told_a_rate_needs_a_finance_role_before_the_click(scene):
    client = signed_in(scene.users["operator"])
    page = client.get(f"/exceptions/{scene.rate.pk}/")
    assert "Needs a finance role (approver or admin)." in page.text
    assert 'name="fix_rate-rate"' not in page.text
    assert "/admin/" not in page.text.split('id="fix"')[1].split("</div>")[0]

    response = client.post(f"/exceptions/{scene.rate.pk}/fix_rate/", {"fix_rate-rate": "260"})
    assert response.status_code == 403
    assert architect_rate() is None
    scene.rate.refresh_from_db()
    assert scene.rate.status == ExceptionStatus.IN_PROGRESS


def test_the_service_refuses_a_rate_from_an_operator_too(scene):
    with pytest.raises(ApplicationError) as refused:
        exception_fix_rate(
            exception_id=scene.rate.pk, actor=scene.users["operator"], rate=Decimal("260")
        )
    assert refused.value.status_code == 403
    assert str(refused.value) == (
        "Add the Architect rate to rate card RC-US-STD needs a finance role (approver or admin)."
    )
    assert architect_rate() is None


@pytest.mark.parametrize("action", ["fix_rate", "fix_code", "recheck"])
def test_a_viewer_may_fix_nothing(action, scene):
    response = signed_in(scene.users["viewer"]).post(
        f"/exceptions/{scene.rate.pk}/{action}/", {"fix_rate-rate": "260"}
    )
    assert response.status_code == 403
    assert architect_rate() is None


def test_a_role_the_card_already_prices_is_refused_and_a_negative_rate_is_not_taken(scene):
    RateCardLine.objects.create(
        rate_card=RateCard.objects.get(code="RC-US-STD"), role="Architect", rate=Decimal("250.00")
    )
    with pytest.raises(ConflictError):
        exception_fix_rate(
            exception_id=scene.rate.pk, actor=scene.users["approver"], rate=Decimal("260")
        )
    assert architect_rate() == Decimal("250.00")

    client = signed_in(scene.users["approver"])
    response = client.post(f"/exceptions/{scene.rate.pk}/fix_rate/", {"fix_rate-rate": "-5"})
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in response.text


# A record that lives in another system: fixed there, checked again here


def test_an_operator_checks_an_unknown_legal_entity_again_once_it_is_there(scene):
    client = signed_in(scene.users["operator"])
    page = client.get(f"/exceptions/{scene.entity.pk}/")
    assert "Legal entities come from the ERP that keeps their books." in page.text
    assert "Check again now" in page.text

    client.post(f"/exceptions/{scene.entity.pk}/recheck/")
    still = client.get(f"/exceptions/{scene.entity.pk}/")
    assert "Still missing: legal_entity:XX01. Nothing ran; fix it where it lives first." in (
        still.text
    )
    scene.entity.refresh_from_db()
    assert scene.entity.status == ExceptionStatus.OPEN

    LegalEntity.objects.create(code="XX01", name="Wayne SARL", country="FR", currency="EUR")
    response = client.post(f"/exceptions/{scene.entity.pk}/recheck/")
    assert response.status_code == 302
    scene.entity.refresh_from_db()
    assert scene.entity.status == ExceptionStatus.RESOLVED
    assert not scene.entity.transactions.filter(state=TransactionState.BLOCKED).exists()
    assert list(
        AuditEvent.objects.filter(action="exception.recheck")
        .order_by("pk")
        .values_list("after__found", flat=True)
    ) == [False, True]


def test_an_unknown_resource_says_the_hris_and_is_checked_again(scene):
    exc = BusinessException.objects.create(
        exception_type=ExceptionType.UNKNOWN_RESOURCE,
        message="Resource 'E-0999' does not exist.",
        waiting_on="resource:E-0999",
        business_key="TE-9999",
        fingerprint="unknown_resource|E-0999",
    )
    page = signed_in(scene.users["operator"]).get(f"/exceptions/{exc.pk}/")
    assert "People come from the HRIS." in page.text
    assert "Add resource E-0999 (admins only)" in page.text
    assert "/admin/canonical/resource/add/" not in page.text
    Resource.objects.create(
        employee_number="E-0999",
        name="Ada Late",
        role="Consultant",
        legal_entity=LegalEntity.objects.get(code="US01"),
    )
    assert exception_fix_recheck(exception_id=exc.pk, actor=scene.users["operator"]) == 1


# An admin page: admins only, said before the click


def test_an_admin_page_fix_says_admins_only_to_an_operator_and_links_for_an_admin(scene):
    operator = signed_in(scene.users["operator"]).get(f"/exceptions/{scene.entity.pk}/")
    assert "Add legal entity XX01 (admins only)" in operator.text
    assert "/admin/canonical/legalentity/add/" not in operator.text
    assert "Open the fix" not in operator.text
    admin = signed_in(scene.users["admin"]).get(f"/exceptions/{scene.entity.pk}/")
    assert "Open the fix: Add legal entity XX01" in admin.text
    assert "/admin/canonical/legalentity/add/?code=XX01" in admin.text


def test_no_admin_link_on_an_exception_page_for_an_operator(scene):
    client = signed_in(scene.users["operator"])
    for exc in BusinessException.objects.all():
        assert 'href="/admin/' not in client.get(f"/exceptions/{exc.pk}/").text, exc


@pytest.mark.parametrize(
    ("waiting_on", "label", "url"),
    [
        (
            "mapping:DOCUSIGN:CONTRACT",
            "Edit DocuSign's contract mapping",
            "/systems/docusign/mappings/contract/",
        ),
        ("system_auth:ERP", "Fix ERP's credentials", "/systems/erp/connection/"),
    ],
)
def test_a_page_everyone_reads_but_only_admins_change_says_so_on_the_fix(
    waiting_on, label, url, scene
):
    exc = BusinessExceptionFactory.build(waiting_on=waiting_on)
    operator = fix_link_for(exc, scene.users["operator"])
    assert (operator.label, operator.url) == (f"{label} (admins only)", url)
    assert operator.hint.startswith("An admin makes the change.")
    admin = fix_link_for(exc, scene.users["admin"])
    assert (admin.label, admin.url) == (label, url)


# The same fixes over the API


def test_the_api_adds_a_rate_for_finance_only(scene, api_client_for):
    url = f"/api/v1/exceptions/{scene.rate.pk}/fix-rate/"
    refused = api_client_for(scene.users["operator"]).post(url, {"rate": "260.00"}, format="json")
    assert refused.status_code == 403
    assert architect_rate() is None
    done = api_client_for(scene.users["approver"]).post(url, {"rate": "260.00"}, format="json")
    assert done.status_code == 200, done.content
    assert done.json()["status"] == ExceptionStatus.RESOLVED
    assert architect_rate() == Decimal("260.00")


def test_the_api_checks_again_for_an_operator_and_not_a_viewer(scene, api_client_for):
    url = f"/api/v1/exceptions/{scene.entity.pk}/recheck/"
    assert api_client_for(scene.users["viewer"]).post(url).status_code == 403
    still = api_client_for(scene.users["operator"]).post(url)
    assert (still.status_code, still.json()["status"]) == (200, ExceptionStatus.OPEN)
    LegalEntity.objects.create(code="XX01", name="Wayne SARL", country="FR", currency="EUR")
    found = api_client_for(scene.users["operator"]).post(url)
    assert (found.status_code, found.json()["status"]) == (200, ExceptionStatus.RESOLVED)
