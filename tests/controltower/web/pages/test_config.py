"""The configuration pages: who sees what, saving through the audited service, the rule preview."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client

from controltower.operations.models import (
    AuditEvent,
    BusinessCalendar,
    BusinessException,
    Holiday,
    MaintenanceWindow,
    OwnershipRule,
    PeriodClose,
    SlaPolicy,
    Team,
)
from integrations.choices import ExceptionStatus, ExceptionType, FlowKind
from tests.factories.canonical import CustomerFactory, LegalEntityFactory
from tests.factories.operations import (
    BusinessCalendarFactory,
    BusinessExceptionFactory,
    HolidayFactory,
    MaintenanceWindowFactory,
    PeriodCloseFactory,
    SlaPolicyFactory,
    TeamFactory,
)

pytestmark = pytest.mark.django_db

SECTIONS = ["teams", "rules", "calendars", "sla-policies", "maintenance-windows", "period-closes"]
HTMX = {"HTTP_HX_REQUEST": "true"}


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


@pytest.fixture
def one_of_each() -> dict[str, object]:
    """One saved object per configuration section, keyed by the section's slug."""
    calendar = BusinessCalendarFactory(name="Berlin office")
    HolidayFactory(calendar=calendar, date=dt.date(2026, 12, 25), name="Christmas")
    team = TeamFactory(name="Billing ops", calendar=calendar, is_default=True)
    return {
        "teams": team,
        "rules": OwnershipRule.objects.create(
            team=team, exception_type=ExceptionType.MISSING_RATE_CARD
        ),
        "calendars": calendar,
        "sla-policies": SlaPolicyFactory(name="Contract to project in 4 h", team=team),
        "maintenance-windows": MaintenanceWindowFactory(name="ERP upgrade"),
        "period-closes": PeriodCloseFactory(name="November close"),
    }


# Who sees what


@pytest.mark.parametrize("section", SECTIONS)
def test_an_admin_sees_each_list_with_its_add_edit_and_delete_actions(section, admin, one_of_each):
    obj = one_of_each[section]
    client = signed_in(admin)

    listing = client.get(f"/config/{section}/")
    assert listing.status_code == 200
    assert f'href="/config/{section}/new/"' in listing.text
    assert f'href="/config/{section}/{obj.pk}/"' in listing.text

    edit = client.get(f"/config/{section}/{obj.pk}/")
    assert edit.status_code == 200
    assert "Save changes" in edit.text
    assert f'href="/config/{section}/{obj.pk}/delete/"' in edit.text

    assert client.get(f"/config/{section}/new/").status_code == 200
    assert client.get(f"/config/{section}/{obj.pk}/delete/").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
