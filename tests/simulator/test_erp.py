"""The simulated ERP speaks NetSuite's REST record API over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from simulator.models import SimulatedRecord
from tests.simulator.conftest import ERP

pytestmark = pytest.mark.django_db(transaction=True)

CUSTOMER = {
    "entityId": "C-1001",
    "companyName": "Acme Corporation",
    "subsidiary": {"id": "1"},
    "currency": {"refName": "USD"},
    "externalId": "C-1001",
}


def invoice_body(**overrides) -> dict:
    return {
        "entity": {"id": overrides.pop("entity_id")},
        "subsidiary": {"id": "1"},
        "currency": {"refName": "USD"},
        "tranDate": "2026-11-30",
        "externalId": "INV-CAND-1",
        "taxCode": "US-STD",
        "item": {
            "items": [
                {
                    "description": "Consulting, November",
                    "quantity": 10,
                    "rate": 190,
                    "amount": 1900,
                },
                {"description": "Partner review", "quantity": 2, "rate": 450.5, "amount": 901},
            ]
        },
        **overrides,
    }


def create(sim, kind: str, body: dict, **headers) -> str:
    response = sim.post(f"{ERP}/{kind}", json=body, headers=headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    location = response.headers["Location"]
    assert location.startswith(f"{sim.base_url}".rstrip("/") + f"{ERP}/{kind}/")
    record_id = location.rsplit("/", 1)[1]
    assert record_id.isdigit()
    return record_id


def test_creating_a_customer_answers_204_with_its_location_and_get_returns_it(sim):
    customer_id = create(sim, "customer", CUSTOMER, **{"Idempotency-Key": "key-1"})
    response = sim.get(f"{ERP}/customer/{customer_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer_id
    assert body["companyName"] == "Acme Corporation"
    assert body["subsidiary"] == {"id": "1"}
    assert SimulatedRecord.objects.get(pk=customer_id).idempotency_key == "key-1"


def test_a_second_identical_post_without_an_idempotency_key_creates_a_second_record(sim):
    first = create(sim, "customer", CUSTOMER)
    second = create(sim, "customer", CUSTOMER, **{"Idempotency-Key": "another-key"})
    assert first != second
    listing = sim.get(f"{ERP}/customer").json()
    assert listing["count"] == listing["totalResults"] == 2
    assert listing["hasMore"] is False
    assert [item["id"] for item in listing["items"]] == [first, second]


def test_a_job_keeps_its_billing_schedule_and_resolves_its_customer_by_external_id(sim):
    customer_id = create(sim, "customer", CUSTOMER)
    schedule = {
        "items": [{"code": "M1", "name": "Kick-off", "dueDate": "2026-12-01", "amount": 30000}]
    }
    job_id = create(
        sim,
        "job",
        {
            "entityId": "P-1042",
            "companyName": "Acme ERP Rollout",
            "customer": {"externalId": "C-1001"},
            "subsidiary": {"id": "1"},
            "startDate": "2026-11-02",
            "endDate": "2027-04-30",
            "externalId": "P-1042",
            "custentity_contract_number": "K-5001",
            "billingSchedule": schedule,
        },
    )
    job = sim.get(f"{ERP}/job/{job_id}").json()
    assert job["customer"] == {"externalId": "C-1001", "id": customer_id}
    assert job["billingSchedule"] == schedule


def test_an_invoice_gets_a_tran_id_and_is_paid_in_full_after_pay_after_seconds(sim, knobs):
    knobs("erp", pay_after_seconds=1)
    customer_id = create(sim, "customer", CUSTOMER)
    invoice_id = create(sim, "invoice", invoice_body(entity_id=customer_id))
    invoice = sim.get(f"{ERP}/invoice/{invoice_id}").json()
    assert invoice["tranId"] == f"INV{10000 + int(invoice_id)}"
    assert invoice["status"] == {"id": "open", "refName": "Open"}
    assert invoice["total"] == 2801
    assert invoice["amountRemaining"] == 2801
    with time_machine.travel(timezone.now() + timedelta(seconds=5)):
        invoice = sim.get(f"{ERP}/invoice/{invoice_id}").json()
    assert invoice["status"] == {"id": "paidInFull", "refName": "Paid In Full"}
    assert invoice["amountRemaining"] == 0


def test_an_invoice_is_never_paid_when_pay_after_seconds_is_zero(sim, knobs):
    knobs("erp", pay_after_seconds=0)
    invoice_id = create(sim, "invoice", invoice_body(entity_id=create(sim, "customer", CUSTOMER)))
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        invoice = sim.get(f"{ERP}/invoice/{invoice_id}").json()
    assert invoice["status"]["id"] == "open"


def test_the_netsuite_query_finds_a_record_by_external_id(sim):
    create(sim, "job", {"entityId": "P-1", "externalId": "K-5000"})
    wanted = create(sim, "job", {"entityId": "P-2", "externalId": "K-5001"})
    response = sim.get(f"{ERP}/job", params={"q": 'externalId IS "K-5001"'})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["items"][0]["id"] == wanted
    assert sim.get(f"{ERP}/job", params={"q": 'externalId IS "K-404"'}).json()["count"] == 0


def test_patch_merges_fields_and_answers_204(sim):
    job_id = create(sim, "job", {"entityId": "P-1", "externalId": "K-1", "startDate": "2026-11-02"})
    response = sim.patch(
        f"{ERP}/job/{job_id}", json={"endDate": "2027-01-31", "externalId": "K-1b"}
    )
    assert response.status_code == 204
    job = sim.get(f"{ERP}/job/{job_id}").json()
    assert job["startDate"] == "2026-11-02" and job["endDate"] == "2027-01-31"
    assert sim.get(f"{ERP}/job", params={"q": 'externalId IS "K-1b"'}).json()["count"] == 1


def test_an_unknown_id_answers_404_in_netsuites_error_body(sim):
    response = sim.get(f"{ERP}/invoice/999999")
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["type"].startswith("https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5")
    assert body["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"


def test_a_body_that_is_not_a_json_object_answers_400_user_error(sim):
    response = sim.post(f"{ERP}/customer", json=["not", "an", "object"])
    assert response.status_code == 400
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "USER_ERROR"


def test_a_reference_to_a_missing_record_answers_invalid_key_or_ref(sim):
    response = sim.post(f"{ERP}/invoice", json=invoice_body(entity_id="424242"))
    assert response.status_code == 400
    detail = response.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_KEY_OR_REF" and detail["o:errorPath"] == "entity"


def test_a_reject_rule_answers_400_invalid_fld_value_naming_the_field(sim, knobs):
    knobs(
        "erp",
        reject=[
            {"record": "invoice", "field": "taxCode", "value": "XX", "message": "Invalid tax code"}
        ],
    )
    customer_id = create(sim, "customer", CUSTOMER)
    response = sim.post(f"{ERP}/invoice", json=invoice_body(entity_id=customer_id, taxCode="XX"))
    assert response.status_code == 400
    assert response.json() == {
        "type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1",
        "title": "Bad Request",
        "status": 400,
        "o:errorDetails": [
            {
                "detail": "Invalid tax code",
                "o:errorCode": "INVALID_FLD_VALUE",
                "o:errorPath": "taxCode",
            }
        ],
    }
    assert not SimulatedRecord.objects.filter(kind="invoice").exists()
    create(sim, "invoice", invoice_body(entity_id=customer_id, taxCode="US-STD"))


def test_an_unknown_record_type_answers_404(sim):
    response = sim.get(f"{ERP}/salesOrder")
    assert response.status_code == 404
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_RCRD_TYPE"
