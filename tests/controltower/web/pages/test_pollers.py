"""A system's pollers page: everyone who reads the systems sees each poller's last run, lag
and errors; an admin changes its schedule; an operator runs it now against the simulated
PSA over real HTTP."""

from __future__ import annotations

import pytest
from django.test import Client

from controltower.operations.models import AuditEvent
from integrations.models import ConnectedSystem, Poller

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def poller(demo, live_server) -> Poller:
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{live_server.url}/simulator/psa")
    return Poller.objects.get(system__slug="psa", record_type="time_entry")


def schedule(poller: Poller, **changes: str) -> dict[str, str]:
    fields = {"interval_seconds": "300", "overlap_seconds": "300", "page_size": "100"}
    return {f"p{poller.pk}-{name}": value for name, value in {**fields, **changes}.items()}


def test_a_viewer_sees_the_pollers_but_no_button_and_no_form(poller, user_with_role):
    viewer = signed_in(user_with_role("viewer"))
    page = viewer.get("/systems/psa/pollers/")
    assert page.status_code == 200
    assert b"Time entries" in page.content and b"Never run" in page.content
    assert b"Run now" not in page.content and b"schedule" not in page.content
    assert viewer.post(f"/systems/psa/pollers/{poller.pk}/run/").status_code == 403
    assert b"/systems/psa/pollers/" in viewer.get("/systems/").content


def test_an_operator_runs_a_poller_and_sees_its_error_when_the_psa_is_down(poller, user_with_role):
    operator = signed_in(user_with_role("operator"))
    ran = operator.post(f"/systems/psa/pollers/{poller.pk}/run/", follow=True)
    assert b"read 0 records" in ran.content and b"OK" in ran.content
    ConnectedSystem.objects.filter(slug="psa").update(base_url="http://127.0.0.1:9/psa")
    failed = operator.post(f"/systems/psa/pollers/{poller.pk}/run/", follow=True)
    assert b"failed" in failed.content and b"Failed" in failed.content
    assert AuditEvent.objects.filter(action="poller.run").count() == 2
    assert operator.post(f"/systems/psa/pollers/{poller.pk}/", schedule(poller)).status_code == 403


def test_an_admin_enables_a_poller_and_a_bad_interval_is_shown_beside_its_field(
    poller, user_with_role
):
    admin = signed_in(user_with_role("admin"))
    saved = admin.post(
        f"/systems/psa/pollers/{poller.pk}/",
        schedule(poller, enabled="on", interval_seconds="60", reason="no webhooks"),
        follow=True,
    )
    assert b"Saved the psa time entries poller." in saved.content
    poller.refresh_from_db()
    assert poller.enabled and poller.interval_seconds == 60
    refused = admin.post(
        f"/systems/psa/pollers/{poller.pk}/", schedule(poller, interval_seconds="5")
    )
    assert refused.status_code == 400 and b"greater than or equal to 10" in refused.content


def test_bamboohrs_page_offers_its_workers_poller_and_shows_a_refused_run(demo, user_with_role):
    ConnectedSystem.objects.filter(slug="bamboohr").update(base_url="http://127.0.0.1:9/hris")
    worker = Poller.objects.get(system__slug="bamboohr", record_type="worker")
    operator = signed_in(user_with_role("operator"))
    page = operator.get("/systems/bamboohr/pollers/")
    assert b"the tower can poll: Workers." in page.content and b"Never run" in page.content
    ran = operator.post(f"/systems/bamboohr/pollers/{worker.pk}/run/", follow=True)
    assert b"The bamboohr workers poller failed" in ran.content and b"Failed" in ran.content
    canonical = operator.get("/systems/hris/pollers/")
    assert b"The tower has nothing to poll from HRIS" in canonical.content
