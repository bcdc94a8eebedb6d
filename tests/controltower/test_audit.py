from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from controltower.models import AuditEvent
from controltower.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(user_with_role) -> AuditEvent:
    return audit_record(
        actor=user_with_role("admin", "ann"),
        action="flow.pause",
        object_type="integrations.flow",
        object_id=1,
        object_repr="Master-data sync",
        before={"paused": False},
        after={"paused": True},
        reason="ERP upgrade",
    )


def test_an_audit_row_keeps_who_what_before_after_and_why(event):
    assert (event.actor_name, event.action, event.reason) == ("ann", "flow.pause", "ERP upgrade")
    assert event.before == {"paused": False} and event.after == {"paused": True}


def test_the_app_refuses_to_change_or_delete_an_audit_row(event):
    event.reason = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


def test_the_database_refuses_to_change_an_audit_row(event):
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE controltower_auditevent SET reason = 'rewritten' WHERE id = %s", [event.pk]
        )
    assert AuditEvent.objects.get(pk=event.pk).reason == "ERP upgrade"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row DELETE trigger is PostgreSQL's")
def test_postgresql_refuses_to_delete_an_audit_row(event):
    with (
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM controltower_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_a_user_with_a_history_cannot_be_deleted(event):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.actor.delete()


def test_the_admin_offers_no_change_or_delete_of_the_audit_log(event, client, demo):
    client.login(username="admin", password="admin")
    assert client.get("/admin/controltower/auditevent/").status_code == 200
    page = client.get(f"/admin/controltower/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert (
        client.post(
            f"/admin/controltower/auditevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )


def test_the_api_lists_and_filters_the_audit_log_and_refuses_writes(
    event, user_with_role, api_client_for
):
    client = api_client_for(user_with_role("viewer"))
    assert client.get("/api/v1/audit-events/?user=ann&action=flow.pause").json()["count"] == 1
    assert client.get("/api/v1/audit-events/?user=bob").json()["count"] == 0
    assert client.delete(f"/api/v1/audit-events/{event.pk}/").status_code in (403, 405)
    superuser = user_with_role("admin")
    superuser.is_superuser = True
    superuser.save()
    admin = api_client_for(superuser)
    assert admin.delete(f"/api/v1/audit-events/{event.pk}/").status_code == 405
    assert admin.patch(f"/api/v1/audit-events/{event.pk}/", {"reason": "x"}).status_code == 405
    assert AuditEvent.objects.get(pk=event.pk).reason == "ERP upgrade"


def test_admin_changes_to_a_system_are_audited(client, demo):
    from integrations.models import ConnectedSystem

    client.login(username="admin", password="admin")
    crm = ConnectedSystem.objects.get(slug="crm")
    response = client.post(
        f"/admin/integrations/connectedsystem/{crm.pk}/change/",
        {
            "slug": "crm",
            "name": "Salesforce CRM",
            "kind": "crm",
            "adapter": "canonical",
            "base_url": "",
            "secret_env": "",
            "rate_limit_per_minute": "",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    audit = AuditEvent.objects.get(action="connectedsystem.change")
    assert audit.before["name"] == "CRM" and audit.after["name"] == "Salesforce CRM"
    assert audit.before["enabled"] is True and audit.after["enabled"] is False
