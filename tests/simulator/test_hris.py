"""The simulated HRIS answers as BambooHR's API does: an employee by its id with the fields
asked for, a 404 for one it does not have, and only to its API key as the HTTP Basic user."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)

GATEWAY = "/simulator/hris/api/gateway.php/northwind/v1"
EMPLOYEES = "/simulator/hris/api/v1/employees"


def test_the_hris_starts_with_the_demo_firms_people_as_employees(sim):
    employees = sim.get(EMPLOYEES).json()["results"]
    assert [e["employeeNumber"] for e in employees] == [f"E-000{n}" for n in range(1, 6)]
    ada = sim.get(f"{GATEWAY}/employees/{employees[0]['id']}/").json()
    assert ada["firstName"] == "Ada" and ada["lastName"] == "Byron"
    assert ada["jobTitle"] == "Partner" and ada["division"] == "US01"


def test_an_employee_is_read_by_its_id_with_the_fields_asked_for(sim):
    created = sim.post(EMPLOYEES, json={"employeeNumber": "E-0107", "firstName": "Margaret"})
    employee_id = created.json()["id"]
    response = sim.get(
        f"{GATEWAY}/employees/{employee_id}/", params={"fields": "firstName,workEmail"}
    )
    assert response.status_code == 200
    assert response.json() == {"id": employee_id, "firstName": "Margaret", "workEmail": None}


def test_an_employee_the_hris_does_not_have_is_not_found(sim):
    response = sim.get(f"{GATEWAY}/employees/99999/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.credentials
def test_the_hris_wants_its_api_key_as_the_http_basic_user_with_any_password(sim):
    url = f"{GATEWAY}/meta/fields/"
    refused = sim.get(url)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert sim.get(url, auth=httpx.BasicAuth("demo-hris-api-key", "x")).status_code == 200
    assert sim.get(url, auth=httpx.BasicAuth("demo-hris-api-key", "")).status_code == 200
    assert sim.get(url, auth=httpx.BasicAuth("another-key", "x")).status_code == 401


def test_the_hris_offers_no_api_key_header_and_no_oauth(sim):
    for mode in ("api_key", "oauth2", "basic"):
        response = sim.put("/simulator/hris/_faults", json={"auth": mode})
        assert response.status_code == 400, response.text
