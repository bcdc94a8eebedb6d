"""The simulated HRIS answers as BambooHR's API does: an employee by its id with the fields
asked for, a 404 for one it does not have, the employees changed since a moment, and only
to its API key as the HTTP Basic user."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

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


CHANGED = f"{GATEWAY}/employees/changed/"
LAST_CHANGED = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$")


def next_second() -> str:
    """Waits for the clock's next whole second, the grain of BambooHR's change times, and
    answers it as ``since`` takes it."""
    now = datetime.now(UTC)
    time.sleep(1 - now.microsecond / 1_000_000)
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_changed_employees_are_listed_by_id_with_their_last_change_as_bamboohr_does(sim):
    # The shape of documentation.bamboohr.com "Get Changed Employee IDs".
    seeded = sim.get(CHANGED, params={"since": "2011-06-05T00:00:00Z"}).json()
    assert len(seeded["employees"]) == 5
    first = next(iter(seeded["employees"].values()))
    assert set(first) == {"id", "action", "lastChanged"} and first["action"] == "Inserted"
    assert LAST_CHANGED.match(first["lastChanged"]) and seeded["latest"] == first["lastChanged"]
    [ada, grace, alan, *_] = sim.get(EMPLOYEES).json()["results"]
    since = next_second()
    sim.patch(f"{EMPLOYEES}/{grace['id']}", json={"jobTitle": "Partner"})
    sim.delete(f"{EMPLOYEES}/{alan['id']}")
    added = sim.post(EMPLOYEES, json={"employeeNumber": "E-0107"}).json()
    changed = sim.get(CHANGED, params={"since": since}).json()
    actions = {key: entry["action"] for key, entry in changed["employees"].items()}
    assert actions == {grace["id"]: "Updated", alan["id"]: "Deleted", added["id"]: "Inserted"}
    for key, entry in changed["employees"].items():
        assert entry["id"] == key and LAST_CHANGED.match(entry["lastChanged"])
    assert ada["id"] not in changed["employees"]
    assert max(e["lastChanged"] for e in changed["employees"].values()) == changed["latest"]
    assert changed["latest"] >= since.replace("Z", "+00:00")


def test_changed_employees_are_kept_to_one_type_of_change(sim):
    [ada, grace, *_] = sim.get(EMPLOYEES).json()["results"]
    sim.patch(f"{EMPLOYEES}/{ada['id']}", json={"status": "Inactive"})
    sim.delete(f"{EMPLOYEES}/{grace['id']}")
    since = {"since": "2011-06-05T00:00:00+0000"}
    actions = {
        kind: {
            e["action"]
            for e in sim.get(CHANGED, params={**since, "type": kind}).json()["employees"].values()
        }
        for kind in ("inserted", "updated", "deleted")
    }
    assert actions == {"inserted": {"Inserted"}, "updated": {"Updated"}, "deleted": {"Deleted"}}
    assert list(sim.get(CHANGED, params={**since, "type": "deleted"}).json()["employees"]) == [
        grace["id"]
    ]


def test_nothing_changed_since_a_moment_is_an_empty_list(sim):
    answer = sim.get(CHANGED, params={"since": "2999-01-01T00:00:00Z"})
    assert answer.status_code == 200
    assert answer.json() == {"latest": None, "employees": {}}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00Z", "type": "all"}, "type"),
    ],
)
def test_changed_employees_without_a_readable_since_or_type_is_a_bad_request(sim, params, field):
    answer = sim.get(CHANGED, params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_parameter"
    assert answer.json()["error"]["field"] == field


@pytest.mark.credentials
def test_changed_employees_want_the_api_key_as_the_http_basic_user(sim):
    params = {"since": "2026-01-01T00:00:00Z"}
    assert sim.get(CHANGED, params=params).status_code == 401
    key = httpx.BasicAuth("demo-hris-api-key", "x")
    assert sim.get(CHANGED, params=params, auth=key).status_code == 200
