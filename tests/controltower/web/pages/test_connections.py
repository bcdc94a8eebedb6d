"""A system's connection page: an admin sets how the tower authenticates (the secret never
shown back), an operator tests it against the simulated vendor over real HTTP, a viewer
only reads."""

from __future__ import annotations

import pytest
from django.test import Client

from controltower.operations.models import AuditEvent
from integrations.models import ConnectedSystem, OutboundAuth

pytestmark = pytest.mark.django_db(transaction=True)

RIGHT_KEY = "demo-psa-api-key"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def psa(demo, live_server) -> ConnectedSystem:
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{live_server.url}/simulator/psa")
    return ConnectedSystem.objects.get(slug="psa")


def form(**changes: str) -> dict[str, str]:
    return {
        "kind": "api_key",
        "username": "",
        "secret": "",
        "header_name": "X-Api-Key",
        "header_prefix": "",
        "token_url": "",
        "scope": "",
        "reason": "",
        **changes,
    }


def test_an_admin_changes_the_key_and_the_test_says_whether_the_vendor_takes_it(
    psa, user_with_role
):
    admin = signed_in(user_with_role("admin"))
    page = admin.get("/systems/psa/connection/")
    assert page.status_code == 200
    assert RIGHT_KEY not in page.content.decode()  # the stored secret is never drawn
    assert b"A secret is stored" in page.content

    saved = admin.post("/systems/psa/connection/", form(secret="not-the-key"), follow=True)
    assert b"Saved how the tower authenticates" in saved.content
    tested = admin.post("/systems/psa/connection/test/", follow=True)
    assert b"refused the tower&#x27;s credentials (401)" in tested.content

    # Changing the header alone keeps the stored secret (the form never carries it back).
    admin.post("/systems/psa/connection/", form(secret=RIGHT_KEY, reason="the vendor's key"))
    admin.post("/systems/psa/connection/", form(header_prefix=""))
    assert OutboundAuth.objects.get(system=psa).secret == RIGHT_KEY
    tested = admin.post("/systems/psa/connection/test/", follow=True)
    assert b"answered 200" in tested.content
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("system.connection_set") == 3
    assert actions.count("system.connection_test") == 2


def test_what_a_kind_needs_is_named_beside_its_field(psa, user_with_role):
    admin = signed_in(user_with_role("admin"))
    page = admin.post("/systems/psa/connection/", form(kind="oauth2", username="client"))
    assert page.status_code == 400
    errors = page.context["form"].errors
    assert errors["token_url"] == ["Required."]
    assert OutboundAuth.objects.get(system=psa).kind == "api_key"  # nothing changed


def test_an_operator_tests_but_may_not_change_and_a_viewer_only_reads(psa, user_with_role):
    operator = signed_in(user_with_role("operator"))
    page = operator.get("/systems/psa/connection/")
    assert b"Test connection" in page.content and b"Only an admin can change" in page.content
    assert operator.post("/systems/psa/connection/", form(secret="x")).status_code == 403
    tested = operator.post("/systems/psa/connection/test/", follow=True)
    assert b"answered 200" in tested.content

    viewer = signed_in(user_with_role("viewer"))
    page = viewer.get("/systems/psa/connection/")
    assert page.status_code == 200 and b"Test connection" not in page.content
    assert viewer.post("/systems/psa/connection/test/").status_code == 403
    assert OutboundAuth.objects.get(system=psa).secret == RIGHT_KEY


def test_the_api_sets_and_tests_a_connection_and_never_returns_the_secret(
    psa, user_with_role, api_client_for
):
    api = api_client_for(user_with_role("admin"))
    url = "/api/v1/systems/psa/connection/"
    read = api.get(url).json()
    assert read["kind"] == "api_key" and read["secret_set"] is True and "secret" not in read
    refused = api.put(url, {"kind": "basic", "secret": "pw"}, format="json")
    assert refused.status_code == 400 and "username" in refused.json()["errors"]
    changed = api.put(url, {**form(secret="wrong"), "reason": "rotation"}, format="json")
    assert changed.status_code == 200 and "wrong" not in changed.content.decode()
    tested = api.post("/api/v1/systems/psa/test-connection/").json()
    assert tested["ok"] is False and tested["status"] == 401
    api.put(url, form(secret=RIGHT_KEY), format="json")
    tested = api.post("/api/v1/systems/psa/test-connection/").json()
    assert tested["ok"] is True and tested["status"] == 200, tested["message"]
