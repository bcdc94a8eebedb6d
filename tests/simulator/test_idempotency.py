"""Idempotency keys where the vendor offers them: on the ERP's POST, and nowhere else."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from simulator.models import IdempotencyKey, SimulatedRecord
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = {"companyName": "Acme Corporation", "externalId": "C-1001"}
NETSUITE_KEY = "X-NetSuite-Idempotency-Key"


def post(sim, body: dict, key: str, header: str = NETSUITE_KEY):
    return sim.post(f"{ERP}/customer", json=body, headers={header: key})


def test_a_post_repeating_a_key_gets_the_first_answer_and_creates_nothing(sim):
    first = post(sim, CUSTOMER, "customer:C-1001:v1")
    again = post(sim, CUSTOMER, "customer:C-1001:v1")

    assert first.status_code == again.status_code == 204
    assert again.content == b""
    assert again.headers["Location"] == first.headers["Location"]
    assert SimulatedRecord.objects.filter(kind="customer").count() == 1


def test_both_header_names_carry_the_same_key(sim):
    first = post(sim, CUSTOMER, "k-1", header="Idempotency-Key")
    again = post(sim, CUSTOMER, "k-1", header=NETSUITE_KEY)
    assert again.headers["Location"] == first.headers["Location"]
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 1


def test_a_repeated_key_is_answered_the_same_even_with_another_body_or_record_type(sim):
    first = post(sim, CUSTOMER, "k-1")
    again = post(sim, {"companyName": "Someone Else"}, "k-1")
    job = sim.post(f"{ERP}/job", json={"entityId": "P-1"}, headers={NETSUITE_KEY: "k-1"})
    assert again.headers["Location"] == job.headers["Location"] == first.headers["Location"]
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 1


def test_a_different_key_is_a_different_create(sim):
    first = post(sim, CUSTOMER, "k-1")
    second = post(sim, CUSTOMER, "k-2")
    assert first.headers["Location"] != second.headers["Location"]


def test_a_key_is_forgotten_after_24_hours(sim):
    first = post(sim, CUSTOMER, "k-1")
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        later = post(sim, CUSTOMER, "k-1")
        assert IdempotencyKey.objects.count() == 1  # the old row was pruned, a new one kept
    assert later.headers["Location"] != first.headers["Location"]
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 2


def test_a_refused_post_keeps_no_key_so_a_corrected_retry_goes_through(sim, knobs):
    knobs("erp", reject=[{"record": "customer", "field": "companyName", "value": "Bad"}])
    refused = post(sim, {**CUSTOMER, "companyName": "Bad"}, "k-1")
    assert refused.status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(sim, CUSTOMER, "k-1").status_code == 204
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 1


def test_a_post_refused_at_the_door_keeps_no_key(sim, knobs):
    knobs("erp", outage=True)
    assert post(sim, CUSTOMER, "k-1").status_code == 503
    knobs("erp", outage=False)
    assert post(sim, CUSTOMER, "k-1").status_code == 204
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 1


def test_concurrent_posts_with_one_key_make_one_record(sim, at_once):
    answers = at_once(8, "POST", f"{ERP}/customer", json=CUSTOMER, headers={NETSUITE_KEY: "k-race"})
    assert [answer.status_code for answer in answers] == [204] * 8
    assert len({answer.headers["Location"] for answer in answers}) == 1
    assert SimulatedRecord.objects.exclude(system__slug="hris").count() == 1


def test_reset_forgets_the_keys(sim, knobs):
    first = post(sim, CUSTOMER, "k-1")
    sim.post("/simulator/erp/_reset")
    knobs("erp", auth="none")  # reset asks for credentials again
    assert post(sim, CUSTOMER, "k-1").headers["Location"] != first.headers["Location"]


@pytest.mark.parametrize("header", ["Idempotency-Key", NETSUITE_KEY])
def test_the_psa_ignores_the_idempotency_key(sim, header):
    for _ in range(2):
        response = sim.post(
            "/simulator/psa/api/v1/projects", json={"code": "P-1"}, headers={header: "k-1"}
        )
        assert response.status_code == 201
    assert sim.get("/simulator/psa/api/v1/projects").json()["count"] == 2
    assert not IdempotencyKey.objects.exists()
