"""The pollers API: a viewer reads them, an admin changes them, an operator runs one now
against the simulated PSA over real HTTP; the changes and the runs are audited."""

from __future__ import annotations

import pytest

from controltower.operations.models import AuditEvent
from integrations.models import ConnectedSystem, Poller, Transaction
from integrations.services.polling import poller_claim
from tests.support.simulator import simulator_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def poller(demo, live_server) -> Poller:
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="psa").update(base_url=f"{base}/psa")
    with simulator_client(base, timeout=10) as http:
        http.post("/psa/_reset")
        http.post(
            "/psa/api/v1/time-entries",
            json={
                "number": "TE-1",
                "project": "P-1042",
                "resource": "E-0001",
                "work_date": "2026-11-02",
                "hours": 7.5,
                "billable": True,
                "approved_at": "2026-11-03T09:00:00Z",
            },
        )
    return Poller.objects.get(system__slug="psa", record_type="time_entry")


def test_a_viewer_reads_a_poller_with_its_last_run_and_lag(poller, user_with_role, api_client_for):
    viewer = api_client_for(user_with_role("viewer"))
    [row] = viewer.get("/api/v1/pollers/", {"system": "psa"}).json()["results"]
    assert row["record_type"] == "time_entry" and row["enabled"] is False
    assert row["last_outcome"] == "never" and row["lag_seconds"] is None
    assert viewer.get("/api/v1/pollers/", {"system": "erp"}).json()["results"] == []


def test_an_admin_changes_a_poller_and_the_change_is_audited(
    poller, user_with_role, api_client_for
):
    admin = api_client_for(user_with_role("admin"))
    answer = admin.patch(
        f"/api/v1/pollers/{poller.pk}/",
        {"enabled": True, "interval_seconds": 120, "overlap_seconds": 60, "reason": "no hooks"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["enabled"], answer.json()["interval_seconds"]) == (True, 120)
    event = AuditEvent.objects.get(action="poller.change")
    assert event.before["interval_seconds"] == 300 and event.after["overlap_seconds"] == 60
    assert event.reason == "no hooks"


def test_an_interval_under_ten_seconds_is_refused_by_name(poller, user_with_role, api_client_for):
    admin = api_client_for(user_with_role("admin"))
    answer = admin.patch(
        f"/api/v1/pollers/{poller.pk}/", {"interval_seconds": 5, "page_size": 0}, format="json"
    )
    assert answer.status_code == 400
    assert set(answer.json()["errors"]) == {"interval_seconds", "page_size"}
    assert not AuditEvent.objects.filter(action="poller.change").exists()


def test_an_operator_runs_a_poller_now_and_sees_what_it_read(
    poller, user_with_role, api_client_for
):
    operator = api_client_for(user_with_role("operator"))
    answer = operator.post(f"/api/v1/pollers/{poller.pk}/run/", {"reason": "catch up"})
    assert answer.status_code == 200
    assert {k: answer.json()[k] for k in ("ok", "received", "stored")} == {
        "ok": True,
        "received": 1,
        "stored": 1,
    }
    assert Transaction.objects.get().business_key == "TE-1"
    assert AuditEvent.objects.get(action="poller.run").after["stored"] == 1
    assert operator.patch(f"/api/v1/pollers/{poller.pk}/", {"enabled": True}).status_code == 403


def test_running_a_poller_that_runs_already_is_a_conflict(poller, user_with_role, api_client_for):
    poller_claim(poller_id=poller.pk)
    operator = api_client_for(user_with_role("operator"))
    assert operator.post(f"/api/v1/pollers/{poller.pk}/run/").status_code == 409


def test_an_operator_runs_the_bamboohr_workers_poller_and_the_api_shows_its_run(
    demo, live_server, user_with_role, api_client_for
):
    base = f"{live_server.url}/simulator"
    ConnectedSystem.objects.filter(slug="bamboohr").update(
        base_url=f"{base}/hris/api/gateway.php/northwind"
    )
    with simulator_client(base, timeout=10) as http:
        http.post("/hris/_reset")
        http.post("/hris/api/v1/employees", json={"employeeNumber": "E-0107"})
    operator = api_client_for(user_with_role("operator"))
    [row] = operator.get("/api/v1/pollers/", {"system": "bamboohr"}).json()["results"]
    assert (row["record_type"], row["last_outcome"]) == ("worker", "never")
    ran = operator.post(f"/api/v1/pollers/{row['id']}/run/", {"reason": "catch up"})
    assert ran.status_code == 200 and (ran.json()["ok"], ran.json()["stored"]) == (True, 1)
    after = operator.get(f"/api/v1/pollers/{row['id']}/").json()
    assert (after["last_outcome"], after["last_received"], after["last_stored"]) == ("ok", 1, 1)
    assert Transaction.objects.get(source_system__slug="bamboohr").event_type == (
        "resource.upserted"
    )
