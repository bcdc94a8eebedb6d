"""Each system's request log: what it was asked and what it answered, read through ``_requests``."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from simulator.admission import request_log_prune
from simulator.models import SimulatedRequest
from simulator.services import system_get
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)

PSA = "/simulator/psa/api/v1"


def test_every_vendor_call_is_logged_with_its_method_path_query_key_and_status(sim, knobs):
    sim.post(f"{ERP}/customer", json={"companyName": "Acme"}, headers={"Idempotency-Key": "k-1"})
    sim.get(f"{ERP}/customer", params={"q": 'externalId IS "C-1"'})
    sim.get(f"{ERP}/customer/999999")
    knobs("erp", outage=True)
    sim.get(f"{ERP}/job")

    log = sim.get("/simulator/erp/_requests").json()

    assert log["count"] == log["total"] == 4
    calls = log["results"]
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("POST", f"{ERP}/customer", 204),
        ("GET", f"{ERP}/customer", 200),
        ("GET", f"{ERP}/customer/999999", 404),
        ("GET", f"{ERP}/job", 503),
    ]
    assert calls[0]["idempotency_key"] == "k-1"
    assert calls[1]["query"] == "q=externalId+IS+%22C-1%22"
    assert calls[0]["received_at"] <= calls[3]["received_at"]


def test_control_endpoints_are_not_logged_and_each_system_has_its_own_log(sim, knobs):
    knobs("psa", latency_ms=0)
    sim.get("/simulator/psa/_faults")
    sim.post(f"{PSA}/projects", json={"code": "P-1"})
    assert sim.get("/simulator/psa/_requests").json()["total"] == 1
    assert sim.get("/simulator/crm/_requests").json() == {"count": 0, "total": 0, "results": []}


def test_the_log_filters_by_method_and_since_and_keeps_the_newest_last(sim):
    sim.post(f"{PSA}/projects", json={"code": "P-1"})
    later = timezone.now() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        sim.get(f"{PSA}/projects")
        sim.post(f"{PSA}/projects", json={"code": "P-2"})
        sim.post(f"{PSA}/projects", json={"code": "P-3"})

    posts = sim.get("/simulator/psa/_requests", params={"method": "POST"}).json()["results"]
    assert [call["method"] for call in posts] == ["POST"] * 3
    recent = sim.get(
        "/simulator/psa/_requests", params={"since": later.isoformat(), "method": "post"}
    ).json()
    assert recent["total"] == 2
    assert recent["results"][0]["id"] < recent["results"][1]["id"]
    newest = sim.get("/simulator/psa/_requests", params={"limit": 1}).json()
    assert newest["count"] == 1 and newest["total"] == 4
    assert newest["results"][0]["id"] == recent["results"][1]["id"]


def test_a_bad_since_is_refused_in_the_control_error_shape(sim):
    response = sim.get("/simulator/erp/_requests", params={"since": "last tuesday"})
    assert response.status_code == 400
    assert "since" in response.json()["errors"]


def test_reset_clears_the_systems_log(sim):
    sim.get(f"{PSA}/projects")
    sim.get("/simulator/crm/api/v1/accounts")
    assert sim.post("/simulator/psa/_reset").status_code == 200
    assert sim.get("/simulator/psa/_requests").json()["total"] == 0
    assert sim.get("/simulator/crm/_requests").json()["total"] == 1


def test_the_log_keeps_the_newest_rows_and_a_week_at_most():
    system = system_get(slug="crm")
    now = timezone.now()
    old = SimulatedRequest.objects.create(
        system=system, method="GET", path="/old", received_at=now - timedelta(days=8)
    )
    kept = [
        SimulatedRequest.objects.create(system=system, method="GET", path=f"/{n}") for n in range(5)
    ]

    assert request_log_prune(max_rows=3) == 3
    assert not SimulatedRequest.objects.filter(pk=old.pk).exists()
    assert list(SimulatedRequest.objects.values_list("pk", flat=True)) == [
        call.pk for call in kept[-3:]
    ]
