"""The simulated PSA, CRM and CLM: plain REST with their own records."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

PSA = "/simulator/psa/api/v1"


def test_psa_creates_a_project_with_201_and_reads_and_patches_it(sim):
    response = sim.post(
        f"{PSA}/projects",
        json={
            "code": "P-1042",
            "name": "Acme ERP Rollout",
            "status": "active",
            "external_id": "P-1042",
        },
    )
    assert response.status_code == 201, response.text
    project = response.json()
    assert project["id"].isdigit() and project["code"] == "P-1042"
    assert response.headers["Location"].endswith(f"{PSA}/projects/{project['id']}")
    patched = sim.patch(f"{PSA}/projects/{project['id']}", json={"status": "closed"})
    assert patched.status_code == 200 and patched.json()["status"] == "closed"
    assert sim.get(f"{PSA}/projects/{project['id']}").json()["name"] == "Acme ERP Rollout"
    assert sim.get(f"{PSA}/projects", params={"external_id": "P-1042"}).json()["count"] == 1


def test_psa_changed_since_lists_only_records_updated_at_or_after_it(sim):
    old = sim.post(f"{PSA}/time-entries", json={"number": "TE-1", "hours": 2}).json()
    later = timezone.now() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        new = sim.post(f"{PSA}/time-entries", json={"number": "TE-2", "hours": 3}).json()
    listed = sim.get(f"{PSA}/time-entries", params={"changed_since": later.isoformat()}).json()
    assert [item["id"] for item in listed["results"]] == [new["id"]]
    everything = sim.get(f"{PSA}/time-entries", params={"changed_since": "2000-01-01T00:00:00Z"})
    assert everything.json()["count"] == 2
    with time_machine.travel(later + timedelta(hours=1), tick=False):
        sim.patch(f"{PSA}/time-entries/{old['id']}", json={"hours": 2.5})
    listed = sim.get(f"{PSA}/time-entries", params={"changed_since": later.isoformat()}).json()
    assert {item["id"] for item in listed["results"]} == {old["id"], new["id"]}


def test_an_unparseable_changed_since_answers_400_in_the_rest_error_body(sim):
    response = sim.get(f"{PSA}/assignments", params={"changed_since": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_an_unknown_id_answers_404_in_the_rest_error_body(sim):
    response = sim.get(f"{PSA}/assignments/31337")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": response.json()["error"]["message"]}
    }


def test_crm_and_clm_serve_their_own_collections(sim):
    account = sim.post("/simulator/crm/api/v1/accounts", json={"number": "C-1001", "name": "Acme"})
    assert account.status_code == 201
    contract = sim.post("/simulator/clm/api/v1/contracts", json={"number": "K-5001"})
    assert contract.status_code == 201
    assert sim.get("/simulator/crm/api/v1/accounts").json()["count"] == 1
    assert sim.get("/simulator/clm/api/v1/accounts").status_code == 404
    assert sim.get("/simulator/clm/api/v1/amendments").json() == {"count": 0, "results": []}


def test_a_reject_rule_refuses_a_psa_create_with_the_field_named(sim, knobs):
    knobs("psa", reject=[{"record": "assignment", "field": "role", "value": "Astronaut"}])
    response = sim.post(f"{PSA}/assignments", json={"number": "A-1", "role": "Astronaut"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_field_value"
    assert response.json()["error"]["field"] == "role"