@pytest.mark.parametrize("section", SECTIONS)
def test_every_configuration_page_is_403_below_admin(section, role, user_with_role, one_of_each):
    obj = one_of_each[section]
    client = signed_in(user_with_role(role))

    for url in ("/config/", f"/config/{section}/", f"/config/{section}/{obj.pk}/"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "The configuration is for admins" in response.text
    assert client.get(f"/config/{section}/?export=csv").status_code == 403
    if section == "rules":
        assert client.get(f"/config/rules/{obj.pk}/preview/").status_code == 403
        assert client.get("/config/rules/preview/").status_code == 403


def test_the_configuration_overview_offers_adding_to_an_admin(admin, one_of_each):
    admin_page = signed_in(admin).get("/config/")
    assert admin_page.status_code == 200
    assert "Add team" in admin_page.text
    assert "Ownership rules" in admin_page.text


def test_a_viewer_gets_403_on_every_change(viewer, one_of_each):
    client = signed_in(viewer)
    calendar, team = one_of_each["calendars"], one_of_each["teams"]
    holiday = calendar.holidays.get()
    posts = [
        ("/config/teams/new/", {"name": "Sneaky"}),
        (f"/config/teams/{team.pk}/", {"name": "Renamed"}),
        (f"/config/teams/{team.pk}/delete/", {}),
        ("/config/rules/reroute/", {"reason": "because"}),
        (f"/config/calendars/{calendar.pk}/holidays/", {"date": "2026-01-01"}),
        (f"/config/calendars/{calendar.pk}/holidays/{holiday.pk}/delete/", {}),
    ]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "Not allowed" in response.text
    assert client.get("/config/teams/new/").status_code == 403
    assert Team.objects.get(pk=team.pk).name == "Billing ops"
    assert Team.objects.count() == 1 and Holiday.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_a_user_without_a_role_may_not_see_the_configuration(user_with_role, one_of_each):
    client = signed_in(user_with_role(None))
    assert client.get("/config/").status_code == 403
    assert client.get("/config/teams/").status_code == 403


def test_someone_signed_out_is_sent_to_sign_in():
    response = Client().get("/config/teams/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/config/teams/"


def test_an_unknown_section_is_not_found(admin):
    assert signed_in(admin).get("/config/widgets/").status_code == 404


# Saving through the audited service


def test_an_admin_adds_edits_and_deletes_a_team_and_each_change_is_audited(admin, user_with_role):
    calendar = BusinessCalendarFactory(name="London office")
    member = user_with_role("operator", "olga")
    client = signed_in(admin)

    response = client.post(
        "/config/teams/new/",
        {
            "name": "Finance ops",
            "email": "finance@example.com",
            "escalation_email": "cfo@example.com",
            "calendar": calendar.pk,
            "members": [member.pk, admin.pk],
            "change_reason": "New finance queue",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/config/teams/"
    team = Team.objects.get(name="Finance ops")
    assert set(team.members.all()) == {member, admin}
    created = AuditEvent.objects.get(action="team.create")
    assert created.actor == admin and created.reason == "New finance queue"
    assert created.before is None
    assert created.after["members"] == sorted([member.pk, admin.pk])
    assert "Added the team “Finance ops”" in client.get("/config/teams/").text

    client.post(
        f"/config/teams/{team.pk}/",
        {"name": "Finance operations", "members": [member.pk], "change_reason": "Rename"},
    )
    updated = AuditEvent.objects.get(action="team.update")
    assert updated.before["name"] == "Finance ops"
    assert updated.after["name"] == "Finance operations"
    assert updated.after["members"] == [member.pk]
    assert updated.after["calendar"] is None  # emptied in the form

    response = client.post(f"/config/teams/{team.pk}/delete/", {"change_reason": "Merged"})
    assert response.status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()
    deleted = AuditEvent.objects.get(action="team.delete")
    assert deleted.before["name"] == "Finance operations" and deleted.reason == "Merged"


@pytest.mark.parametrize(
    ("section", "data", "model", "check"),
    [
        (
            "rules",
            {"flow": FlowKind.TIME_TO_BILLING, "priority": "5", "active": "on"},
            OwnershipRule,
            lambda rule: rule.flow == FlowKind.TIME_TO_BILLING and rule.priority == 5,
        ),
        (
            "calendars",
            {
                "name": "New York office",
                "time_zone": "America/New_York",
                "working_days": ["0", "1", "2", "3"],
                "day_start": "08:30",
                "day_end": "16:30",
            },
            BusinessCalendar,
            lambda cal: cal.working_days == [0, 1, 2, 3] and cal.day_start == dt.time(8, 30),
        ),
        (
            "sla-policies",
            {
                "name": "Rate cards fixed in a day",
                "kind": "exception",
                "exception_type": ExceptionType.MISSING_RATE_CARD,
                "target_minutes": "480",
                "business_hours": "on",
                "at_risk_share": "0.75",
                "escalate_after_minutes": "120",
                "active": "on",
            },
            SlaPolicy,
            lambda policy: policy.business_hours and policy.target_minutes == 480,
        ),
        (
            "maintenance-windows",
            {
                "name": "CRM upgrade",
                "starts_at": "2026-12-05T22:00",
                "ends_at": "2026-12-06T02:00",
                "reason": "Vendor release",
            },
            MaintenanceWindow,
            lambda window: window.ends_at - window.starts_at == dt.timedelta(hours=4),
        ),
        (
            "period-closes",
            {"closes_on": "2026-12-31", "name": "Year end", "lead_days": "5"},
            PeriodClose,
            lambda close: close.closes_on == dt.date(2026, 12, 31) and close.lead_days == 5,
        ),
    ],
)
def test_an_admin_adds_each_kind_of_configuration_through_its_page(
    section, data, model, check, admin
):
    team = TeamFactory(name="Ops")
    if section == "rules":
        data = {**data, "team": team.pk}
    response = signed_in(admin).post(f"/config/{section}/new/", data)
    assert response.status_code == 302, response.context["form"].errors
    obj = model.objects.get()
    assert check(obj)
    event = AuditEvent.objects.get(action=f"{model._meta.model_name}.create")
    assert event.object_id == str(obj.pk) and event.actor == admin


def test_a_maintenance_window_is_read_in_the_time_zone_of_the_reader(admin):
    client = signed_in(admin)
    client.cookies["tz"] = "Europe/Berlin"
    client.post(
        "/config/maintenance-windows/new/",
        {"name": "ERP patch", "starts_at": "2026-07-01T22:00", "ends_at": "2026-07-01T23:30"},
    )
    window = MaintenanceWindow.objects.get()
    assert window.starts_at == dt.datetime(2026, 7, 1, 20, 0, tzinfo=dt.UTC)  # CEST is UTC+2
    page = client.get("/config/maintenance-windows/")
    assert "01 Jul 2026 22:00" in page.text
    assert "Times are shown in" in page.text and "Europe/Berlin" in page.text


# Validation


def test_invalid_input_is_shown_beside_its_field_and_in_the_summary(admin):
    response = signed_in(admin).post(
        "/config/calendars/new/",
        {
            "name": "",
            "time_zone": "Mars/Olympus",
            "working_days": ["1"],
            "day_start": "17:00",
            "day_end": "09:00",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"name", "time_zone", "day_end"}
    page = response.text
    assert 'class="error-summary" role="alert"' in page
    assert 'href="#id_time_zone"' in page
    assert 'id="id_time_zone_error"' in page
    assert 'aria-invalid="true"' in page
    assert "The working day must end after it starts." in page
    assert "is not a known time zone" in page
    assert not BusinessCalendar.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_rule_without_any_criterion_is_refused_with_the_reason(admin):
    team = TeamFactory()
    response = signed_in(admin).post("/config/rules/new/", {"team": team.pk, "active": "on"})
    assert response.status_code == 200
    assert "A rule needs at least one criterion" in response.text
    assert not OwnershipRule.objects.exists()


def test_a_second_default_team_is_refused_on_its_field(admin):
    TeamFactory(name="Catch-all", is_default=True)
    response = signed_in(admin).post("/config/teams/new/", {"name": "Other", "is_default": "on"})
    assert "Catch-all is the default team already" in response.text
    assert response.context["form"].errors["is_default"]
    assert Team.objects.count() == 1


def test_a_refused_delete_shows_the_service_message(admin):
    calendar = BusinessCalendarFactory(name="Shared")
    TeamFactory(calendar=calendar)
    response = signed_in(admin).post(f"/config/calendars/{calendar.pk}/delete/")
    assert response.status_code == 409
    assert "is still in use and was not deleted" in response.text
    assert "choose another calendar there first" in response.text
    assert BusinessCalendar.objects.filter(pk=calendar.pk).exists()
    assert not AuditEvent.objects.filter(action="businesscalendar.delete").exists()


# Lists: empty states, search, sorting, paging, filters, CSV


def test_an_empty_list_says_what_to_do(admin):
    page = signed_in(admin).get("/config/rules/").text
    assert "No ownership rules yet: every exception goes to the default team." in page
    assert "Add the first ownership rule" in page


def test_a_list_searches_sorts_and_pages_from_the_query_string(admin):
    for index in range(30):
        TeamFactory(name=f"Team {index:02}")
    client = signed_in(admin)

    first = client.get("/config/teams/")
    assert [row.obj.name for row in first.context["table"].rows][:2] == ["Team 00", "Team 01"]
    assert len(first.context["table"].rows) == 25
    assert "Showing 1 to 25 of 30" in first.text
    assert 'href="?page=2" rel="next"' in first.text

    second = client.get("/config/teams/?page=2")
    assert [row.obj.name for row in second.context["table"].rows] == [
        f"Team {i}" for i in range(25, 30)
    ]

    backwards = client.get("/config/teams/?sort=-name")
    assert backwards.context["table"].rows[0].obj.name == "Team 29"
    assert 'aria-sort="descending"' in backwards.text

    found = client.get("/config/teams/?q=team+07")
    assert [row.obj.name for row in found.context["table"].rows] == ["Team 07"]

    nothing = client.get("/config/teams/?q=nobody")
    assert "Nothing here matches “nobody”" in nothing.text


@pytest.mark.parametrize("section", SECTIONS)
def test_every_list_sorts_by_each_of_its_columns_and_downloads_as_csv(section, admin, one_of_each):
    from controltower.web.pages.config import SECTIONS as DECLARED

    client = signed_in(admin)
    for column in DECLARED[section].columns:
        if column.order_by:
            for sort in (column.key, f"-{column.key}"):
                response = client.get(f"/config/{section}/", {"sort": sort})
                assert response.status_code == 200, sort
                assert len(response.context["table"].rows) == 1
    export = client.get(f"/config/{section}/", {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0] == [c.label for c in DECLARED[section].columns if c.csv]
    assert len(rows) == 2


def test_a_list_filters_with_the_shared_filterset(admin):
    ops, finance = TeamFactory(name="Ops"), TeamFactory(name="Finance")
    OwnershipRule.objects.create(team=ops, flow=FlowKind.TIME_TO_BILLING)
    OwnershipRule.objects.create(team=finance, flow=FlowKind.MASTER_DATA_SYNC, active=False)
    client = signed_in(admin)

    page = client.get(f"/config/rules/?team={finance.pk}")
    assert [row.obj.team for row in page.context["table"].rows] == [finance]
    assert '<details class="filters-box" open>' in page.text

    page = client.get("/config/rules/?active=true")
    assert [row.obj.team for row in page.context["table"].rows] == [ops]


def test_a_list_downloads_as_csv_with_its_search_and_order(admin):
    TeamFactory(name="Alpha", email="alpha@example.com", chat_webhook_url="https://chat/a")
    TeamFactory(name="Beta", email="=cmd@example.com")
    TeamFactory(name="Gamma")
    response = signed_in(admin).get("/config/teams/?q=a&sort=-name&export=csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="teams.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:4] == ["Name", "Default", "Members", "Email"]
    assert "Chat webhook" in rows[0]
    assert [row[0] for row in rows[1:]] == ["Gamma", "Beta", "Alpha"]
    assert rows[2][3] == "'=cmd@example.com"  # no formula reaches a spreadsheet


# The ownership rule preview and re-routing


@pytest.fixture
def exceptions_to_route():
    """Open exceptions across two legal entities and customers, some with the default team."""
    default = TeamFactory(name="Catch-all", is_default=True)
    us, gb = LegalEntityFactory(code="US01"), LegalEntityFactory(code="GB01")
    acme = CustomerFactory(number="C-1001", name="Acme", legal_entity=us)
    globex = CustomerFactory(number="C-1002", name="Globex", legal_entity=gb)

    def make(key, entity, customer, money, **extra):
        return BusinessExceptionFactory(
            business_key=key,
            legal_entity=entity,
            customer=customer,
            team=default,
            money_at_risk=Decimal(money),
            currency=entity.currency,
            **extra,
        )

    return {
        "default": default,
        "us": us,
        "gb": gb,
        "acme": acme,
        "globex": globex,
        "acme_1": make("P-1001", us, acme, "1200.00"),
        "acme_2": make("P-1002", us, acme, "800.50", exception_type=ExceptionType.BILLING_HOLD),
        "globex_1": make("P-2001", gb, globex, "300.00"),
        "closed": make("P-1003", us, acme, "999.00", status=ExceptionStatus.RESOLVED),
    }


def test_the_rule_preview_shows_the_open_exceptions_the_rule_would_take(admin, exceptions_to_route):
    team = TeamFactory(name="US billing")
    response = signed_in(admin).get(
        "/config/rules/preview/",
        {"team": team.pk, "legal_entity": exceptions_to_route["us"].pk, "active": "on"},
        **HTMX,
    )
    assert response.status_code == 200
    page = response.text
    assert "<html" not in page  # only the panel, for htmx to swap in
    assert 'data-preview-count="2"' in page
    assert "P-1001" in page and "P-1002" in page
    assert "P-2001" not in page and "P-1003" not in page  # another entity; not open
    assert "Catch-all" in page  # where they are now
    assert "2,000.50 USD" in page
    assert [exc.business_key for exc in response.context["preview"]["rows"]] == [
        "P-1001",
        "P-1002",
    ]


def test_the_preview_narrows_as_criteria_are_added_and_explains_an_invalid_rule(
    admin, exceptions_to_route
):
    team = TeamFactory(name="Holds")
    client = signed_in(admin)
    narrower = client.get(
        "/config/rules/preview/",
        {
            "team": team.pk,
            "legal_entity": exceptions_to_route["us"].pk,
            "exception_type": ExceptionType.BILLING_HOLD,
            "active": "on",
        },
    )
    assert [e.business_key for e in narrower.context["preview"]["rows"]] == ["P-1002"]

    no_criterion = client.get("/config/rules/preview/", {"team": team.pk, "active": "on"})
    assert "A rule needs at least one criterion" in no_criterion.text

    no_team = client.get("/config/rules/preview/", {"flow": FlowKind.TIME_TO_BILLING})
    assert "Team: This field is required." in no_team.text

    inactive = client.get(
        "/config/rules/preview/", {"team": team.pk, "customer": exceptions_to_route["acme"].number}
    )
    assert 'data-preview-count="0"' in inactive.text and "it is not active" in inactive.text


def test_the_preview_of_an_edited_rule_weighs_the_edit_against_the_other_rules(
    admin, exceptions_to_route
):
    us_team, acme_team = TeamFactory(name="US team"), TeamFactory(name="Acme team")
    OwnershipRule.objects.create(team=acme_team, customer=exceptions_to_route["acme"])
    rule = OwnershipRule.objects.create(team=us_team, legal_entity=exceptions_to_route["gb"])

    saved = signed_in(admin).get(f"/config/rules/{rule.pk}/")
    assert [e.business_key for e in saved.context["preview"]["rows"]] == ["P-2001"]

    # Moved to the US entity, the rule still loses Acme's exceptions to the customer rule.
    edited = signed_in(admin).get(
        f"/config/rules/{rule.pk}/preview/",
        {"team": us_team.pk, "legal_entity": exceptions_to_route["us"].pk, "active": "on"},
    )
    assert edited.context["preview"]["count"] == 0
    OwnershipRule.objects.filter(customer=exceptions_to_route["acme"]).delete()
    edited = signed_in(admin).get(
        f"/config/rules/{rule.pk}/preview/",
        {"team": us_team.pk, "legal_entity": exceptions_to_route["us"].pk, "active": "on"},
    )
    assert edited.context["preview"]["count"] == 2
    assert OwnershipRule.objects.get(pk=rule.pk).legal_entity == exceptions_to_route["gb"]


def test_the_rule_form_asks_htmx_for_the_preview_as_the_admin_edits(admin):
    page = signed_in(admin).get("/config/rules/new/").text
    assert 'hx-get="/config/rules/preview/"' in page
    assert 'hx-trigger="change, input changed delay:500ms"' in page
    assert 'id="rule-preview"' in page
    assert "htmx.min.js" in page


def test_reroute_moves_the_open_exceptions_and_says_how_many(admin, exceptions_to_route):
    us_team = TeamFactory(name="US billing")
    client = signed_in(admin)
    client.post(
        "/config/rules/new/",
        {"team": us_team.pk, "legal_entity": exceptions_to_route["us"].pk, "active": "on"},
    )
    # Saving a rule routes new exceptions only: the open ones have not moved.
    assert BusinessException.objects.filter(team=us_team).count() == 0

    refused = client.post("/config/rules/reroute/", {"reason": ""}, **HTMX)
    assert "This field is required." in refused.text
    assert BusinessException.objects.filter(team=us_team).count() == 0

    response = client.post("/config/rules/reroute/", {"reason": "US desk takes over"}, **HTMX)
    assert response.status_code == 200
    assert "Moved 2 open exceptions to the team the rules name." in response.text
    assert set(
        BusinessException.objects.filter(team=us_team).values_list("business_key", flat=True)
    ) == {"P-1001", "P-1002"}
    moves = AuditEvent.objects.filter(action="exception.reroute")
    assert moves.count() == 2 and {m.reason for m in moves} == {"US desk takes over"}
    assert (
        exceptions_to_route["closed"].__class__.objects.get(business_key="P-1003").team
        == (exceptions_to_route["default"])
    )

    again = client.post("/config/rules/reroute/", {"reason": "Again"})
    assert again.status_code == 302
    assert "nothing moved" in client.get("/config/rules/").text


def test_an_admin_re_judges_the_open_exceptions_by_the_policies_as_they_are_now(
    admin, viewer, exceptions_to_route
):
    client = signed_in(admin)
    listing = client.get("/config/sla-policies/").text
    assert (
        "Re-judge open exceptions now" in listing
        and 'hx-post="/config/sla-policies/rejudge/"' in listing
    )
    # A policy made now times exceptions raised from now on: the open ones keep theirs.
    client.post(
        "/config/sla-policies/new/",
        {
            "name": "Anything in a day",
            "kind": "exception",
            "target_minutes": "1440",
            "at_risk_share": "0.75",
            "escalate_after_minutes": "60",
            "active": "on",
        },
    )
    policy = SlaPolicy.objects.get(name="Anything in a day")
    assert not BusinessException.objects.filter(sla_policy=policy).exists()

    assert (
        signed_in(viewer).post("/config/sla-policies/rejudge/", {"reason": "x"}).status_code == 403
    )
    refused = client.post("/config/sla-policies/rejudge/", {"reason": ""}, **HTMX)
    assert "This field is required." in refused.text
    response = client.post("/config/sla-policies/rejudge/", {"reason": "One day for all"}, **HTMX)
    # P-1001, P-1002 and P-2001; the resolved P-1003 is left as it was.
    assert "3 open exceptions are now timed by the policy that fits best." in response.text
    assert set(
        BusinessException.objects.filter(sla_policy=policy).values_list("business_key", flat=True)
    ) == {"P-1001", "P-1002", "P-2001"}
    assert AuditEvent.objects.filter(action="exception.sla_rejudge").count() == 3
    again = client.post("/config/sla-policies/rejudge/", {"reason": "Again"}, **HTMX)
    assert "already timed by the policy that fits it best" in again.text


# Holidays, in place on their calendar


def test_holidays_are_added_and_removed_in_place_and_audited(admin):
    calendar = BusinessCalendarFactory(name="Berlin")
    client = signed_in(admin)
    page = client.get(f"/config/calendars/{calendar.pk}/")
    assert "No holidays on this calendar" in page.text

    added = client.post(
        f"/config/calendars/{calendar.pk}/holidays/",
        {"date": "2026-10-03", "name": "German Unity Day"},
        **HTMX,
    )
    assert added.status_code == 200
    assert '<div id="holidays">' in added.text and "German Unity Day" in added.text
    holiday = Holiday.objects.get(calendar=calendar)
    assert AuditEvent.objects.filter(action="holiday.create", object_id=str(holiday.pk)).exists()

    twice = client.post(
        f"/config/calendars/{calendar.pk}/holidays/", {"date": "2026-10-03"}, **HTMX
    )
    assert "The holiday was not added." in twice.text
    assert Holiday.objects.count() == 1

    removed = client.post(f"/config/calendars/{calendar.pk}/holidays/{holiday.pk}/delete/", **HTMX)
    assert "No holidays on this calendar" in removed.text
    assert not Holiday.objects.exists()
    assert AuditEvent.objects.filter(action="holiday.delete").count() == 1


def test_holidays_work_without_javascript_too(admin):
    calendar = BusinessCalendarFactory(name="Berlin")
    client = signed_in(admin)
    response = client.post(
        f"/config/calendars/{calendar.pk}/holidays/", {"date": "2026-12-24", "name": "Eve"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/config/calendars/{calendar.pk}/"
    assert "Added the holiday 2026-12-24 Eve." in client.get(response["Location"]).text


def test_an_edit_page_shows_the_objects_recent_changes(admin):
    client = signed_in(admin)
    client.post("/config/period-closes/new/", {"closes_on": "2026-11-30", "lead_days": "3"})
    close = PeriodClose.objects.get()
    client.post(
        f"/config/period-closes/{close.pk}/",
        {
            "closes_on": "2026-11-30",
            "name": "November",
            "lead_days": "4",
            "change_reason": "Tighter",
        },
    )
    page = client.get(f"/config/period-closes/{close.pk}/").text
    assert "periodclose.update" in page and "“Tighter”" in page
    assert f"/audit/?object_type=controltower.periodclose&amp;object_id={close.pk}" in page


def test_a_rule_names_its_customer_by_number_and_a_wrong_number_is_named(admin):
    wayne = CustomerFactory(number="C-7001", name="Wayne Enterprises")
    team = TeamFactory(name="Wayne desk")
    client = signed_in(admin)
    page = client.get("/config/rules/new/").text
    assert 'name="customer"' in page and "C-7001 Wayne Enterprises" not in page  # no select

    refused = client.post(
        "/config/rules/new/", {"team": team.pk, "customer": "C-7999", "active": "on"}
    )
    assert refused.status_code == 200
    assert "No customer has the number C-7999." in refused.text
    assert not OwnershipRule.objects.exists()

    saved = client.post(
        "/config/rules/new/", {"team": team.pk, "customer": " c-7001 ", "active": "on"}
    )
    assert saved.status_code == 302
    rule = OwnershipRule.objects.get()
    assert rule.customer == wayne
    assert 'value="C-7001"' in client.get(f"/config/rules/{rule.pk}/").text
