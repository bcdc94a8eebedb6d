"""The audit log page: filters in the query string, readable diffs, times in the reader's zone, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client

from controltower.operations.models import AuditEvent
from controltower.operations.services.audit import audit_record
from controltower.operations.services.config import config_save
from tests.factories.operations import BusinessCalendarFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(user_with_role):
    return user_with_role("admin", "ada")


@pytest.fixture
def viewer(user_with_role):
    return user_with_role("viewer", "vic")


def signed_in(user, time_zone: str = "") -> Client:
    client = Client()
    client.force_login(user)
    if time_zone:
        client.cookies["tz"] = time_zone
    return client


def shown(response) -> list[AuditEvent]:
    return [row.obj for row in response.context["table"].rows]


@pytest.fixture
def history(admin, user_with_role):
    """A small log: a team made and renamed by ada, a flow paused by bob, on different days."""
    bob = user_with_role("operator", "bob")
    calendar = BusinessCalendarFactory(name="Berlin office")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        team = config_save(
            actor=admin, instance=TeamFactory.build(name="Finance ops"), reason="New queue"
        )
    with time_machine.travel(dt.datetime(2026, 3, 3, 23, 30, tzinfo=dt.UTC), tick=False):
        team.name = "Finance operations"
        team.calendar = calendar
        config_save(actor=admin, instance=team, m2m={"members": [bob.pk]}, reason="Tidy name")
    with time_machine.travel(dt.datetime(2026, 3, 5, 14, 0, tzinfo=dt.UTC), tick=False):
        audit_record(
            actor=bob,
            action="flow.pause",
            object_type="integrations.flow",
            object_id=4,
            object_repr="Time to billing",
            before={"paused": False},
            after={"paused": True},
            reason="ERP upgrade tonight",
        )
    return {"team": team, "bob": bob, "calendar": calendar}


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_every_role_reads_the_audit_log(role, user_with_role, history):
    response = signed_in(user_with_role(role)).get("/audit/")
    assert response.status_code == 200
    assert len(shown(response)) == 3
    assert "Download CSV" in response.text


def test_a_user_without_a_role_may_not_read_the_audit_log(user_with_role):
    assert signed_in(user_with_role(None)).get("/audit/").status_code == 403
    assert Client().get("/audit/").status_code == 302


def test_the_newest_entry_comes_first(admin, history):
    actions = [event.action for event in shown(signed_in(admin).get("/audit/"))]
    assert actions == ["flow.pause", "team.update", "team.create"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"user": "bob"}, ["flow.pause"]),
        ({"user": "ada"}, ["team.update", "team.create"]),
        ({"action": "team.update"}, ["team.update"]),
        ({"object_type": "controltower.team"}, ["team.update", "team.create"]),
        ({"object_type": "integrations.flow", "object_id": "4"}, ["flow.pause"]),
        ({"q": "erp upgrade"}, ["flow.pause"]),
        ({"q": "Finance operations"}, ["team.update"]),
        ({"at_after": "2026-03-03T00:00", "at_before": "2026-03-05T00:00"}, ["team.update"]),
        ({"user": "nobody"}, []),
    ],
)
def test_the_log_filters_by_user_action_object_text_and_time(admin, history, query, expected):
    response = signed_in(admin).get("/audit/", query)
    assert [event.action for event in shown(response)] == expected


def test_the_time_filter_reads_the_readers_own_time_zone(admin, history):
    # 23:30 UTC on 3 March is already 4 March in Berlin (UTC+1).
    berlin = signed_in(admin, "Europe/Berlin")
    response = berlin.get(
        "/audit/", {"at_after": "2026-03-04T00:00", "at_before": "2026-03-04T23:59"}
    )
    assert [event.action for event in shown(response)] == ["team.update"]
    assert "04 Mar 2026 00:30" in response.text

    utc = signed_in(admin)
    response = utc.get("/audit/", {"at_after": "2026-03-04T00:00", "at_before": "2026-03-04T23:59"})
    assert shown(response) == []


def test_times_are_shown_absolute_and_relative(admin, history):
    with time_machine.travel(dt.datetime(2026, 3, 5, 17, 0, tzinfo=dt.UTC), tick=False):
        page = signed_in(admin, "America/New_York").get("/audit/", {"action": "flow.pause"}).text
    assert '<time datetime="2026-03-05T14:00:00+00:00"' in page
    assert "05 Mar 2026 09:00" in page  # New York is UTC-5 in March before the clocks change
    assert "3\xa0hours ago" in page  # a no-break space keeps the number with its unit
    assert 'data-time-zone="America/New_York"' in page


def test_a_change_is_shown_as_a_readable_field_diff(admin, history):
    response = signed_in(admin).get("/audit/", {"action": "team.update"})
    page = response.text
    assert "Finance ops</del>" in page and "Finance operations</ins>" in page
    # Ids are shown by name: the calendar and the members.
    assert "Berlin office</ins>" in page
    assert "bob</ins>" in page
    assert "Tidy name" in page
    # Fields that did not change are left out.
    assert "Email" not in page.split('class="diff"')[1].split("</table>")[0]


def test_a_creation_lists_the_fields_it_was_made_with(admin, history):
    page = signed_in(admin).get("/audit/", {"action": "team.create"}).text
    # Name, email, escalation email and the default flag; the empty fields are left out.
    assert "Created with 4 fields" in page
    diff = page.split("<details")[1].split("</details>")[0]
    assert "Finance ops" in diff and "Is default" in diff
    assert "Chat webhook" not in diff


def test_an_object_links_to_its_page_and_to_its_own_history(admin, history):
    team = history["team"]
    page = signed_in(admin).get("/audit/", {"action": "team.update"}).text
    assert f'href="/config/teams/{team.pk}/"' in page
    assert f'href="?object_type=controltower.team&amp;object_id={team.pk}"' in page


def test_the_csv_link_exports_exactly_the_current_filter(admin, history):
    client = signed_in(admin)
    page = client.get("/audit/", {"user": "ada", "sort": "at", "page": "1"})
    link = page.context["export_url"]
    parts = urlsplit(link)
    assert parts.path == "/api/v1/audit-events/export/"
    assert parse_qs(parts.query) == {"user": ["ada"], "ordering": ["at"]}
    assert f'href="{link.replace("&", "&amp;")}"' in page.text

    response = client.get(link)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["action"] for row in rows] == ["team.create", "team.update"]


def test_the_log_is_paged_and_sorted_from_the_query_string(admin):
    for number in range(30):
        audit_record(
            actor=admin,
            action="team.update",
            object_type="controltower.team",
            object_id=number,
            object_repr=f"Team {number:02}",
        )
    client = signed_in(admin)
    first = client.get("/audit/")
    assert len(shown(first)) == 25 and "Showing 1 to 25 of 30" in first.text
    second = client.get("/audit/?page=2")
    assert len(shown(second)) == 5
    by_object = client.get("/audit/?sort=object")
    assert shown(by_object)[0].object_repr == "Team 00"


def test_a_filter_that_matches_nothing_says_what_to_do(admin, history):
    client = signed_in(admin)
    assert "No audit entries match these filters." in client.get("/audit/?user=nobody").text


def test_a_fresh_log_explains_what_will_appear_in_it(admin):
    page = signed_in(admin).get("/audit/").text
    assert "Nothing has been audited yet." in page
    assert "Download CSV" not in page


def test_an_unreadable_time_filter_is_shown_on_its_field(admin, history):
    response = signed_in(admin).get("/audit/", {"at_after": "yesterday-ish"})
    assert response.status_code == 200
    assert "a filter could not be read" in response.text
    assert response.context["form"].errors["at_after"]
    assert shown(response) == []


@pytest.mark.parametrize("role", ["viewer", "operator", "approver", "admin"])
def test_an_invoice_amount_in_the_audit_log_is_masked_below_finance_everywhere_it_shows(
    role, user_with_role, api_client_for
):
    from canonical.models import Invoice
    from controltower.operations.services.approvals import invoice_prepare
    from tests.factories.canonical import InvoiceFactory

    invoice = InvoiceFactory(number="INV-9001", amount="98765.43")
    invoice_prepare(invoice_id=invoice.pk, actor=user_with_role("operator", "opal"), note="ok")
    reader = user_with_role(role)
    sees = role in ("approver", "admin")

    page = signed_in(reader).get("/audit/?object_type=canonical.invoice")
    api = api_client_for(reader).get("/api/v1/audit-events/", {"object_type": "canonical.invoice"})
    export = api_client_for(reader).get(
        "/api/v1/audit-events/export/", {"object_type": "canonical.invoice"}
    )

    assert page.status_code == 200 and Invoice.objects.filter(number="INV-9001").exists()
    assert ("98765.43" in page.text) is sees
    [event] = api.data["results"]
    assert event["after"]["amount"] == ("98765.43" if sees else "•••")
    assert event["after"]["status"] == "awaiting_approval"  # the rest is as it was recorded
    text = b"".join(export.streaming_content).decode()
    assert ("98765.43" in text) is sees
    assert AuditEvent.objects.get(action="invoice.prepare").after["amount"] == "98765.43"


def test_a_related_object_recorded_by_its_name_is_shown_as_that_name(admin, history):
    # An SLA breach's events name their policy instead of giving its id.
    audit_record(
        actor=admin,
        action="sla.escalate",
        object_type="controltower.slabreach",
        object_id=7,
        object_repr="SLA breach 7",
        before=None,
        after={"policy": "Approved time → invoice candidate", "team": history["team"].pk},
        reason="Still breached",
    )
    response = signed_in(admin).get("/audit/", {"action": "sla.escalate"})
    assert response.status_code == 200
    assert "Approved time → invoice candidate" in response.text
    assert "Finance operations" in response.text
