from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction

from controltower.operations.models import AuditEvent
from controltower.operations.services import audit_record

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
            "inbound_requests_per_minute": "600",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    audit = AuditEvent.objects.get(action="connectedsystem.change")
    assert audit.before["name"] == "CRM" and audit.after["name"] == "Salesforce CRM"
    assert audit.before["enabled"] is True and audit.after["enabled"] is False


@pytest.fixture
def history(user_with_role):
    """A few days of changes by two people, one with a reason and a comma in it."""
    ann, bob = user_with_role("admin", "ann"), user_with_role("operator", "bob")
    rows = []
    for day, actor, action, obj_id, repr_, reason in [
        (1, ann, "team.create", 7, "Rates desk", ""),
        (2, bob, "exception.assign", 41, "Missing rate: P-1042", "Taking it"),
        (3, ann, "slapolicy.update", 3, "Rate cards in a day", 'Finance asked, "urgently"'),
        (4, bob, "exception.resolve", 41, "Missing rate: P-1042", "Rate added in ERP"),
    ]:
        with time_machine.travel(dt.datetime(2026, 11, day, 10, tzinfo=dt.UTC), tick=False):
            rows.append(
                audit_record(
                    actor=actor,
                    action=action,
                    object_type=action.split(".")[0],
                    object_id=obj_id,
                    object_repr=repr_,
                    before={"n": day - 1},
                    after={"n": day},
                    reason=reason,
                )
            )
    return rows


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "P-1042"}, [3, 1]),
        ({"q": "rate added"}, [3]),
        ({"q": "ann"}, [2, 0]),
        ({"q": "41"}, [3, 1]),
        ({"user": "bob"}, [3, 1]),
        ({"object_type": "exception", "object_id": "41"}, [3, 1]),
        ({"at_after": "2026-11-02T00:00:00Z", "at_before": "2026-11-04T00:00:00Z"}, [2, 1]),
        ({"action": "team.create"}, [0]),
        ({"q": "nothing like this"}, []),
    ],
)
def test_the_audit_log_is_searched_by_user_object_time_and_free_text(
    history, user_with_role, api_client_for, query, expected
):
    rows = api_client_for(user_with_role("viewer")).get("/api/v1/audit-events/", query).data

    assert [row["id"] for row in rows["results"]] == [history[i].pk for i in expected]


def test_the_csv_export_holds_the_filtered_rows_with_a_header(
    history, user_with_role, api_client_for
):
    client = api_client_for(user_with_role("viewer"))

    response = client.get("/api/v1/audit-events/export/", {"user": "ann"})

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["slapolicy.update", "team.create"]
    policy = rows[0]
    assert policy["actor_name"] == "ann" and policy["object_repr"] == "Rate cards in a day"
    assert policy["reason"] == 'Finance asked, "urgently"'
    assert json.loads(policy["before"]) == {"n": 2} and json.loads(policy["after"]) == {"n": 3}
    assert policy["at"].startswith("2026-11-03T10:00:00")


def test_the_csv_export_with_no_match_is_only_the_header(history, user_with_role, api_client_for):
    client = api_client_for(user_with_role("viewer"))

    response = client.get("/api/v1/audit-events/export/", {"q": "nothing like this"})

    body = b"".join(response.streaming_content).decode()
    assert body.splitlines() == [
        "id,at,actor_name,action,object_type,object_id,object_repr,reason,before,after,"
        "correlation_id"
    ]


def test_the_csv_export_answers_a_client_that_asks_for_csv(history, user_with_role, api_client_for):
    viewer = api_client_for(user_with_role("viewer"))
    nobody = api_client_for(user_with_role(None))

    asked = viewer.get("/api/v1/audit-events/export/", HTTP_ACCEPT="text/csv")
    refused = nobody.get("/api/v1/audit-events/export/", HTTP_ACCEPT="text/csv")

    assert asked.status_code == 200
    assert len(list(csv.reader(io.StringIO(b"".join(asked.streaming_content).decode())))) == 5
    assert refused.status_code == 403
    assert refused.content.decode().startswith("message\r\n")


def test_a_configuration_change_through_the_api_is_found_by_its_object(
    user_with_role, api_client_for
):
    admin = api_client_for(user_with_role("admin", "ann"))
    team = admin.post(
        "/api/v1/teams/", {"name": "Rates desk", "change_reason": "New desk"}, format="json"
    ).data
    admin.patch(f"/api/v1/teams/{team['id']}/", {"email": "rates@example.com"}, format="json")

    rows = admin.get(
        "/api/v1/audit-events/",
        {"object_type": "controltower.team", "object_id": team["id"], "ordering": "at"},
    ).data["results"]

    assert [(r["action"], r["actor_name"], r["reason"]) for r in rows] == [
        ("team.create", "ann", "New desk"),
        ("team.update", "ann", ""),
    ]
    assert (rows[1]["before"]["email"], rows[1]["after"]["email"]) == ("", "rates@example.com")
