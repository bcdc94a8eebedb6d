"""A person's own time zone: every time on the pages in it, named, wherever the browser is."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from controltower.operations.models import AuditEvent, MaintenanceWindow, UserPreference
from tests.factories.operations import FlowTransactionFactory

pytestmark = pytest.mark.django_db

BERLIN_BROWSER = "Europe/Berlin"


@pytest.fixture
def operator(user_with_role):
    return user_with_role("operator", "olga")


@pytest.fixture
def admin(user_with_role):
    return user_with_role("admin", "ada")


def signed_in(user, browser_zone: str = BERLIN_BROWSER) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["tz"] = browser_zone
    return client


def test_without_a_choice_the_pages_use_the_browsers_zone_and_name_it(operator):
    page = signed_in(operator).get("/").text
    assert 'data-time-zone="Europe/Berlin"' in page
    assert "data-time-zone-chosen" not in page
    assert 'Times are shown in <span id="time-zone-name">Europe/Berlin</span>.' in page
    assert 'href="/account/time-zone/"' in page


def test_a_chosen_zone_wins_over_the_browsers_and_is_named_as_the_persons_setting(operator):
    client = signed_in(operator)
    answer = client.post("/account/time-zone/", {"time_zone": "Asia/Tokyo"})
    assert answer.status_code == 302
    assert UserPreference.objects.get(user=operator).time_zone == "Asia/Tokyo"

    page = client.get("/account/time-zone/").text
    assert 'data-time-zone="Asia/Tokyo" data-time-zone-chosen' in page
    assert "Asia/Tokyo</span> (your setting)" in page
    assert '<option value="Asia/Tokyo" selected>' in page
    event = AuditEvent.objects.get(action="preference.time_zone")
    assert (event.before, event.after) == ({"time_zone": ""}, {"time_zone": "Asia/Tokyo"})


def test_times_on_a_list_are_rendered_and_typed_dates_read_in_the_chosen_zone(
    admin, user_with_role
):
    client = signed_in(admin)
    client.post("/account/time-zone/", {"time_zone": "Asia/Tokyo"})
    client.post(
        "/config/maintenance-windows/new/",
        {"name": "ERP patch", "starts_at": "2026-07-02T05:00", "ends_at": "2026-07-02T06:30"},
    )
    window = MaintenanceWindow.objects.get()
    assert window.starts_at == dt.datetime(2026, 7, 1, 20, 0, tzinfo=dt.UTC)  # JST is UTC+9
    page = client.get("/config/maintenance-windows/").text
    assert "02 Jul 2026 05:00" in page
    # The other person, whose browser is in Berlin, reads the same moment in Berlin time.
    colleague = user_with_role("admin", "bea")
    berlin = signed_in(colleague).get("/config/maintenance-windows/").text
    assert "01 Jul 2026 22:00" in berlin and "02 Jul 2026 05:00" not in berlin


def test_the_browsers_zone_comes_back_when_the_choice_is_emptied(operator):
    client = signed_in(operator)
    client.post("/account/time-zone/", {"time_zone": "Asia/Tokyo"})
    client.post("/account/time-zone/", {"time_zone": ""})
    assert UserPreference.objects.get(user=operator).time_zone == ""
    assert 'data-time-zone="Europe/Berlin"' in client.get("/").text


def test_an_unknown_zone_is_refused_beside_its_field(operator):
    answer = signed_in(operator).post("/account/time-zone/", {"time_zone": "Mars/Olympus"})
    assert answer.status_code == 400
    assert "Mars/Olympus" in answer.text
    assert not UserPreference.objects.filter(user=operator, time_zone="Mars/Olympus").exists()


def test_a_search_hit_shows_when_a_transaction_arrived_in_the_readers_zone(admin):
    FlowTransactionFactory(
        business_key="K-7001", received_at=dt.datetime(2026, 7, 1, 20, 0, tzinfo=dt.UTC)
    )
    page = signed_in(admin).get("/search/", {"q": "k-7001"}).text
    assert "2026-07-01 22:00 CEST" in page


def test_the_chosen_zone_follows_the_person_into_a_new_sign_in(operator):
    signed_in(operator).post("/account/time-zone/", {"time_zone": "Asia/Tokyo"})
    elsewhere = signed_in(operator, browser_zone="America/Chicago")
    page = elsewhere.get("/").text
    assert 'data-time-zone="Asia/Tokyo" data-time-zone-chosen' in page
