"""Fault knobs: set through the API or the admin, applied to every simulated call."""

from __future__ import annotations

import time

import pytest

from simulator.models import SimulatedSystem
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_knobs_have_their_defaults_on_first_use(sim):
    assert sim.get("/simulator/crm/_faults").json() == {
        "latency_ms": 0,
        "error_rate": 0.0,
        "throttle": False,
        "retry_after_seconds": 1,
        "outage": False,
        "pay_after_seconds": 60,
        "rate_limit_per_minute": 0,
        "rate_limit_burst": 0,
        "auth": "none",
        "token_ttl_seconds": 3600,
        "reject": [],
    }


def test_the_knobs_set_through_the_api_read_back_for_that_system_only(sim, knobs):
    knobs("erp", outage=True, latency_ms=250, error_rate=0.2)
    erp = sim.get("/simulator/erp/_faults").json()
    assert (erp["outage"], erp["latency_ms"], erp["error_rate"]) == (True, 250, 0.2)
    assert (erp["throttle"], erp["reject"]) == (False, [])
    crm = sim.get("/simulator/crm/_faults").json()
    assert not (crm["outage"] or crm["latency_ms"] or crm["error_rate"])
    assert sim.get("/simulator/netsuite/_faults").status_code == 404  # not a simulated system


def test_an_outage_answers_503_in_netsuites_error_body(sim, knobs):
    knobs("erp", outage=True)
    response = sim.get(f"{ERP}/customer")
    assert response.status_code == 503
    assert response.json()["title"] == "Service Unavailable"
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "SERVICE_UNAVAILABLE"
    assert sim.post("/simulator/psa/api/v1/projects", json={}).status_code == 201


def test_throttling_answers_429_with_retry_after(sim, knobs):
    knobs("psa", throttle=True, retry_after_seconds=7)
    response = sim.post("/simulator/psa/api/v1/projects", json={"code": "P-1"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["error"]["code"] == "rate_limited"
    assert sim.get("/simulator/psa/_faults").status_code == 200  # control calls are not throttled


def test_the_latency_knob_delays_each_call(sim, knobs):
    knobs("erp", latency_ms=300)
    began = time.monotonic()
    assert sim.get(f"{ERP}/job").status_code == 200
    assert time.monotonic() - began >= 0.28


def test_an_error_rate_of_one_answers_500_every_time(sim, knobs):
    knobs("crm", error_rate=1.0)
    statuses = {sim.get("/simulator/crm/api/v1/accounts").status_code for _ in range(5)}
    assert statuses == {500}
    knobs("crm", error_rate=0)
    assert sim.get("/simulator/crm/api/v1/accounts").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"latency_ms": -1}, "latency_ms"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"throttle": "yes"}, "throttle"),
        ({"retry_after_seconds": 1.5}, "retry_after_seconds"),
        ({"pay_after_seconds": "60"}, "pay_after_seconds"),
        ({"outage": 1}, "outage"),
        ({"color": "red"}, "color"),
        ({"reject": [{"record": "spaceship", "field": "taxCode"}]}, "reject[0].record"),
        ({"reject": [{"record": "invoice"}]}, "reject[0].field"),
        ({"reject": "all"}, "reject"),
        ({"rate_limit_per_minute": -5}, "rate_limit_per_minute"),
        ({"rate_limit_burst": "10"}, "rate_limit_burst"),
        ({"auth": "api_key"}, "auth"),
        ({"auth": "password"}, "auth"),
        ({"token_ttl_seconds": 0}, "token_ttl_seconds"),
    ],
)
def test_the_knobs_api_refuses_a_bad_value_with_400_naming_the_field(sim, body, field):
    response = sim.put("/simulator/erp/_faults", json=body)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert field in response.json()["message"] or len(response.json()["errors"]) > 1
    assert sim.get("/simulator/erp/_faults").json()["latency_ms"] == 0


def test_reset_deletes_the_records_and_restores_the_knobs(sim, knobs):
    sim.post("/simulator/psa/api/v1/projects", json={"code": "P-1"})
    knobs("psa", latency_ms=5, throttle=True)
    response = sim.post("/simulator/psa/_reset")
    assert response.status_code == 200
    assert response.json()["deleted"] == 1
    assert response.json()["knobs"]["throttle"] is False
    assert response.json()["knobs"]["auth"] == "api_key"  # as the vendor has it
    projects = sim.get("/simulator/psa/api/v1/projects", headers={"X-Api-Key": "demo-psa-api-key"})
    assert projects.json()["count"] == 0


def test_the_admin_shows_and_saves_a_systems_knobs(client, demo):
    system = SimulatedSystem.objects.create(slug="erp")
    client.login(username="admin", password="admin")
    page = client.get(f"/admin/simulator/simulatedsystem/{system.pk}/change/")
    assert page.status_code == 200
    assert b"Fault knobs" in page.content and b"pay_after_seconds" in page.content
    response = client.post(
        f"/admin/simulator/simulatedsystem/{system.pk}/change/",
        {
            "slug": "erp",
            "latency_ms": "0",
            "error_rate": "0.25",
            "throttle": "on",
            "retry_after_seconds": "3",
            "pay_after_seconds": "60",
            "rate_limit_per_minute": "120",
            "rate_limit_burst": "0",
            "auth": "oauth2",
            "token_ttl_seconds": "600",
            "reject": '[{"record": "invoice", "field": "taxCode", "value": "XX"}]',
        },
    )
    assert response.status_code == 302, response.content
    system.refresh_from_db()
    assert system.throttle is True and system.error_rate == 0.25 and system.retry_after_seconds == 3
    assert system.rate_limit_per_minute == 120
    assert (system.auth, system.token_ttl_seconds) == ("oauth2", 600)
    bad = client.post(
        f"/admin/simulator/simulatedsystem/{system.pk}/change/",
        {
            "slug": "erp",
            "latency_ms": "0",
            "error_rate": "0",
            "retry_after_seconds": "1",
            "pay_after_seconds": "60",
            "rate_limit_per_minute": "0",
            "rate_limit_burst": "0",
            "auth": "basic",
            "token_ttl_seconds": "3600",
            "reject": '[{"record": "spaceship", "field": "x"}]',
        },
    )
    assert bad.status_code == 200 and b"reject[0].record" in bad.content
    assert b"what this system offers" in bad.content  # the ERP offers no HTTP Basic
    assert client.get("/admin/simulator/simulatedrecord/").status_code == 200
    assert client.get("/admin/simulator/simulatedrequest/").status_code == 200


def test_the_simulator_answers_404_where_it_is_not_enabled(client, settings):
    settings.CT_SIMULATOR_ENABLED = False
    assert client.get("/simulator/erp/_faults").status_code == 404
    assert (
        client.post("/simulator/crm/_emit", {}, content_type="application/json").status_code == 404
    )
    settings.CT_SIMULATOR_ENABLED = True
    assert client.get("/simulator/erp/_faults").status_code == 200
