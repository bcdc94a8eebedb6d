"""The compensations page: the list by state, and execute / approve / reject by htmx with a
reason, four eyes where money moves."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controltower.operations.models import AuditEvent
from integrations.choices import CompensationAction, CompensationState
from integrations.models import Compensation, ConnectedSystem
from tests.support.pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit():
    erp = ConnectedSystem.objects.create(slug="erp-page", name="ERP", kind="erp")
    return Compensation.objects.create(
        key="time_to_billing.posted_time_reduced:T-9:v2",
        step="time_to_billing.posted_time_reduced",
        action=CompensationAction.CREDIT_NOTE,
        system=erp,
        record_kind="invoice",
        external_id="77",
        business_key="INV-P-9-202611",
        reason="Time entry T-9 bills 1 h fewer.",
        amount=Decimal("300.00"),
        rate=Decimal("300.00"),
        currency="USD",
        details={"invoice": "INV-P-9-202611", "entry": "T-9", "hours": "1"},
    )


def test_the_list_shows_proposed_compensations_and_hides_amounts_from_viewers(
    credit, user_with_role
):
    page = signed_in(user_with_role("viewer")).get("/compensations/")
    assert page.status_code == 200
    assert "INV-P-9-202611" in page.text and "Credit note against the posted invoice" in page.text
    assert "300.00" not in page.text
    assert "300.00" in signed_in(user_with_role("approver")).get("/compensations/").text
    assert (
        "INV-P-9-202611"
        not in signed_in(user_with_role("viewer")).get("/compensations/?tab=done").text
    )
    detail = signed_in(user_with_role("viewer")).get(f"/compensations/{credit.pk}/")
    assert "Nothing for you to do here" in detail.text and "300" not in detail.text


def test_the_requester_is_refused_approval_on_the_page_and_a_second_approver_executes(
    credit, user_with_role
):
    ada, bob = signed_in(user_with_role("approver")), signed_in(user_with_role("approver"))
    htmx = {"HTTP_HX_REQUEST": "true"}
    missing = ada.post(f"/compensations/{credit.pk}/execute/", {"execute-reason": ""}, **htmx)
    assert "A reason is required" in missing.text
    asked = ada.post(
        f"/compensations/{credit.pk}/execute/", {"execute-reason": "PSA says 7 h"}, **htmx
    )
    assert asked.status_code == 200 and "awaiting approval" in asked.text
    refused = ada.post(f"/compensations/{credit.pk}/approve/", {"approve-reason": "ok"}, **htmx)
    assert "second person" in refused.text
    assert Compensation.objects.get(pk=credit.pk).state == CompensationState.AWAITING_APPROVAL
    approved = bob.post(
        f"/compensations/{credit.pk}/approve/", {"approve-reason": "Checked"}, **htmx
    )
    assert "executing" in approved.text
    assert Compensation.objects.get(pk=credit.pk).state == CompensationState.EXECUTING
    assert AuditEvent.objects.filter(action="compensation.approve").count() == 1


def test_an_operator_rejects_a_job_closing_with_a_reason(user_with_role):
    erp = ConnectedSystem.objects.create(slug="erp-page2", name="ERP", kind="erp")
    close = Compensation.objects.create(
        key="contract_to_project.psa_project:erp-page2:job:5",
        step="contract_to_project.psa_project",
        action=CompensationAction.CLOSE_ERP_JOB,
        system=erp,
        record_kind="job",
        external_id="5",
        business_key="P-K-1",
        reason="The PSA refused project P-K-1.",
        details={"project": "P-K-1"},
    )
    operator = signed_in(user_with_role("operator"))
    page = operator.get(f"/compensations/{close.pk}/")
    assert ">Execute</button>" in page.text and ">Reject</button>" in page.text
    done = operator.post(
        f"/compensations/{close.pk}/reject/", {"reject-reason": "PSA fixed instead"}
    )
    assert done.status_code == 302
    assert Compensation.objects.get(pk=close.pk).state == CompensationState.REJECTED
