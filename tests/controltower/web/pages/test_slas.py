"""The SLA page: policies, what is at risk or breached now, the breach history and notifications."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from controltower.operations.choices import SlaState
from controltower.operations.models import SlaBreach
from tests.factories.operations import (
    NotificationAttemptFactory,
    NotificationFactory,
    SlaBreachFactory,
)
from tests.support.work_scene import work_scene

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "operator", "approver", "admin"]
PAGES = ["/slas/", "/slas/history/", "/slas/notifications/"]


@pytest.fixture
def scene():
    return work_scene()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_each_sla_page_and_none_has_an_action_there(role, page, scene):
    response = signed_in(scene.users[role]).get(page)
    assert response.status_code == 200
    main = response.text.split('<main id="main"', 1)[1]
    posts = re.findall(r'<form method="post" action="([^"]*)"', main)
    assert posts and all(url.startswith("/saved-views/") for url in posts)  # one's own views only


def test_the_sla_page_lists_policies_with_their_configuration_links_and_what_is_late_now(scene):
    response = signed_in(scene.users["viewer"]).get("/slas/")
    text = response.text
    assert "High-severity exceptions resolved" in text
    assert "/config/sla-policies/" in text
    assert "8 h" in text and "Business hours" in text and "Around the clock" in text
    assert (response.context["breached_now"], response.context["at_risk_now"]) == (1, 1)
    states = [row.obj.state for row in response.context["table"].rows]
    assert states == [SlaState.BREACHED, SlaState.AT_RISK]  # due soonest first
    assert f'href="/exceptions/{scene.rate.pk}/"' in text
    assert '<span class="badge danger">Breached</span>' in text


def test_an_admin_is_told_where_to_change_the_policies(scene):
    admin = signed_in(scene.users["admin"]).get("/slas/").text
    viewer = signed_in(scene.users["viewer"]).get("/slas/").text
    assert "(an admin's task)" in viewer and "(an admin's task)" not in admin


def test_a_met_breach_leaves_the_now_list_but_stays_in_the_history(scene):
    breach = SlaBreach.objects.get(exception=scene.hold)
    breach.met_at = breach.due_at
    breach.state = SlaState.MET
    breach.save()
    client = signed_in(scene.users["viewer"])
    assert [r.obj.pk for r in client.get("/slas/").context["table"].rows] != [breach.pk]
    history = client.get("/slas/history/?state=met")
    assert [r.obj.pk for r in history.context["table"].rows] == [breach.pk]
    assert client.get("/slas/history/?open=true").context["table"].total == 1


def test_the_history_filters_by_state_policy_team_and_time(scene):
    SlaBreachFactory(team=scene.master_data)  # another policy, another team
    client = signed_in(scene.users["viewer"])
    assert client.get("/slas/history/").context["table"].total == 3
    breached = client.get("/slas/history/?state=breached")
    assert breached.context["table"].total == 2
    assert breached.context["filters_active"]
    team = client.get(f"/slas/history/?team={scene.finance.pk}")
    assert team.context["table"].total == 2
    policy = SlaBreach.objects.get(exception=scene.rate).policy
    assert client.get(f"/slas/history/?policy={policy.pk}").context["table"].total == 1
    assert client.get("/slas/history/?breached_after=2099-01-01T00:00").context["table"].total == 0
    assert client.get("/slas/history/?kind=flow").context["table"].total == 0


def test_the_history_exports_what_it_shows_as_csv(scene):
    response = signed_in(scene.users["viewer"]).get("/slas/history/?state=breached&export=csv")
    [row] = rows(response)
    assert row["State"] == "Breached"
    assert row["Item"].endswith("Missing rate card or rate P-1042")
    assert row["Policy"] == "High-severity exceptions resolved"
    assert row["Team"] == "Finance operations"
    assert row["Breached"] and row["Escalated"] and not row["Met"]


def test_notifications_show_their_delivery_and_every_attempt(scene):
    response = signed_in(scene.users["viewer"]).get("/slas/notifications/")
    text = response.text
    assert "Failed after retries" in text and "Connection refused" in text
    assert "2 attempts" in text
    assert "#1" in text and "failed (503)" in text and "delivered (250)" in text
    failed = signed_in(scene.users["viewer"]).get("/slas/notifications/?status=failed")
    assert [r.obj.kind for r in failed.context["table"].rows] == ["escalation"]
    searched = signed_in(scene.users["viewer"]).get("/slas/notifications/?q=finance-ops")
    assert searched.context["table"].total == 1


def test_notifications_export_as_csv(scene):
    response = signed_in(scene.users["viewer"]).get(
        "/slas/notifications/?export=csv&sort=created_at"
    )
    exported = rows(response)
    assert [(r["Kind"], r["Channel"], r["Delivery"], r["Attempts"]) for r in exported] == [
        ("Breach", "Email", "Sent", "2"),
        ("Escalation", "Chat webhook", "Failed after retries", "5"),
    ]


def test_empty_sla_pages_say_what_would_appear(user_with_role):
    client = signed_in(user_with_role("viewer"))
    assert "No SLA policies yet" in client.get("/slas/").text
    assert "Nothing is at risk or breached right now" in client.get("/slas/").text
    assert "No breaches recorded yet" in client.get("/slas/history/").text
    assert "No notifications sent yet" in client.get("/slas/notifications/").text


@pytest.mark.parametrize("page", PAGES)
def test_each_sla_page_runs_the_same_queries_for_many_rows(
    page, scene, django_assert_max_num_queries
):
    client = signed_in(scene.users["viewer"])
    client.get(page)
    with django_assert_max_num_queries(14) as few:
        client.get(page)
    for _ in range(20):
        breach = SlaBreachFactory(team=scene.finance)
        NotificationAttemptFactory(
            notification=NotificationFactory(breach=breach, team=scene.finance)
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(page)
