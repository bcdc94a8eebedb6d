"""Contract to project against the simulated ERP and PSA over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from canonical.models import BillingMilestone, Contract, ContractVersion, Customer, Project
from integrations.choices import Outcome, TransactionState
from integrations.models import SyncState, Transaction
from integrations.services.processing import transactions_process
from tests.support.inbound import contract_event, customer_event, events_send

pytestmark = pytest.mark.django_db(transaction=True)


def erp_records(http: httpx.Client, record: str) -> list[dict]:
    return http.get(f"/erp/services/rest/record/v1/{record}").json()["items"]


def psa_projects(http: httpx.Client) -> list[dict]:
    body = http.get("/psa/api/v1/projects").json()
    return body.get("results", body) if isinstance(body, dict) else body


def test_a_signed_contract_creates_the_project_in_erp_and_psa_once(simulator):
    [tx_id] = events_send(contract_event("K-5001"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    contract = Contract.objects.get(number="K-5001")
    assert contract.status == "signed" and contract.correlation_id == tx.correlation_id
    assert ContractVersion.objects.get(contract=contract).terms["cap_amount"] == "250000.00"
    assert BillingMilestone.objects.filter(contract=contract).count() == 2
    project = Project.objects.get(code="P-K-5001")
    jobs = erp_records(simulator, "job")
    assert len(jobs) == 1 and jobs[0]["externalId"] == "P-K-5001"
    assert [item["code"] for item in jobs[0]["billingSchedule"]["items"]] == ["M1", "M2"]
    assert len(erp_records(simulator, "customer")) == 1
    assert [p["code"] for p in psa_projects(simulator)] == ["P-K-5001"]
    states = {
        s.system.slug: s.external_id
        for s in SyncState.objects.filter(object_id=project.pk, content_type__model="project")
    }
    assert states == {"erp": str(jobs[0]["id"]), "psa": str(psa_projects(simulator)[0]["id"])}
    calls = tx.attempts.get().outbound_summary
    # NetSuite's upsert by external id: sent again, it finds the job instead of making a second.
    assert "PUT" in calls and "/job/eid:P-K-5001 -> 204" in calls


def test_the_same_contract_delivered_five_times_makes_one_project_everywhere(simulator):
    event = contract_event("K-5002")
    events_send(event, system="clm")
    for _ in range(2):
        # the same delivery: duplicates at the door
        events_send(event, system="clm", redelivered=True)
    for _ in range(2):
        # the same version under new event ids: unchanged
        events_send(contract_event("K-5002"), system="clm")
    outcomes = list(
        Transaction.objects.filter(business_key="K-5002").values_list("outcome", flat=True)
    )
    assert sorted(outcomes) == [Outcome.APPLIED, Outcome.UNCHANGED, Outcome.UNCHANGED]
    assert len(erp_records(simulator, "job")) == 1
    assert len(psa_projects(simulator)) == 1


def test_an_erp_outage_is_retried_and_creates_nothing_twice(simulator):
    simulator.put("/erp/_faults", json={"outage": True})
    [tx_id] = events_send(contract_event("K-5003"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.RETRY_SCHEDULED and tx.attempts.get().outbound_status == 503
    # The contract is on record; the ERP does not hold it yet, and the sync state says so.
    project = Project.objects.get(code="P-K-5003")
    assert not SyncState.objects.filter(
        object_id=project.pk, content_type__model="project"
    ).exists()
    simulator.put("/erp/_faults", json={"outage": False})
    Transaction.objects.filter(pk=tx_id).update(next_attempt_at=tx.received_at)
    transactions_process(ids=[tx_id])
    tx.refresh_from_db()
    assert (tx.state, tx.outcome, tx.attempts_count) == (
        TransactionState.SUCCEEDED,
        Outcome.APPLIED,
        2,
    )
    assert len(erp_records(simulator, "job")) == 1


def test_a_psa_failure_after_the_erp_create_does_not_duplicate_the_erp_project(simulator):
    simulator.put("/psa/_faults", json={"outage": True})
    [tx_id] = events_send(contract_event("K-5004"), system="clm")
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.RETRY_SCHEDULED
    assert len(erp_records(simulator, "job")) == 1  # created before the PSA failed
    simulator.put("/psa/_faults", json={"outage": False})
    Transaction.objects.filter(pk=tx_id).update(
        next_attempt_at=Transaction.objects.get(pk=tx_id).received_at
    )
    transactions_process(ids=[tx_id])
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED
    assert len(erp_records(simulator, "job")) == 1  # found by its externalId, not created again
    assert len(psa_projects(simulator)) == 1


def test_a_contract_for_an_unknown_customer_waits_for_the_customer(simulator):
    [tx_id] = events_send(contract_event("K-5005", customer="C-7777"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert (
        tx.state == TransactionState.BLOCKED and tx.exception.exception_type == "unknown_customer"
    )
    assert tx.exception.waiting_on == "customer:C-7777"
    events_send(customer_event("C-7777"), system="crm")
    assert Customer.objects.filter(number="C-7777").exists()
    transactions_process(ids=[tx_id])
    assert Transaction.objects.get(pk=tx_id).state == TransactionState.SUCCEEDED
    assert len(erp_records(simulator, "job")) == 1


def test_an_erp_refusal_is_a_downstream_rejected_exception_with_the_vendors_message(simulator):
    rule = {
        "record": "job",
        "field": "custentity_contract_number",
        "value": "K-5006",
        "message": "Contract K-5006 is on legal hold",
    }
    assert simulator.put("/erp/_faults", json={"reject": [rule]}).status_code == 200
    [tx_id] = events_send(contract_event("K-5006"), system="clm")
    tx = Transaction.objects.get(pk=tx_id)
    assert tx.state == TransactionState.BLOCKED, tx.last_error
    assert tx.exception.exception_type == "downstream_rejected"
    assert "Contract K-5006 is on legal hold" in tx.last_error
    assert tx.attempts.get().outbound_status == 400
