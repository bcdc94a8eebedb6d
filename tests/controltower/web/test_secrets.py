"""Secrets are write-only: a team's webhook URLs are stored encrypted and shown masked in
every page, API answer, CSV and audit row, to every role; a change is audited as a change."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test import Client

from controltower.operations.models import AuditEvent, Team
from tests.factories.operations import TeamFactory

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T0001/B0002/s3cr3tTok3nA1f2"
MASK = "https://hooks.slack.com/…A1f2"
NEW_HOOK = "https://hooks.slack.com/services/T0001/B0002/an0therTok3nZz99"


@pytest.fixture
def admin(user_with_role):
    return user_with_role("admin", "ada")


@pytest.fixture
def viewer(user_with_role):
    return user_with_role("viewer", "vic")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored(team: Team, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM controltower_team WHERE id = %s", [team.pk])
        return cursor.fetchone()[0]


def csv_text(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_a_teams_webhook_is_stored_encrypted_and_read_back_by_the_tower_only(db):
    team = TeamFactory(chat_webhook_url=HOOK)

    assert stored(team, "chat_webhook_url").startswith("fernet:")
    assert HOOK not in stored(team, "chat_webhook_url")
    assert Team.objects.get(pk=team.pk).chat_webhook_url == HOOK


def test_the_teams_api_takes_a_webhook_and_shows_it_to_no_role_but_masked(
    admin, viewer, api_client_for
):
    created = api_client_for(admin).post(
        "/api/v1/teams/", {"name": "Billing", "chat_webhook_url": HOOK}, format="json"
    )
    assert created.status_code == 201, created.content
    assert HOOK not in created.content.decode()
    for user in (viewer, admin):
        answer = api_client_for(user).get(f"/api/v1/teams/{created.json()['id']}/")
        assert HOOK not in answer.content.decode()
        assert "chat_webhook_url" not in answer.json()
        assert answer.json()["chat_webhook"] == MASK
        assert answer.json()["escalation_webhook"] == ""


def test_an_api_change_that_leaves_the_webhook_out_keeps_it_and_an_empty_one_removes_it(
    admin, api_client_for
):
    team = TeamFactory(name="Billing", chat_webhook_url=HOOK)
    client = api_client_for(admin)

    kept = client.put(f"/api/v1/teams/{team.pk}/", {"name": "Billing ops"}, format="json")
    assert kept.status_code == 200, kept.content
    assert Team.objects.get(pk=team.pk).chat_webhook_url == HOOK

    client.patch(f"/api/v1/teams/{team.pk}/", {"chat_webhook_url": ""}, format="json")
    assert Team.objects.get(pk=team.pk).chat_webhook_url == ""


def test_the_audit_log_records_that_a_webhook_changed_never_its_value(
    admin, viewer, api_client_for
):
    team = TeamFactory(name="Billing", chat_webhook_url=HOOK)
    api_client_for(admin).patch(
        f"/api/v1/teams/{team.pk}/",
        {"chat_webhook_url": NEW_HOOK, "change_reason": "new channel"},
        format="json",
    )

    event = AuditEvent.objects.get(action="team.update")
    assert event.before["chat_webhook_url"] == "set"
    assert event.after["chat_webhook_url"] == "changed"
    client = api_client_for(viewer)
    shown = [
        client.get("/api/v1/audit-events/").content.decode(),
        csv_text(client.get("/api/v1/audit-events/export/")),
        signed_in(viewer).get("/audit/").text,
    ]
    for text in shown:
        assert "s3cr3t" not in text and "an0ther" not in text


def test_a_webhook_in_an_audit_row_written_before_masking_is_shown_masked(viewer, api_client_for):
    AuditEvent.objects.create(
        actor_name="ada",
        action="team.update",
        object_type="controltower.team",
        object_id="1",
        object_repr="Billing",
        before={"chat_webhook_url": "", "name": "Billing"},
        after={"chat_webhook_url": HOOK, "name": "Billing"},
    )
    client = api_client_for(viewer)

    [row] = client.get("/api/v1/audit-events/").json()["results"]
    assert row["after"]["chat_webhook_url"] == "set"
    exported = csv_text(client.get("/api/v1/audit-events/export/"))
    page = signed_in(viewer).get("/audit/").text
    for text in (exported, page):
        assert HOOK not in text and "s3cr3t" not in text


def test_the_team_pages_and_their_csv_show_a_webhook_masked(admin, viewer):
    team = TeamFactory(name="Billing", chat_webhook_url=HOOK)

    page = signed_in(admin).get(f"/config/teams/{team.pk}/")
    assert page.status_code == 200
    assert HOOK not in page.text and "s3cr3t" not in page.text and MASK in page.text
    assert signed_in(viewer).get(f"/config/teams/{team.pk}/").status_code == 403
    exported = csv_text(signed_in(admin).get("/config/teams/?export=csv"))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows[0]["Chat webhook"] == MASK


def test_saving_the_team_form_with_the_webhook_left_empty_keeps_it(admin):
    team = TeamFactory(name="Billing", chat_webhook_url=HOOK)
    client = signed_in(admin)
    form = {"name": "Billing ops", "email": "", "chat_webhook_url": "", "change_reason": "rename"}

    client.post(f"/config/teams/{team.pk}/", form)
    assert Team.objects.get(pk=team.pk).name == "Billing ops"
    assert Team.objects.get(pk=team.pk).chat_webhook_url == HOOK

    client.post(f"/config/teams/{team.pk}/", {**form, "chat_webhook_url": NEW_HOOK})
    assert Team.objects.get(pk=team.pk).chat_webhook_url == NEW_HOOK

    client.post(f"/config/teams/{team.pk}/", {**form, "clear_chat_webhook_url": "on"})
    assert Team.objects.get(pk=team.pk).chat_webhook_url == ""


def test_the_migration_encrypts_the_webhooks_stored_before_it(db):
    from importlib import import_module

    from django.apps import apps

    from controltower.operations.models import Notification
    from tests.factories.operations import NotificationFactory

    migration = import_module("controltower.operations.migrations.0022_webhooks_encrypted")
    team = TeamFactory(name="Billing")
    notice = NotificationFactory(channel="webhook", team=team)
    with connection.cursor() as cursor:  # as a database of that time holds them
        cursor.execute(
            "UPDATE controltower_team SET chat_webhook_url = %s WHERE id = %s", [HOOK, team.pk]
        )
        cursor.execute(
            "UPDATE controltower_notification SET recipient = %s WHERE id = %s",
            [HOOK, notice.pk],
        )

    migration.encrypt_webhooks(apps, None)

    assert stored(team, "chat_webhook_url").startswith("fernet:")
    assert Team.objects.get(pk=team.pk).chat_webhook_url == HOOK
    notice = Notification.objects.get(pk=notice.pk)
    assert (notice.recipient, notice.webhook_url) == (MASK, HOOK)


def test_the_django_admin_shows_no_webhook_and_no_signing_secret(
    demo, user_with_role, api_client_for
):
    from django.contrib.auth import get_user_model

    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw-1")
    team = TeamFactory(name="Billing", chat_webhook_url=HOOK)
    secret = "a-crm-secret-nobody-reads-back-0123"
    api_client_for(superuser).post(
        "/api/v1/systems/crm/rotate-signing-secret/", {"secret": secret}, format="json"
    )
    client = signed_in(superuser)
    crm = client.get("/admin/integrations/connectedsystem/?q=crm")
    crm_id = crm.context["cl"].result_list[0].pk
    pages = [
        client.get(f"/admin/controltower/team/{team.pk}/change/"),
        client.get(f"/admin/integrations/connectedsystem/{crm_id}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        assert "s3cr3t" not in page.text and secret not in page.text


def test_the_django_admin_makes_no_clear_text_tokens(db):
    from django.contrib import admin
    from rest_framework.authtoken.models import TokenProxy

    assert not admin.site.is_registered(TokenProxy)


def test_a_new_teams_webhook_is_audited_as_set(admin, api_client_for):
    api_client_for(admin).post(
        "/api/v1/teams/", {"name": "Billing", "chat_webhook_url": HOOK}, format="json"
    )

    event = AuditEvent.objects.get(action="team.create")
    assert (event.after["chat_webhook_url"], event.after["escalation_webhook_url"]) == ("set", "")
