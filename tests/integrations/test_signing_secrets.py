"""Inbound signing secrets rotated in the tower: the new one verifies at once, the one it
replaces for the grace period, the environment's secret is the one before any rotation, and
nobody reads a secret back except the admin who rotated it, once."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from controltower.operations.models import AuditEvent
from integrations.models import ConnectedSystem
from tests.support.inbound import customer_event, signed_post

pytestmark = pytest.mark.django_db

DEMO_SECRET = "demo-crm-secret"
GIVEN = "a-new-crm-signing-secret-0123456789"


@pytest.fixture
def admin(user_with_role):
    return user_with_role("admin", "ada")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def status_with(secret: str) -> int:
    return signed_post(Client(), "crm", customer_event(), secret=secret).status_code


def rotate(api_client, **body) -> dict:
    answer = api_client.post("/api/v1/systems/crm/rotate-signing-secret/", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_rotated_secret_verifies_at_once_and_the_replaced_one_for_the_grace_period(
    demo, admin, api_client_for, settings
):
    settings.CT_SIGNING_SECRET_GRACE_HOURS = 2
    rotated = rotate(api_client_for(admin), secret=GIVEN, reason="yearly rotation")

    assert rotated["secret"] == GIVEN
    assert rotated["signing_secret"]["source"] == "tower"
    assert status_with(GIVEN) == 202
    assert status_with(DEMO_SECRET) == 202  # the sender has two hours to switch
    assert status_with("a-secret-nobody-was-given-0000") == 401
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2, minutes=1)):
        assert status_with(DEMO_SECRET) == 401
        assert status_with(GIVEN) == 202


def test_the_tower_generates_a_secret_when_none_is_given_and_answers_it_once(
    demo, admin, api_client_for
):
    client = api_client_for(admin)
    secret = rotate(client)["secret"]

    assert len(secret) >= 40
    assert status_with(secret) == 202
    shown = client.get("/api/v1/systems/crm/").content.decode()
    assert secret not in shown
    assert client.get("/api/v1/systems/crm/").json()["signing_secret"]["source"] == "tower"


def test_the_secret_is_stored_encrypted(demo, admin, api_client_for):
    secret = rotate(api_client_for(admin))["secret"]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT signing_secret, previous_signing_secrets FROM integrations_connectedsystem "
            "WHERE slug = 'crm'"
        )
        current, previous = cursor.fetchone()
    assert current.startswith("fernet:") and secret not in current
    assert previous.startswith("fernet:") and DEMO_SECRET not in previous


def test_the_environments_secret_verifies_until_the_tower_rotates_it(
    demo, admin, api_client_for, monkeypatch, settings
):
    monkeypatch.setenv("CT_SECRET_CRM", "from-the-environment-secret-1234")
    assert ConnectedSystem.objects.get(slug="crm").signing_secret_source == "environment"
    assert status_with("from-the-environment-secret-1234") == 202
    assert status_with(DEMO_SECRET) == 401

    settings.CT_SIGNING_SECRET_GRACE_HOURS = 1
    rotate(api_client_for(admin), secret=GIVEN)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, minutes=1)):
        assert status_with("from-the-environment-secret-1234") == 401
        assert status_with(GIVEN) == 202


def test_an_admin_may_end_the_grace_period_at_once(demo, admin, api_client_for):
    client = api_client_for(admin)
    rotate(client, secret=GIVEN)

    answer = client.post("/api/v1/systems/crm/end-signing-grace/", {"reason": "leaked"})
    assert answer.status_code == 200
    assert answer.json()["signing_secret"]["previous_valid_until"] is None
    assert status_with(DEMO_SECRET) == 401
    assert status_with(GIVEN) == 202


def test_a_short_or_spaced_secret_is_refused_naming_the_field(demo, admin, api_client_for):
    client = api_client_for(admin)
    for secret in ("too-short", "has spaces in it and is long enough"):
        answer = client.post(
            "/api/v1/systems/crm/rotate-signing-secret/", {"secret": secret}, format="json"
        )
        assert answer.status_code == 400
        assert "secret" in answer.json()["errors"]
    assert status_with(DEMO_SECRET) == 202


def test_a_rotation_is_audited_without_either_secret(demo, admin, api_client_for):
    rotate(api_client_for(admin), secret=GIVEN, reason="yearly rotation")

    event = AuditEvent.objects.get(action="system.signing_secret_rotate")
    assert (event.actor_name, event.object_repr, event.reason) == ("ada", "crm", "yearly rotation")
    assert event.before["signing_secret"] == "set (demo)"
    assert event.after["signing_secret"] == "changed"
    assert event.after["previous_valid_until"]
    assert GIVEN not in str(event.after) and DEMO_SECRET not in str(event.before)


def test_only_an_admin_rotates(demo, user_with_role, api_client_for):
    operator = user_with_role("operator", "olga")
    answer = api_client_for(operator).post("/api/v1/systems/crm/rotate-signing-secret/", {})
    assert answer.status_code == 403
    assert signed_in(operator).post("/systems/crm/signing-secret/", {}).status_code == 403
    assert status_with(DEMO_SECRET) == 202


def test_the_page_rotates_and_shows_the_new_secret_on_its_answer_only(demo, admin, user_with_role):
    client = signed_in(admin)
    page = client.get("/systems/crm/signing-secret/")
    assert "The demo secret" in page.text and "Rotate" in page.text

    answer = client.post("/systems/crm/signing-secret/", {"secret": "", "reason": "new sender"})
    assert answer.status_code == 200
    secret = answer.context["new_secret"]
    assert secret in answer.text and "shown this once" in answer.text
    assert answer["Cache-Control"] == "no-store"
    assert status_with(secret) == 202

    again = client.get("/systems/crm/signing-secret/")
    assert secret not in again.text and "Set in the tower" in again.text
    viewer_page = signed_in(user_with_role("viewer", "vic")).get("/systems/crm/signing-secret/")
    assert viewer_page.status_code == 200 and secret not in viewer_page.text
    assert "Only an admin can rotate" in viewer_page.text
