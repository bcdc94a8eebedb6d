"""An operator opens and closes a system's breaker by hand, in the API and on the Systems page;
the overview says which systems the tower stopped calling and what waits for them."""

from __future__ import annotations

import pytest

from controltower.operations.models import AuditEvent
from integrations.choices import BreakerState, TransactionState
from integrations.models import CircuitBreaker, ConnectedSystem
from integrations.services.breakers import breaker_failure
from tests.factories.operations import FlowTransactionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def erp() -> ConnectedSystem:
    return ConnectedSystem.objects.create(
        slug="erp", name="NetSuite ERP", kind="erp", base_url="http://erp.invalid"
    )


def test_an_operator_stops_calling_a_system_through_the_api_and_it_is_audited(
    erp, operator, api_client_for
):
    client = api_client_for(operator)
    response = client.post(
        "/api/v1/systems/erp/breaker/", {"state": "open", "reason": "ERP upgrade"}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["breaker"]["state"] == "open" and response.data["breaker"]["manual"]
    audit = AuditEvent.objects.get(action="system.breaker_open")
    assert (audit.before, audit.after, audit.reason) == (
        {"breaker": "closed"},
        {"breaker": "open"},
        "ERP upgrade",
    )
    response = client.post("/api/v1/systems/erp/breaker/", {"state": "closed"}, format="json")
    assert response.data["breaker"]["state"] == "closed"
    assert AuditEvent.objects.filter(action="system.breaker_close").exists()


def test_a_viewer_may_not_touch_a_breaker_and_a_bad_state_is_named(
    erp, user_with_role, operator, api_client_for
):
    viewer = api_client_for(user_with_role("viewer"))
    assert viewer.post("/api/v1/systems/erp/breaker/", {"state": "open"}).status_code == 403
    response = api_client_for(operator).post(
        "/api/v1/systems/erp/breaker/", {"state": "ajar"}, format="json"
    )
    assert response.status_code == 400 and "state" in response.data["errors"]
    assert not CircuitBreaker.objects.filter(state=BreakerState.OPEN).exists()


def test_the_systems_page_shows_an_open_breaker_and_lets_an_operator_close_it(
    erp, client, operator
):
    for _ in range(5):
        breaker_failure(erp, error="GET .../job answered 503")
    FlowTransactionFactory(
        kind="time_to_billing",
        event_type="invoice.approved",
        state=TransactionState.RETRY_SCHEDULED,
        waiting_for=erp,
    )
    client.force_login(operator)
    page = client.get("/systems/").content.decode()
    assert "Open: calls wait" in page and "after 5 failed calls; 1 waiting" in page
    assert "Call again" in page
    response = client.post("/systems/erp/breaker/", {"state": "closed", "reason": "back up"})
    assert response.status_code == 302
    assert CircuitBreaker.objects.get(system=erp).state == BreakerState.CLOSED
    page = client.get("/systems/").content.decode()
    assert "Stop calling" in page and "Calling" in page


def test_a_viewer_sees_the_breaker_but_no_button(erp, client, user_with_role):
    breaker_failure(erp, error="timed out")
    client.force_login(user_with_role("viewer"))
    page = client.get("/systems/").content.decode()
    assert "Stop calling" not in page and "Call again" not in page
    assert client.post("/systems/erp/breaker/", {"state": "open"}).status_code == 403


def test_the_overview_says_which_system_the_tower_stopped_calling(erp, client, operator):
    for _ in range(5):
        breaker_failure(erp, error="POST .../invoice timed out")
    client.force_login(operator)
    page = client.get("/").content.decode()
    assert "NetSuite ERP is not answering: the tower stopped calling it at" in page
    assert "after 5 failed calls" in page and "timed out" in page
