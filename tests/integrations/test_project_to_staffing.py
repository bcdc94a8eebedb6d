"""Project to staffing against the simulated ERP over real HTTP: the staffing rules park an
assignment until its data is fixed, and warn the resource managers of an over-allocation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from canonical.models import Assignment, Project
from controltower.operations.demo import demo_load, demo_operations_load
from controltower.operations.models import BusinessException
from integrations.choices import ExceptionStatus, TransactionState
from integrations.services.exceptions import exceptions_recheck
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run
from tests.support.simulator import demo_systems_simulated, simulator_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def erp(live_server):
    """The demo with its teams, contract K-6001 signed (P-K-6001, 2026-11-02 to 2027-06-30,
    US rate card: Manager 300/h) and in the simulated ERP."""
    demo_load()
    demo_operations_load()
    base = f"{live_server.url}/simulator"
    demo_systems_simulated(base)
    with simulator_client(f"{base}/erp", timeout=10) as http:
        http.post("/_reset")
        [signed] = events_run(contract_event("K-6001"), system="clm")
        assert signed.state == TransactionState.SUCCEEDED, signed.last_error
        yield http


def assignment(number, *, resource="E-0002", project="P-K-6001", version=1, **values):
    return event(
        "assignment.upserted",
        {
            "number": number,
            "project": project,
            "resource": resource,
            "role": "Manager",
            "start_date": "2026-11-02",
            "end_date": "2026-12-31",
            "allocation_percent": 50,
            **values,
        },
        version=version,
    )


def rerun(tx):
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    return tx


def test_an_assignment_before_its_project_starts_waits_until_the_project_moves(erp):
    [tx] = events_run(assignment("A-1", start_date="2026-10-19"), system="psa")
    assert tx.state == TransactionState.BLOCKED
    exc = BusinessException.objects.get(pk=tx.exception_id)
    # 19 to 30 October: 10 working days x 8 h x 50 % = 40 h at the Manager's 300.00.
    assert exc.message == (
        "Assignment A-1 on project P-K-6001 starts on 2026-10-19, before project P-K-6001 "
        "starts on 2026-11-02. 12,000.00 USD of planned Manager time falls outside."
    )
    assert (exc.exception_type, exc.money_at_risk, exc.currency) == (
        "assignment_outside_project",
        Decimal("12000.00"),
        "USD",
    )
    assert exc.team.name == "Resource management"
    assert not Assignment.objects.filter(number="A-1").exists()

    # A project change that does not fix the dates leaves it parked...
    project_event = {"code": "P-K-6001", "status": "active", "start_date": "2026-10-26"}
    events_run(event("project.upserted", project_event), system="psa")
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.OPEN
    # ... the one that does releases it, and the assignment runs by itself.
    events_run(
        event("project.upserted", {**project_event, "start_date": "2026-10-19"}, version=2),
        system="psa",
    )
    exc.refresh_from_db()
    assert exc.status == ExceptionStatus.RESOLVED
    assert "dates changed in psa" in exc.resolution
    assert rerun(tx).state == TransactionState.SUCCEEDED
    assert Assignment.objects.get(number="A-1").start_date.isoformat() == "2026-10-19"


def test_a_corrected_assignment_from_the_psa_supersedes_the_parked_one(erp):
    [parked] = events_run(assignment("A-2", end_date="2027-07-30"), system="psa")
    assert parked.exception.message.startswith(
        "Assignment A-2 on project P-K-6001 ends on 2027-07-30, after project P-K-6001 ends "
        "on 2027-06-30."
    )
    [fixed] = events_run(assignment("A-2", end_date="2027-06-30", version=2), system="psa")
    assert fixed.state == TransactionState.SUCCEEDED, fixed.last_error
    assert BusinessException.objects.get(pk=parked.exception_id).status == "resolved"
    parked = rerun(parked)
    assert (parked.state, parked.outcome) == (TransactionState.SUCCEEDED, "stale")
    assert Assignment.objects.get(number="A-2").end_date.isoformat() == "2027-06-30"


def test_an_over_allocation_is_applied_and_warns_the_resource_managers_until_it_is_fixed(erp):
    events_run(contract_event("K-6002"), system="clm")
    [first, second] = events_run(
        assignment("A-3", allocation_percent=100, end_date="2026-11-27"),
        assignment("A-4", project="P-K-6002", start_date="2026-11-16", end_date="2026-12-11"),
        system="psa",
    )
    # Both applied, and both in the ERP's cost forecast: the PSA has staffed the person.
    assert (first.state, second.state) == (TransactionState.SUCCEEDED,) * 2, second.last_error
    forecasts = erp.get("/services/rest/record/v1/projectCostForecast").json()["items"]
    assert sorted(f["externalId"] for f in forecasts) == ["A-3", "A-4"]
    warning = BusinessException.objects.get(exception_type="resource_over_allocated")
    # 16 to 27 November: 10 working days x 8 h x 50 % over = 40 h at 300.00.
    assert warning.message == (
        "Resource E-0002 is allocated 150 % in the week of 2026-11-16: A-3 on P-K-6001 100 %, "
        "A-4 on P-K-6002 50 %. Over 100 % in 2 weeks. 12,000.00 USD of planned time cannot "
        "all be delivered."
    )
    assert (warning.business_key, warning.money_at_risk) == ("E-0002", Decimal("12000.00"))
    assert warning.team.name == "Resource management"
    assert warning.details["total_percent"] == 150
    assert not warning.transactions.exists()  # it holds nothing: the work went on

    # Cutting A-4 to 25 %: still over (125 %), restated with today's figures.
    events_run(
        assignment(
            "A-4",
            project="P-K-6002",
            start_date="2026-11-16",
            end_date="2026-12-11",
            allocation_percent=25,
            version=2,
        ),
        system="psa",
    )
    warning.refresh_from_db()
    assert warning.status == ExceptionStatus.OPEN and warning.money_at_risk == Decimal("6000.00")
    assert "allocated 125 %" in warning.message
    # A-3 ending before A-4 starts: 100 % or less every day, resolved by itself.
    events_run(
        assignment("A-3", allocation_percent=100, end_date="2026-11-13", version=2), system="psa"
    )
    warning.refresh_from_db()
    assert warning.status == ExceptionStatus.RESOLVED
    assert "E-0002 is allocated 100 % or less now" in warning.resolution


def test_an_assignment_for_someone_who_left_waits_for_the_hris(erp):
    resource = {
        "employee_number": "E-0004",
        "name": "Emmy Noether",
        "role": "Consultant",
        "legal_entity": "DE01",
        "active": False,
    }
    events_run(event("resource.upserted", resource, version=2), system="hris")
    [tx] = events_run(
        assignment("A-5", resource="E-0004", end_date="2026-11-27", allocation_percent=100),
        system="psa",
    )
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    # 2 to 27 November: 20 working days x 8 h at the Manager's 300.00.
    assert exc.message == (
        "Assignment A-5 staffs E-0004 on project P-K-6001 from 2026-11-02, but the HRIS marks "
        "E-0004 inactive (no longer with the firm). 48,000.00 USD of planned Manager time has "
        "nobody."
    )
    assert (exc.exception_type, exc.waiting_on) == ("resource_unavailable", "resource:E-0004")
    events_run(event("resource.upserted", {**resource, "active": True}, version=3), system="hris")
    assert rerun(tx).state == TransactionState.SUCCEEDED


def test_project_dates_fixed_in_the_admin_are_found_by_the_recheck(erp):
    [tx] = events_run(assignment("A-6", start_date="2026-10-26"), system="psa")
    assert tx.exception.waiting_on == "project_dates:P-K-6001:A-6"
    assert exceptions_recheck() == 0  # the project still starts on 2 November
    Project.objects.filter(code="P-K-6001").update(start_date=date(2026, 10, 26))
    assert exceptions_recheck() == 1
    assert rerun(tx).state == TransactionState.SUCCEEDED


def test_a_person_without_the_roles_skills_is_staffed_and_the_managers_are_told_until_the_hris_has_them(
    erp,
):
    signed = contract_event("K-6003")
    signed["data"]["project"]["roles"] = [
        {"role": "Manager", "skills": ["SAP FI", "Workshop  facilitation", "sap fi"]}
    ]
    events_run(signed, system="clm")
    assert Project.objects.get(code="P-K-6003").role_skills == {
        "Manager": ["sap fi", "workshop facilitation"]
    }
    [tx] = events_run(assignment("A-7", project="P-K-6003", end_date="2026-11-27"), system="psa")
    # Applied: the PSA has staffed the person; the resource managers are told.
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    warning = BusinessException.objects.get(exception_type="resource_lacks_skills")
    # 2 to 27 November: 20 working days x 8 h x 50 % = 80 h at the Manager's 300.00.
    assert warning.message == (
        "Resource E-0002 is staffed as Manager on P-K-6003 (A-7) without sap fi, workshop "
        "facilitation, which the role requires. 24,000.00 USD of planned time."
    )
    assert (warning.business_key, warning.money_at_risk, warning.currency) == (
        "A-7",
        Decimal("24000.00"),
        "USD",
    )
    assert warning.team.name == "Resource management"
    assert not warning.transactions.exists()

    grace = {
        "employee_number": "E-0002",
        "name": "Grace Hopper",
        "role": "Manager",
        "legal_entity": "US01",
    }
    events_run(
        event("resource.upserted", {**grace, "skills": ["SAP FI"]}, version=2), system="hris"
    )
    warning.refresh_from_db()
    assert warning.status == ExceptionStatus.OPEN
    assert "without workshop facilitation, which" in warning.message
    # An HRIS event that names no skills keeps the ones the tower holds.
    events_run(event("resource.upserted", grace, version=3), system="hris")
    warning.refresh_from_db()
    assert warning.status == ExceptionStatus.OPEN
    events_run(
        event(
            "resource.upserted",
            {**grace, "skills": ["Workshop facilitation", "sap fi", "SQL"]},
            version=4,
        ),
        system="hris",
    )
    warning.refresh_from_db()
    assert warning.status == ExceptionStatus.RESOLVED
    assert "E-0002 has the skills P-K-6003 requires of a Manager now" in warning.resolution
