"""The compensations API: list and detail by role, execute, approve (four eyes) and reject."""

from __future__ import annotations

from decimal import Decimal

import pytest

from controltower.operations.models import AuditEvent
from integrations.choices import CompensationAction, CompensationState, TransactionState
from integrations.models import Compensation, ConnectedSystem, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def credit():
    erp = ConnectedSystem.objects.create(slug="erp-comp", name="ERP", kind="erp")
    return Compensation.objects.create(
        key="time_to_billing.posted_time_reduced:T-1:v2",
        step="time_to_billing.posted_time_reduced",
        action=CompensationAction.CREDIT_NOTE,
        system=erp,
        record_kind="invoice",
        external_id="41",
        business_key="INV-P-1-202611",
        reason="Time entry T-1 bills 2 h fewer.",
        amount=Decimal("600.00"),
        rate=Decimal("300.00"),
        currency="USD",
        details={"invoice": "INV-P-1-202611", "entry": "T-1", "hours": "2"},
    )


def url(compensation, action=""):
    return f"/api/v1/compensations/{compensation.pk}/" + (f"{action}/" if action else "")


def test_a_viewer_lists_compensations_without_their_amounts_and_cannot_act(
    credit, user_with_role, api_client_for
):
    viewer = api_client_for(user_with_role("viewer"))
    [row] = viewer.get("/api/v1/compensations/?state=proposed").json()["results"]
    assert (row["action"], row["amount"], row["rate"]) == ("credit_note", None, None)
    assert viewer.get("/api/v1/compensations/?state=done").json()["results"] == []
    assert viewer.post(url(credit, "execute"), {"reason": "x"}).status_code == 403
    approver = api_client_for(user_with_role("approver"))
    assert approver.get(url(credit)).json()["amount"] == "600.00"


def test_a_credit_note_needs_a_second_approver_and_then_queues_its_execution(
    credit, user_with_role, api_client_for
):
    ada, bob = user_with_role("approver"), user_with_role("approver")
    assert api_client_for(ada).post(url(credit, "execute"), {}).status_code == 400  # no reason
    asked = api_client_for(ada).post(url(credit, "execute"), {"reason": "PSA says 6 h"})
    assert asked.status_code == 200 and asked.json()["state"] == "awaiting_approval"
    operator = api_client_for(user_with_role("operator"))
    assert operator.post(url(credit, "approve"), {"reason": "ok"}).status_code == 403
    same = api_client_for(ada).post(url(credit, "approve"), {"reason": "ok"})
    assert same.status_code == 403 and "second person" in same.json()["message"]
    approved = api_client_for(bob).post(url(credit, "approve"), {"reason": "Timesheet checked"})
    assert approved.status_code == 200, approved.content
    body = approved.json()
    assert (body["state"], body["requested_by"], body["approved_by"]) == (
        "executing",
        ada.username,
        bob.username,
    )
    execution = Transaction.objects.get(pk=body["execution"])
    assert (execution.event_type, execution.target_system.slug, execution.state) == (
        "compensation.execute",
        "erp-comp",
        TransactionState.RECEIVED,
    )
    again = api_client_for(bob).post(url(credit, "approve"), {"reason": "twice"})
    assert again.status_code == 409
    assert list(
        AuditEvent.objects.filter(action__startswith="compensation.")
        .order_by("at", "id")
        .values_list("action", "actor_name")
    ) == [("compensation.request", ada.username), ("compensation.approve", bob.username)]


def test_rejecting_needs_a_reason_and_leaves_the_side_effect_on_record(
    credit, user_with_role, api_client_for
):
    approver = api_client_for(user_with_role("approver"))
    assert approver.post(url(credit, "reject"), {"reason": ""}).status_code == 400
    rejected = approver.post(url(credit, "reject"), {"reason": "Customer keeps the hours"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert Compensation.objects.get(pk=credit.pk).state == CompensationState.REJECTED
    assert approver.post(url(credit, "execute"), {"reason": "x"}).status_code == 409


def test_the_compensations_endpoints_are_in_the_openapi_schema(client, user_with_role):
    client.force_login(user_with_role("viewer"))
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert {
        "/api/v1/compensations/",
        "/api/v1/compensations/{id}/",
        "/api/v1/compensations/{id}/execute/",
        "/api/v1/compensations/{id}/approve/",
        "/api/v1/compensations/{id}/reject/",
    } <= set(schema["paths"])
