"""ERP routes through the API: admins route legal entities to ERP instances, audited."""

from __future__ import annotations

import pytest

from controltower.operations.models import AuditEvent
from integrations.choices import ExceptionType, SystemKind, TransactionState
from integrations.models import ConnectedSystem, ErpRoute, Transaction
from integrations.selectors.routing import erp_for
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, signed_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_erp(demo) -> ConnectedSystem:
    return ConnectedSystem.objects.create(
        slug="erp2", name="ERP Europe", kind=SystemKind.ERP, base_url="http://127.0.0.1:9/erp2"
    )


@pytest.fixture
def as_admin(user_with_role, api_client_for):
    return api_client_for(user_with_role("admin"))


def test_with_one_erp_every_legal_entity_goes_to_it_without_a_route(demo):
    assert not ErpRoute.objects.exists()
    assert erp_for("GB01").slug == erp_for("US01").slug == "erp"


def test_an_admin_routes_a_legal_entity_to_an_erp_and_viewers_see_the_route(
    second_erp, as_admin, user_with_role, api_client_for
):
    answer = as_admin.post(
        "/api/v1/erp-routes/", {"legal_entity": "GB01", "system": "erp2", "reason": "EU books"}
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["legal_entity"] == "GB01" and answer.json()["system"] == "erp2"
    assert erp_for("GB01") == second_erp
    audit = AuditEvent.objects.get(action="erproute.add")
    assert (audit.after, audit.reason) == ({"legal_entity": "GB01", "system": "erp2"}, "EU books")
    listed = api_client_for(user_with_role("viewer")).get("/api/v1/erp-routes/").json()
    assert [(r["legal_entity"], r["system"]) for r in listed["results"]] == [("GB01", "erp2")]


def test_a_route_changed_and_removed_is_audited(second_erp, as_admin):
    as_admin.post("/api/v1/erp-routes/", {"legal_entity": "GB01", "system": "erp2"})
    as_admin.post("/api/v1/erp-routes/", {"legal_entity": "GB01", "system": "erp"})
    change = AuditEvent.objects.get(action="erproute.change")
    assert (change.before, change.after["system"]) == ({"system": "erp2"}, "erp")
    route = ErpRoute.objects.get()
    assert as_admin.delete(f"/api/v1/erp-routes/{route.pk}/").status_code == 204
    assert not ErpRoute.objects.exists()
    assert AuditEvent.objects.filter(action="erproute.delete").exists()


def test_a_legal_entity_is_routed_only_to_an_erp(demo, as_admin):
    answer = as_admin.post("/api/v1/erp-routes/", {"legal_entity": "GB01", "system": "crm"})
    assert answer.status_code == 400
    assert answer.json()["errors"] == {"system": ["Not an ERP."]}
    missing = as_admin.post("/api/v1/erp-routes/", {"legal_entity": "ZZ99", "system": "erp"})
    assert missing.status_code == 404
    assert not ErpRoute.objects.exists()


def test_routing_a_legal_entity_re_runs_the_work_that_waited_for_its_route(
    second_erp, as_admin, client
):
    event = contract_event("K-7101", customer="C-1002", legal_entity="GB01", rate_card="RC-GB-STD")
    ids = signed_post(client, "clm", event).json()["transaction_ids"]
    transactions_process(ids=ids)
    held = Transaction.objects.get(pk=ids[0])
    assert held.state == TransactionState.BLOCKED
    assert held.exception.exception_type == ExceptionType.ERP_NOT_ROUTED
    as_admin.post("/api/v1/erp-routes/", {"legal_entity": "GB01", "system": "erp2"})
    held.refresh_from_db()
    assert held.state not in (TransactionState.BLOCKED, TransactionState.SUCCEEDED)
    assert held.exception.status == "resolved"
