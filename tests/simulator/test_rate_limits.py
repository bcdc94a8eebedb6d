"""Rate limits as the vendors enforce them: a sliding window, 429 with Retry-After."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from simulator.models import SimulatedRecord
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)

PSA = "/simulator/psa/api/v1"


def test_calls_beyond_the_limit_per_minute_answer_429_until_a_slot_frees(sim, knobs):
    knobs("erp", rate_limit_per_minute=3)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert [sim.get(f"{ERP}/customer").status_code for _ in range(3)] == [200] * 3
        refused = sim.get(f"{ERP}/customer")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    body = refused.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"

    with time_machine.travel(start + timedelta(seconds=45), tick=False):
        assert sim.get(f"{ERP}/customer").headers["Retry-After"] == "15"
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        assert sim.get(f"{ERP}/customer").status_code == 200


def test_the_psa_refuses_in_its_own_error_body(sim, knobs):
    knobs("psa", rate_limit_per_minute=1)
    assert sim.get(f"{PSA}/projects").status_code == 200
    refused = sim.post(f"{PSA}/projects", json={"code": "P-1"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json()["error"]["code"] == "rate_limited"
    assert not SimulatedRecord.objects.exclude(system__slug="hris").exists()


def test_refused_calls_do_not_use_up_the_window(sim, knobs):
    knobs("psa", rate_limit_per_minute=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        statuses = [sim.get(f"{PSA}/projects").status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 429, 429]
    with time_machine.travel(start + timedelta(seconds=60, milliseconds=1), tick=False):
        assert [sim.get(f"{PSA}/projects").status_code for _ in range(3)] == [200, 200, 429]
    log = sim.get("/simulator/psa/_requests").json()["results"]
    assert [call["admitted_at"] is not None for call in log] == [
        status == 200 for status in [*statuses, 200, 200, 429]
    ]


def test_the_burst_limit_caps_the_calls_in_any_one_second(sim, knobs):
    knobs("crm", rate_limit_burst=2)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        statuses = [sim.get("/simulator/crm/api/v1/accounts").status_code for _ in range(3)]
        refused = sim.get("/simulator/crm/api/v1/accounts")
    assert statuses == [200, 200, 429]
    assert refused.headers["Retry-After"] == "1"
    with time_machine.travel(start + timedelta(seconds=1, milliseconds=1), tick=False):
        assert sim.get("/simulator/crm/api/v1/accounts").status_code == 200


def test_the_limit_holds_for_calls_arriving_at_once(sim, knobs, at_once):
    knobs("erp", rate_limit_per_minute=4)
    answers = at_once(10, "GET", f"{ERP}/job")
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 4 + [429] * 6


def test_control_endpoints_and_other_systems_are_not_limited(sim, knobs):
    knobs("psa", rate_limit_per_minute=1)
    sim.get(f"{PSA}/projects")
    assert sim.get(f"{PSA}/projects").status_code == 429
    assert sim.get("/simulator/psa/_faults").status_code == 200
    assert sim.get("/simulator/psa/_requests").status_code == 200
    assert sim.get("/simulator/crm/api/v1/accounts").status_code == 200


def test_no_limit_by_default(sim):
    assert {sim.get(f"{PSA}/projects").status_code for _ in range(30)} == {200}
