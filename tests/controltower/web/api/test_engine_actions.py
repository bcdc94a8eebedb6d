"""Retry, bulk retry, replay, cancel, pause and resume: through the API, with their audit rows."""

from __future__ import annotations

import pytest

from canonical.models import Customer
from controltower.operations.models import AuditEvent, BulkOperation
from integrations.choices import TransactionState
from integrations.models import Flow, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def blocked(demo, client) -> Transaction:
    """A customer event blocked by an unknown legal entity."""
    ids = signed_post(client, "crm", customer_event("C-7001", legal_entity="ZZ99")).json()[
        "transaction_ids"
    ]
    transactions_process(ids=ids)
    return Transaction.objects.get(pk=ids[0])


@pytest.fixture
def as_operator(operator, api_client_for):
    return api_client_for(operator)


@pytest.fixture
def as_viewer(user_with_role, api_client_for):
    return api_client_for(user_with_role("viewer"))


def test_an_operator_retries_a_blocked_transaction_and_it_is_audited(
    blocked, as_operator, operator
):
    response = as_operator.post(
        f"/api/v1/transactions/{blocked.pk}/retry/", {"reason": "ZZ99 created"}
    )
    assert response.status_code == 200, response.content
    blocked.refresh_from_db()
    assert blocked.state == TransactionState.RECEIVED and blocked.retry_round_start == 1
    audit = AuditEvent.objects.get(action="transaction.retry")
    assert audit.actor == operator and audit.reason == "ZZ99 created"
    assert audit.before["state"] == "blocked" and audit.after["state"] == "received"
    assert audit.object_id == str(blocked.pk)


def test_a_succeeded_transaction_cannot_be_retried(demo, client, as_operator):
    ids = signed_post(client, "crm", customer_event("C-7002")).json()["transaction_ids"]
    transactions_process(ids=ids)
    response = as_operator.post(f"/api/v1/transactions/{ids[0]}/retry/", {})
    assert response.status_code == 409
    assert "succeeded" in response.json()["message"]


def test_a_viewer_may_read_but_not_retry(blocked, as_viewer):
    assert as_viewer.get(f"/api/v1/transactions/{blocked.pk}/").status_code == 200
    assert as_viewer.post(f"/api/v1/transactions/{blocked.pk}/retry/", {}).status_code == 403
    assert not AuditEvent.objects.exists()


def test_the_detail_shows_the_payload_and_the_attempts(blocked, as_viewer):
    body = as_viewer.get(f"/api/v1/transactions/{blocked.pk}/").json()
    assert body["payload"]["data"]["number"] == "C-7001"
    assert body["attempts"][0]["outcome"] == "blocked"
    assert body["error_code"] == "invalid_legal_entity"


def test_the_list_filters_by_state_business_key_and_flow(blocked, demo, client, as_viewer):
    signed_post(client, "crm", customer_event("C-7003"))
    assert as_viewer.get("/api/v1/transactions/?state=blocked").json()["count"] == 1
    assert as_viewer.get("/api/v1/transactions/?business_key=C-7003").json()["count"] == 1
    assert (
        as_viewer.get(
            "/api/v1/transactions/?flow=master_data_sync&state=received&state=blocked"
        ).json()["count"]
        == 2
    )
    assert (
        as_viewer.get("/api/v1/transactions/?error_code=invalid_legal_entity").json()["count"] == 1
    )
    assert as_viewer.get("/api/v1/transactions/?state=bogus").status_code == 400


def test_bulk_retry_retries_what_the_filter_selects(demo, client, as_operator):
    ids = signed_post(
        client, "crm", [customer_event(f"C-71{i:02}", legal_entity="ZZ99") for i in range(30)]
    ).json()["transaction_ids"]
    transactions_process(ids=ids)
    response = as_operator.post(
        "/api/v1/transactions/bulk-retry/?state=blocked&error_code=invalid_legal_entity",
        {"reason": "fixed"},
    )
    answer = response.json()
    assert answer["retried"] == 30
    assert BulkOperation.objects.get(pk=answer["operation"]).total == 30
    assert Transaction.objects.filter(state=TransactionState.RECEIVED).count() == 30
    audit = AuditEvent.objects.get(action="transaction.bulk_retry")
    assert (
        audit.after["count"] == 30 and "error_code=invalid_legal_entity" in audit.before["filter"]
    )


def test_a_replay_with_an_edited_payload_is_a_new_linked_transaction(blocked, as_operator):
    edited = dict(
        blocked.normalized,
        data={**blocked.normalized["data"], "legal_entity": "GB01", "currency": "GBP"},
    )
    response = as_operator.post(
        f"/api/v1/transactions/{blocked.pk}/replay/",
        {"payload": edited, "reason": "wrong entity"},
        format="json",
    )
    assert response.status_code == 201, response.content
    replay = Transaction.objects.get(pk=response.json()["id"])
    assert replay.parent_id == blocked.pk and replay.correlation_id == blocked.correlation_id
    transactions_process(ids=[replay.pk])
    replay.refresh_from_db()
    assert replay.state == TransactionState.SUCCEEDED
    assert Customer.objects.get(number="C-7001").legal_entity.code == "GB01"
    audit = AuditEvent.objects.get(action="transaction.replay_edited")
    assert audit.before["normalized"]["data"]["legal_entity"] == "ZZ99"
    assert audit.after["normalized"]["data"]["legal_entity"] == "GB01"


def test_a_replay_with_an_invalid_payload_is_refused_naming_the_field(blocked, as_operator):
    edited = dict(blocked.normalized, data={**blocked.normalized["data"], "currency": "pounds"})
    response = as_operator.post(
        f"/api/v1/transactions/{blocked.pk}/replay/", {"payload": edited}, format="json"
    )
    assert response.status_code == 400
    assert "payload.data.currency" in response.json()["errors"]


def test_cancel_needs_a_reason_and_records_it(blocked, as_operator):
    assert as_operator.post(f"/api/v1/transactions/{blocked.pk}/cancel/", {}).status_code == 400
    response = as_operator.post(
        f"/api/v1/transactions/{blocked.pk}/cancel/", {"reason": "duplicate customer"}
    )
    assert response.status_code == 200
    blocked.refresh_from_db()
    assert blocked.state == TransactionState.CANCELLED
    assert AuditEvent.objects.get(action="transaction.cancel").reason == "duplicate customer"


def test_an_admin_pauses_and_resumes_a_flow_and_an_operator_may_not(
    demo, client, user_with_role, api_client_for, as_operator, django_capture_on_commit_callbacks
):
    as_admin = api_client_for(user_with_role("admin"))
    assert as_operator.post("/api/v1/flows/master_data_sync/pause/", {}).status_code == 403
    assert (
        as_admin.post("/api/v1/flows/master_data_sync/pause/", {"reason": "ERP upgrade"}).json()[
            "paused"
        ]
        is True
    )
    ids = signed_post(client, "crm", customer_event("C-7201")).json()["transaction_ids"]
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert as_admin.post("/api/v1/flows/master_data_sync/resume/", {}).json()["paused"] is False
    assert len(sent) == 1  # the waiting event was sent on resume
    transactions_process(ids=ids)
    assert Transaction.objects.get(pk=ids[0]).state == TransactionState.SUCCEEDED
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "flow.pause",
        "flow.resume",
    ]
    assert Flow.objects.get(kind="master_data_sync").paused is False


def test_anonymous_callers_are_refused(blocked, api_client_for):
    assert api_client_for().get("/api/v1/transactions/").status_code in (401, 403)
