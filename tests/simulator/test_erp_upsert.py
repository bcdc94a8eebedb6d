"""The simulated ERP's upsert by external id, and records addressed by ``eid:``, as NetSuite's."""

from __future__ import annotations

import pytest

from simulator.models import SimulatedRecord
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)

JOB = {
    "entityId": "P-1042",
    "companyName": "Acme ERP Rollout",
    "subsidiary": {"id": "1"},
    "startDate": "2026-11-02",
    "entityStatus": {"refName": "Pending"},
}


def upsert(sim, kind: str, external_id: str, body: dict) -> str:
    response = sim.put(f"{ERP}/{kind}/eid:{external_id}", json=body)
    assert response.status_code == 204, response.text
    assert response.content == b""
    record_id = response.headers["Location"].rsplit("/", 1)[1]
    assert record_id.isdigit()
    return record_id


def test_an_upsert_of_a_new_external_id_creates_the_record(sim):
    job_id = upsert(sim, "job", "P-1042", JOB)
    job = sim.get(f"{ERP}/job/{job_id}").json()
    assert job["externalId"] == "P-1042" and job["companyName"] == "Acme ERP Rollout"
    assert sim.get(f"{ERP}/job/eid:P-1042").json()["id"] == job_id


def test_an_upsert_of_a_known_external_id_merges_the_fields_into_that_record(sim):
    job_id = upsert(sim, "job", "P-1042", JOB)
    again = upsert(
        sim, "job", "P-1042", {"entityStatus": {"refName": "In Progress"}, "endDate": "2027-04-30"}
    )
    assert again == job_id
    job = sim.get(f"{ERP}/job/eid:P-1042").json()
    assert job["entityStatus"] == {"refName": "In Progress"}
    assert job["endDate"] == "2027-04-30" and job["startDate"] == "2026-11-02"
    assert job["externalId"] == "P-1042"
    assert SimulatedRecord.objects.filter(kind="job").count() == 1


def test_an_upserted_invoice_gets_its_tran_id_and_resolves_references(sim):
    customer_id = upsert(sim, "customer", "C-1001", {"companyName": "Acme"})
    invoice_id = upsert(
        sim,
        "invoice",
        "INV-2026-0001",
        {"entity": {"externalId": "C-1001"}, "item": {"items": [{"amount": 100}]}},
    )
    invoice = sim.get(f"{ERP}/invoice/eid:INV-2026-0001").json()
    assert invoice["id"] == invoice_id and invoice["tranId"] == f"INV{10000 + int(invoice_id)}"
    assert invoice["entity"] == {"externalId": "C-1001", "id": customer_id}


def test_patch_and_delete_address_a_record_by_external_id(sim):
    job_id = upsert(sim, "job", "P-7", JOB)
    assert sim.patch(f"{ERP}/job/eid:P-7", json={"endDate": "2027-01-31"}).status_code == 204
    assert sim.get(f"{ERP}/job/{job_id}").json()["endDate"] == "2027-01-31"
    assert sim.delete(f"{ERP}/job/eid:P-7").status_code == 204
    missing = sim.get(f"{ERP}/job/eid:P-7")
    assert missing.status_code == 404
    assert missing.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"
    assert upsert(sim, "job", "P-7", JOB) != job_id  # deleted, so created again


def test_an_upsert_whose_body_names_another_external_id_is_refused(sim):
    response = sim.put(f"{ERP}/job/eid:P-1", json={**JOB, "externalId": "P-2"})
    assert response.status_code == 400
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "USER_ERROR" and detail["o:errorPath"] == "externalId"
    assert not SimulatedRecord.objects.exclude(system__slug="hris").exists()


def test_put_by_internal_id_is_not_an_upsert(sim):
    job_id = upsert(sim, "job", "P-1", JOB)
    response = sim.put(f"{ERP}/job/{job_id}", json=JOB)
    assert response.status_code == 405
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "METHOD_NOT_ALLOWED"


def test_an_upsert_is_refused_by_a_reject_rule_like_any_write(sim, knobs):
    knobs("erp", reject=[{"record": "job", "field": "subsidiary.id", "value": "9"}])
    response = sim.put(f"{ERP}/job/eid:P-1", json={**JOB, "subsidiary": {"id": "9"}})
    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_FLD_VALUE"
    assert not SimulatedRecord.objects.exclude(system__slug="hris").exists()


def test_concurrent_upserts_of_one_new_external_id_make_one_record(sim, at_once):
    answers = at_once(8, "PUT", f"{ERP}/job/eid:P-RACE", json=JOB)

    assert [answer.status_code for answer in answers] == [204] * 8
    assert len({answer.headers["Location"] for answer in answers}) == 1
    assert SimulatedRecord.objects.filter(kind="job", external_id="P-RACE").count() == 1


def test_a_plain_post_may_still_make_a_second_record_with_the_same_external_id(sim):
    upsert(sim, "job", "P-1", JOB)
    assert sim.post(f"{ERP}/job", json={**JOB, "externalId": "P-1"}).status_code == 204
    assert SimulatedRecord.objects.filter(kind="job", external_id="P-1").count() == 2
    # The upsert and eid: then use the first of them.
    first = SimulatedRecord.objects.filter(kind="job", external_id="P-1").first()
    assert upsert(sim, "job", "P-1", {"endDate": "2027-01-31"}) == str(first.pk)
