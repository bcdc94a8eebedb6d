"""The PSA, CRM and CLM lists filter on any top-level field and page, like a real REST API."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)

PSA = "/simulator/psa/api/v1"


def add(sim, collection: str, **fields) -> dict:
    response = sim.post(f"{PSA}/{collection}", json=fields)
    assert response.status_code == 201, response.text
    return response.json()


def codes(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["results"]]


def test_a_field_in_the_query_finds_the_records_with_that_value(sim):
    add(sim, "projects", code="P-1041", status="active")
    add(sim, "projects", code="P-1042", status="active")
    add(sim, "projects", code="P-1043", status="closed")

    found = sim.get(f"{PSA}/projects", params={"code": "P-1042"})
    assert codes(found) == ["P-1042"] and found.json()["count"] == 1
    assert codes(sim.get(f"{PSA}/projects", params={"status": "active"})) == ["P-1041", "P-1042"]
    both = {"status": "active", "code": "P-1041"}
    assert codes(sim.get(f"{PSA}/projects", params=both)) == ["P-1041"]
    assert codes(sim.get(f"{PSA}/projects", params={"code": "P-404"})) == []
    assert codes(sim.get(f"{PSA}/projects", params={"colour": "red"})) == []


def test_a_number_or_boolean_in_the_query_matches_the_json_value(sim):
    add(sim, "time-entries", code="TE-1", hours=2, billable=True)
    add(sim, "time-entries", code="TE-2", hours=2.5, billable=False)
    add(sim, "time-entries", code="TE-3", hours="2", billable="true")

    assert codes(sim.get(f"{PSA}/time-entries", params={"hours": "2"})) == ["TE-1", "TE-3"]
    assert codes(sim.get(f"{PSA}/time-entries", params={"hours": "2.5"})) == ["TE-2"]
    assert codes(sim.get(f"{PSA}/time-entries", params={"billable": "false"})) == ["TE-2"]


def test_a_field_named_like_a_lookup_is_still_a_field(sim):
    add(sim, "projects", code="P-1", contains="x")
    assert codes(sim.get(f"{PSA}/projects", params={"contains": "x"})) == ["P-1"]
    assert codes(sim.get(f"{PSA}/projects", params={"code__startswith": "P"})) == []


def test_field_filters_combine_with_changed_since_and_external_id(sim):
    add(sim, "assignments", code="A-1", role="Consultant", external_id="A-1")
    later = timezone.now() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        add(sim, "assignments", code="A-2", role="Consultant", external_id="A-2")
        add(sim, "assignments", code="A-3", role="Partner", external_id="A-3")
    recent = {"role": "Consultant", "changed_since": later.isoformat()}
    assert codes(sim.get(f"{PSA}/assignments", params=recent)) == ["A-2"]
    by_key = {"role": "Consultant", "external_id": "A-1"}
    assert codes(sim.get(f"{PSA}/assignments", params=by_key)) == ["A-1"]


def test_the_id_filter_is_the_records_own_id(sim):
    first = add(sim, "projects", code="P-1")
    add(sim, "projects", code="P-2")
    assert codes(sim.get(f"{PSA}/projects", params={"id": first["id"]})) == ["P-1"]
    assert codes(sim.get(f"{PSA}/projects", params={"id": "nope"})) == []


def test_limit_and_offset_page_the_list_with_the_total_count_and_links(sim):
    for number in range(5):
        add(sim, "projects", code=f"P-{number}", status="active")
    add(sim, "projects", code="P-X", status="closed")

    first = sim.get(f"{PSA}/projects", params={"status": "active", "limit": 2}).json()
    assert first["count"] == 5 and [p["code"] for p in first["results"]] == ["P-0", "P-1"]
    assert first["previous"] is None
    assert "offset=2" in first["next"] and "status=active" in first["next"]

    second = sim.get(first["next"]).json()
    assert [p["code"] for p in second["results"]] == ["P-2", "P-3"]
    assert "offset=0" in second["previous"]
    last = sim.get(second["next"]).json()
    assert [p["code"] for p in last["results"]] == ["P-4"] and last["next"] is None


def test_without_limit_or_offset_the_whole_list_comes_back(sim):
    for number in range(3):
        add(sim, "projects", code=f"P-{number}")
    assert sim.get(f"{PSA}/projects").json() == {
        "count": 3,
        "results": sim.get(f"{PSA}/projects").json()["results"],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": "0"}, "limit"), ({"limit": "abc"}, "limit"), ({"offset": "-1"}, "offset")],
)
def test_a_bad_page_parameter_answers_400_invalid_parameter(sim, params, field):
    response = sim.get(f"{PSA}/projects", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["field"] == field


def test_the_crm_and_clm_lists_filter_the_same_way(sim):
    sim.post("/simulator/crm/api/v1/accounts", json={"number": "C-1", "name": "Acme"})
    sim.post("/simulator/crm/api/v1/accounts", json={"number": "C-2", "name": "Globex"})
    found = sim.get("/simulator/crm/api/v1/accounts", params={"name": "Globex"}).json()
    assert [account["number"] for account in found["results"]] == ["C-2"]
