"""API tokens: made with the key shown once, stored hashed, listed by their first
characters with their last use, expiring and revocable; each change audited."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from controltower.operations.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def viewer(user_with_role):
    return user_with_role("viewer", "vic")


@pytest.fixture
def admin(user_with_role):
    return user_with_role("admin", "ada")


def make(client: APIClient, **body) -> dict:
    answer = client.post("/api/v1/api-tokens/", {"name": "nightly export", **body}, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_user_makes_a_token_that_authenticates_as_them(viewer, api_client_for):
    made = make(api_client_for(viewer))

    assert made["token"].startswith(made["prefix"]) and len(made["token"]) == 64
    assert made["user"] == "vic" and made["state"] == "active"
    assert with_token(made["token"]).get("/api/v1/transactions/").status_code == 200
    # A viewer's token holds a viewer's rights, no more.
    assert with_token(made["token"]).post("/api/v1/teams/", {"name": "x"}).status_code == 403


def test_only_a_hash_of_the_key_is_stored(viewer, api_client_for):
    key = make(api_client_for(viewer))["token"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM controltower_apitoken")
        row = cursor.fetchone()
    assert not any(key in str(value) for value in row)


def test_the_list_shows_prefixes_and_last_use_never_a_key(viewer, api_client_for):
    client = api_client_for(viewer)
    key = make(client)["token"]
    assert client.get("/api/v1/api-tokens/").json()["results"][0]["last_used_at"] is None

    with_token(key).get("/api/v1/transactions/")

    listed = client.get("/api/v1/api-tokens/")
    assert key not in listed.content.decode()
    [row] = listed.json()["results"]
    assert row["prefix"] == key[:15] and row["last_used_at"] is not None


def test_a_revoked_token_is_refused_and_stays_listed_as_revoked(viewer, api_client_for):
    client = api_client_for(viewer)
    made = make(client)

    answer = client.post(f"/api/v1/api-tokens/{made['prefix']}/revoke/", {"reason": "leaked"})
    assert answer.status_code == 200 and answer.json()["state"] == "revoked"
    assert with_token(made["token"]).get("/api/v1/transactions/").status_code == 401
    again = client.post(f"/api/v1/api-tokens/{made['prefix']}/revoke/")
    assert again.status_code == 409
    [row] = client.get("/api/v1/api-tokens/").json()["results"]
    assert (row["state"], row["revoked_by"]) == ("revoked", "vic")


def test_a_token_expires_after_its_days_and_stays_listed_as_expired(viewer, api_client_for):
    client = api_client_for(viewer)
    made = make(client, days=7)

    with time_machine.travel(timezone.now() + dt.timedelta(days=7, minutes=1)):
        assert with_token(made["token"]).get("/api/v1/transactions/").status_code == 401
        [row] = client.get("/api/v1/api-tokens/").json()["results"]
        assert row["state"] == "expired"


def test_a_token_expires_after_ninety_days_unless_told_otherwise(viewer, api_client_for):
    made = make(api_client_for(viewer))
    expiry = dt.datetime.fromisoformat(made["expiry"])
    assert abs(expiry - (timezone.now() + dt.timedelta(days=90))) < dt.timedelta(minutes=1)


def test_people_see_and_revoke_only_their_own_tokens_and_an_admin_everyones(
    viewer, admin, user_with_role, api_client_for
):
    mine = make(api_client_for(viewer))
    other = api_client_for(user_with_role("operator", "olga"))

    assert other.get("/api/v1/api-tokens/").json()["results"] == []
    assert other.post(f"/api/v1/api-tokens/{mine['prefix']}/revoke/").status_code == 404
    assert (
        other.post("/api/v1/api-tokens/", {"name": "x", "user": "vic"}, format="json").status_code
        == 403
    )
    admin_client = api_client_for(admin)
    assert [r["user"] for r in admin_client.get("/api/v1/api-tokens/").json()["results"]] == ["vic"]
    robot = make(admin_client, user="vic", name="made for vic")
    assert robot["user"] == "vic"
    assert admin_client.post(f"/api/v1/api-tokens/{mine['prefix']}/revoke/").status_code == 200


def test_making_and_revoking_are_audited_without_the_key(viewer, api_client_for):
    client = api_client_for(viewer)
    made = make(client, reason="for the nightly export")
    client.post(f"/api/v1/api-tokens/{made['prefix']}/revoke/", {"reason": "done"})

    created, revoked = AuditEvent.objects.filter(action__startswith="api_token.").order_by("id")
    assert (created.action, created.actor_name, created.object_id) == (
        "api_token.create",
        "vic",
        made["prefix"],
    )
    assert created.after["name"] == "nightly export"
    assert (revoked.action, revoked.reason) == ("api_token.revoke", "done")
    assert revoked.after["revoked_at"] is not None
    for event in (created, revoked):
        assert made["token"] not in str(event.before) + str(event.after)


def test_createtoken_makes_a_new_token_and_rotate_revokes_the_old_ones(viewer, capsys):
    call_command("createtoken", "vic")
    first = capsys.readouterr().out.strip()
    call_command("createtoken", "vic", "--rotate")
    second = capsys.readouterr().out.strip()

    assert with_token(first).get("/api/v1/transactions/").status_code == 401
    assert with_token(second).get("/api/v1/transactions/").status_code == 200
    assert ApiToken.objects.filter(user=viewer).count() == 2


def test_the_migration_hashes_the_tokens_made_before_and_they_keep_working(viewer):
    from importlib import import_module

    from django.apps import apps
    from rest_framework.authtoken.models import Token

    migration = import_module("controltower.operations.migrations.0023_api_tokens")
    old = Token.objects.create(user=viewer)

    migration.hash_old_tokens(apps, None)

    assert not Token.objects.exists()
    [token] = ApiToken.objects.filter(user=viewer)
    assert token.token_key == old.key[:15] and old.key not in token.digest
    assert with_token(old.key).get("/api/v1/transactions/").status_code == 200
