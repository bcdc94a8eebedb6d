"""Amendment propagation against the simulated ERP and PSA over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canonical.choices import InvoiceStatus
from canonical.models import Contract, ContractVersion, Invoice
from integrations.choices import Outcome, TransactionState
from integrations.models import Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, event, events_run

pytestmark = pytest.mark.django_db(transaction=True)


def amendment(
    number="K-7001",
    *,
    version=2,
    end_date="2027-12-31",
    rates=None,
    milestones=None,
    effective="2026-12-01",
):
    signed = contract_event(number)["data"]
    data = {k: v for k, v in signed.items() if k not in ("project", "signed_at")}
    data.update(end_date=end_date, effective_date=effective, amendment=f"{number}-A{version - 1}")
    if rates is not None:
        data["rates"] = rates
    if milestones is not None:
        data["milestones"] = milestones
    return event("contract.amended", data, version=version)


def test_an_amendment_is_a_new_version_and_reaches_the_erp_schedule_and_the_psa_plan(simulator):
    [signed] = events_run(contract_event("K-7001"), system="clm")
    milestones = contract_event("K-7001")["data"]["milestones"] + [
        {"code": "M3", "name": "Hypercare", "amount": "15000"}
    ]
    [amended] = events_run(
        amendment(milestones=milestones, rates=[{"role": "Manager", "rate": "320"}]), system="clm"
    )
    assert amended.state == TransactionState.SUCCEEDED, amended.last_error
    assert amended.correlation_id == signed.correlation_id  # one lineage
    contract = Contract.objects.get(number="K-7001")
    assert (contract.version, contract.status, str(contract.end_date)) == (
        2,
        "amended",
        "2027-12-31",
    )
    assert list(
        ContractVersion.objects.filter(contract=contract).values_list("version", flat=True)
    ) == [1, 2]
    jobs = simulator.get("/erp/services/rest/record/v1/job").json()["items"]
    assert len(jobs) == 1 and jobs[0]["endDate"] == "2027-12-31"
    assert jobs[0]["custentity_cap_amount"] == "250000.00"
    assert [i["code"] for i in jobs[0]["billingSchedule"]["items"]] == ["M1", "M2", "M3"]
    rates = {item["role"]: item["rate"] for item in jobs[0]["billingRates"]["items"]}
    assert (
        rates["Manager"] == "320.00" and rates["Partner"] == "450.00"
    )  # the amendment over the card
    projects = simulator.get("/psa/api/v1/projects").json()["results"]
    assert len(projects) == 1 and projects[0]["end_date"] == "2027-12-31"


def test_an_amendment_before_its_contract_waits_and_runs_after_it(simulator):
    [early] = events_run(amendment("K-7002"), system="clm")
    assert early.state == TransactionState.BLOCKED
    assert early.exception.exception_type == "amendment_before_contract"
    events_run(contract_event("K-7002"), system="clm")
    transactions_process(ids=[early.pk])
    early.refresh_from_db()
    assert early.state == TransactionState.SUCCEEDED and early.outcome == Outcome.APPLIED
    assert Contract.objects.get(number="K-7002").version == 2


def test_an_older_amendment_after_a_newer_one_is_stale(simulator):
    events_run(contract_event("K-7003"), system="clm")
    events_run(amendment("K-7003", version=3, end_date="2028-01-31"), system="clm")
    [older] = events_run(amendment("K-7003", version=2, end_date="2027-01-31"), system="clm")
    assert older.outcome == Outcome.STALE
    assert str(Contract.objects.get(number="K-7003").end_date) == "2028-01-31"


def test_a_rate_cut_on_invoiced_time_is_an_amendment_conflict_with_the_money_at_stake(simulator):
    events_run(contract_event("K-7004", project_code="P-7004") | {}, system="clm")
    events_run(
        event(
            "assignment.upserted",
            {
                "number": "A-74",
                "project": "P-7004",
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 100,
            },
        ),
        system="psa",
    )
    events_run(
        event(
            "time_entry.approved",
            {
                "number": "T-74",
                "project": "P-7004",
                "resource": "E-0002",
                "work_date": "2026-12-02",
                "hours": 10,
                "billable": True,
            },
        ),
        system="psa",
    )
    Invoice.objects.filter(project__code="P-7004").update(status=InvoiceStatus.APPROVED)
    [cut] = events_run(
        amendment("K-7004", rates=[{"role": "Manager", "rate": "250"}]), system="clm"
    )
    assert cut.state == TransactionState.BLOCKED
    exc = cut.exception
    assert exc.exception_type == "amendment_conflict"
    assert exc.money_at_risk == Decimal("500.00")  # 10 h x (300 - 250)
    assert exc.details["role"] == "Manager" and Decimal(exc.details["hours"]) == 10
    assert Contract.objects.get(number="K-7004").version == 1  # nothing applied


def test_an_approved_amendment_conflict_applies_the_cut_from_then_on(simulator, user_with_role):
    from canonical.errors import InvalidStateError
    from controltower.operations.services.approvals import exception_approve
    from controltower.operations.services.exceptions import exception_resolve
    from integrations.choices import ExceptionStatus

    cut = _conflict("K-7006", "P-7006")
    with pytest.raises(InvalidStateError, match="approver approves or rejects"):
        exception_resolve(
            exception_id=cut.exception_id, actor=user_with_role("operator"), resolution="ok"
        )
    exception_approve(
        exception_id=cut.exception_id, actor=user_with_role("approver"), reason="credit agreed"
    )
    cut.refresh_from_db()
    assert cut.exception.status == ExceptionStatus.RESOLVED and cut.state == "received"
    transactions_process(ids=[cut.pk])
    cut.refresh_from_db()
    assert cut.state == TransactionState.SUCCEEDED, cut.last_error
    assert Contract.objects.get(number="K-7006").version == 2
    invoiced = Invoice.objects.get(project__code="P-7006")
    assert invoiced.amount == Decimal("3000.00")  # invoiced time stays as billed


def test_a_rejected_amendment_conflict_cancels_the_amendment(simulator, user_with_role):
    from controltower.operations.services.approvals import exception_reject

    cut = _conflict("K-7007", "P-7007")
    exception_reject(
        exception_id=cut.exception_id, actor=user_with_role("approver"), reason="CLM error"
    )
    cut.refresh_from_db()
    assert cut.state == TransactionState.CANCELLED and "CLM error" in cut.last_error
    assert Contract.objects.get(number="K-7007").version == 1


def _conflict(number: str, project: str) -> Transaction:
    events_run(contract_event(number, project_code=project), system="clm")
    events_run(
        event(
            "assignment.upserted",
            {
                "number": f"A-{number}",
                "project": project,
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 100,
            },
        ),
        system="psa",
    )
    events_run(
        event(
            "time_entry.approved",
            {
                "number": f"T-{number}",
                "project": project,
                "resource": "E-0002",
                "work_date": "2026-12-02",
                "hours": 10,
                "billable": True,
            },
        ),
        system="psa",
    )
    Invoice.objects.filter(project__code=project).update(status=InvoiceStatus.APPROVED)
    [cut] = events_run(amendment(number, rates=[{"role": "Manager", "rate": "250"}]), system="clm")
    assert cut.exception.exception_type == "amendment_conflict"
    return cut


def test_a_rate_rise_re_rates_time_on_candidates_not_yet_approved(simulator):
    events_run(contract_event("K-7005", project_code="P-7005"), system="clm")
    events_run(
        event(
            "assignment.upserted",
            {
                "number": "A-75",
                "project": "P-7005",
                "resource": "E-0002",
                "role": "Manager",
                "start_date": "2026-11-02",
                "allocation_percent": 100,
            },
        ),
        system="psa",
    )
    events_run(
        event(
            "time_entry.approved",
            {
                "number": "T-75a",
                "project": "P-7005",
                "resource": "E-0002",
                "work_date": "2026-11-20",
                "hours": 10,
                "billable": True,
            },
        ),
        event(
            "time_entry.approved",
            {
                "number": "T-75b",
                "project": "P-7005",
                "resource": "E-0002",
                "work_date": "2026-12-02",
                "hours": 10,
                "billable": True,
            },
        ),
        system="psa",
    )
    [rise] = events_run(
        amendment("K-7005", rates=[{"role": "Manager", "rate": "330"}], effective="2026-12-01"),
        system="clm",
    )
    assert rise.state == TransactionState.SUCCEEDED, rise.last_error
    november = Invoice.objects.get(number="INV-P-7005-202611")
    december = Invoice.objects.get(number="INV-P-7005-202612")
    assert november.amount == Decimal("3000.00")  # before the effective date: the old rate
    assert december.amount == Decimal("3300.00")  # from it: the amended rate


def test_a_psa_change_to_the_project_keeps_its_psa_id_and_the_amendment_still_reaches_it(
    simulator,
):
    from canonical.models import Project
    from integrations.models import SyncState

    events_run(contract_event("K-7004"), system="clm")
    [psa_project] = simulator.get("/psa/api/v1/projects").json()["results"]
    project = Project.objects.get(code="P-K-7004")
    # The PSA reports a change; its event names the project by code, not by the PSA's id.
    [changed] = events_run(
        event("project.upserted", {"code": "P-K-7004", "status": "active"}, version=2),
        system="psa",
    )
    assert changed.state == TransactionState.SUCCEEDED, changed.last_error
    state = SyncState.objects.get(
        object_id=project.pk, content_type__model="project", system__slug="psa"
    )
    assert (state.external_id, state.last_version) == (str(psa_project["id"]), 2)

    [amended] = events_run(amendment("K-7004"), system="clm")
    assert amended.state == TransactionState.SUCCEEDED, amended.last_error
    [after] = simulator.get("/psa/api/v1/projects").json()["results"]
    assert after["id"] == psa_project["id"] and after["end_date"] == "2027-12-31"


def test_a_psa_change_after_the_tower_pushed_a_newer_project_version_is_not_taken_as_stale(
    simulator,
):
    """The PSA numbers its own versions; the tower's pushes count the canonical ones."""
    from canonical.models import Project

    events_run(contract_event("K-7005"), system="clm")
    [amended] = events_run(
        amendment("K-7005"), system="clm"
    )  # the end date moves: project v2 goes to the PSA
    assert amended.state == TransactionState.SUCCEEDED, amended.last_error
    assert Project.objects.get(code="P-K-7005").version == 2

    # The PSA's own first change to the project, its version 2: closed early.
    [closed] = events_run(
        event(
            "project.upserted",
            {"code": "P-K-7005", "status": "closed", "end_date": "2026-12-15"},
            version=2,
        ),
        system="psa",
    )
    assert closed.outcome == Outcome.APPLIED
    project = Project.objects.get(code="P-K-7005")
    assert (project.status, str(project.end_date), project.version) == ("closed", "2026-12-15", 3)

    # The change goes on to the ERP's copy, not back to the PSA.
    [propagation] = Transaction.objects.filter(event_type="project.propagate")
    assert (propagation.business_key, propagation.correlation_id) == (
        "P-K-7005",
        Contract.objects.get(number="K-7005").correlation_id,  # in the contract's lineage
    )
    transactions_process(ids=[propagation.pk])
    propagation.refresh_from_db()
    assert (propagation.state, propagation.outcome) == (TransactionState.SUCCEEDED, "applied")
    [job] = simulator.get("/erp/services/rest/record/v1/job").json()["items"]
    assert job["endDate"] == "2026-12-15"
    assert job["entityStatus"] == {"refName": "Closed"}  # closed in the ERP too
    [psa_project] = simulator.get("/psa/api/v1/projects").json()["results"]
    assert psa_project["end_date"] == "2027-12-31"  # the PSA's own change is not pushed back
    # A redelivery of the same PSA version, and an older one, are still judged by its numbers.
    [again] = events_run(
        event("project.upserted", {"code": "P-K-7005", "status": "active"}, version=2),
        system="psa",
    )
    [older] = events_run(
        event("project.upserted", {"code": "P-K-7005", "status": "active"}, version=1),
        system="psa",
    )
    assert (again.outcome, older.outcome) == (Outcome.UNCHANGED, Outcome.STALE)
    assert Project.objects.get(code="P-K-7005").status == "closed"
