"""Thin Salesforce change events: an UPDATE from a channel that is not enriched carries only
the fields that changed; when it runs, the tower reads the opportunity from Salesforce's
REST API (the simulated CRM, over HTTP, with an OAuth 2.0 client credentials session),
keeps it in the payload with the change event's header, and maps it to the contract whose
project goes to the ERP and the PSA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from canonical.models import Contract, Customer, Project
from controltower.operations.selectors.exceptions import link_candidates
from integrations.adapters.salesforce import API_VERSION
from integrations.choices import ExceptionType, TransactionState
from integrations.models import ConnectedSystem, OutboundAuth, SyncState, Transaction
from integrations.services.connections import connection_test
from integrations.services.processing import transactions_process
from tests.integrations.adapters.support import accepted, document
from tests.support.inbound import signed_post

pytestmark = pytest.mark.django_db(transaction=True)

SOBJECTS = f"/crm/services/data/v{API_VERSION}/sobjects"
COMMIT = 10596028384960456
# Fields Salesforce sets itself: the simulated org is seeded with the others.
SYSTEM_FIELDS = {
    "attributes",
    "Id",
    "IsDeleted",
    "CreatedDate",
    "LastModifiedDate",
    "SystemModstamp",
}


@pytest.fixture
def salesforce(simulator) -> Iterator[httpx.Client]:
    """The demo's Salesforce system reading the simulated CRM, emptied."""
    simulator.post("/crm/_reset")
    base = str(simulator.base_url).rstrip("/")
    ConnectedSystem.objects.filter(slug="salesforce").update(base_url=f"{base}/crm")
    yield simulator


def opportunity_seeded(http: httpx.Client, **changes: Any) -> str:
    """The fixture's closed-won opportunity in the simulated org; returns its Id."""
    record = document("salesforce", "sobject_opportunity_closed_won.json")
    fields = {key: value for key, value in record.items() if key not in SYSTEM_FIELDS}
    response = http.post(f"{SOBJECTS}/Opportunity/", json={**fields, **changes})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def change_received(
    record_id: str, fixture: str = "cdc_update_stage_only.json", *, commit: int = COMMIT
) -> Transaction:
    """Salesforce's change event for ``record_id``, as the forwarder posts it."""
    event = document("salesforce", fixture)
    event["ChangeEventHeader"].update(recordIds=[record_id], commitNumber=commit)
    [tx] = accepted(signed_post(Client(), "salesforce", event), 1)
    return tx


def processed(tx: Transaction) -> Transaction:
    transactions_process(ids=[tx.pk])
    tx.refresh_from_db()
    return tx


def crm_calls(http: httpx.Client) -> list[tuple[str, str, int]]:
    """The calls the simulated Salesforce got from the tower (the test seeds with POSTs to
    its sObjects, and takes its own session first)."""
    calls = http.get("/crm/_requests").json()["results"]
    tower = [call for call in calls if "/sobjects/" not in call["path"] or call["method"] != "POST"]
    return [(call["method"], call["path"].split("/crm", 1)[1], call["status"]) for call in tower][
        1:
    ]


def test_a_stage_change_alone_reads_the_opportunity_and_makes_the_project(salesforce):
    record_id = opportunity_seeded(salesforce)
    tx = change_received(record_id)
    assert tx.fetch == record_id
    tx = processed(tx)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    contract = Contract.objects.get(number="K-2026-0050")
    assert contract.billing_model == "time_and_materials"
    assert str(contract.cap_amount) == "180000.00"
    assert Project.objects.get(contract=contract).code == "P-1050"
    jobs = salesforce.get("/erp/services/rest/record/v1/job").json()["items"]
    assert [job["externalId"] for job in jobs] == ["P-1050"]
    projects = salesforce.get("/psa/api/v1/projects").json()["results"]
    assert [project["code"] for project in projects] == ["P-1050"]
    # Read once, with a session of the tower's own; kept with the change event's header.
    assert crm_calls(salesforce) == [
        ("POST", "/services/oauth2/token", 200),
        ("GET", f"/services/data/v{API_VERSION}/sobjects/Opportunity/{record_id}", 200),
    ]
    assert tx.fetch == "" and tx.payload["Id"] == record_id
    assert tx.payload["ChangeEventHeader"]["changedFields"] == ["StageName", "LastModifiedDate"]
    assert tx.payload["attributes"]["type"] == "Opportunity"
    assert (tx.idempotency_key, tx.event_version) == (f"{record_id}:{COMMIT}:1", COMMIT)
    assert tx.business_key == "K-2026-0050"
    assert tx.normalized["data"]["signed_at"] == "2026-11-03T09:30:00Z"


def test_an_opportunity_the_org_no_longer_has_is_ignored_with_the_reason(salesforce):
    record_id = opportunity_seeded(salesforce)
    salesforce.delete(f"{SOBJECTS}/Opportunity/{record_id}")
    tx = processed(change_received(record_id))
    assert tx.state == TransactionState.IGNORED
    assert f"has no record {record_id}" in tx.last_error and "404" in tx.last_error
    assert not Contract.objects.filter(number="K-2026-0050").exists()


def test_a_refused_client_holds_the_event_as_an_authentication_exception(salesforce):
    record_id = opportunity_seeded(salesforce)
    auth = OutboundAuth.objects.get(system__slug="salesforce")
    auth.secret = "not-the-client-secret"
    auth.save()
    first, second = change_received(record_id), change_received(record_id, commit=COMMIT + 1)
    for _ in range(2):  # run, and asked to run again: held, not retried into a storm
        transactions_process(ids=[first.pk, second.pk])
    for tx in (first, second):
        tx.refresh_from_db()
        assert tx.state == TransactionState.BLOCKED, tx.last_error
        assert tx.exception.exception_type == ExceptionType.AUTHENTICATION_FAILED
        assert tx.fetch == record_id and tx.next_attempt_at is None
    assert "invalid client credentials" in first.last_error
    # One refused token request per event, and no record read without a session.
    assert crm_calls(salesforce) == [("POST", "/services/oauth2/token", 400)] * 2
    # Fixed credentials and a connection test release the held work, which then runs.
    auth.secret = "demo-crm-client-secret"
    auth.save()
    result = connection_test(ConnectedSystem.objects.get(slug="salesforce"))
    assert result.ok and result.released == 1, result.message
    tx = processed(first)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Project.objects.filter(code="P-1050").exists()


def test_an_expired_session_is_renewed_once_and_the_record_read(salesforce):
    salesforce.put("/crm/_faults", json={"token_ttl_seconds": 1})
    first_id = opportunity_seeded(salesforce)
    second_id = opportunity_seeded(
        salesforce, Contract_Number__c="K-2026-0051", Project_Code__c="P-1051"
    )
    assert processed(change_received(first_id)).state == TransactionState.SUCCEEDED
    time.sleep(1.2)  # the org's session timeout passes; the tower still holds the token
    tx = processed(change_received(second_id))
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    read = f"/services/data/v{API_VERSION}/sobjects/Opportunity/{second_id}"
    assert crm_calls(salesforce)[-3:] == [
        ("GET", read, 401),
        ("POST", "/services/oauth2/token", 200),
        ("GET", read, 200),
    ]


def test_an_event_that_carries_every_value_is_mapped_without_reading_salesforce(salesforce):
    tx = change_received("0065g00000XyZ1qAAF", "cdc_closed_won.json")
    assert tx.fetch == ""
    tx = processed(tx)
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert Project.objects.get(contract__number="K-2026-0042").code == "P-1042"
    assert salesforce.get("/crm/_requests").json()["results"] == []


def test_a_stage_that_is_not_won_is_ignored_without_reading_salesforce(salesforce):
    event = document("salesforce", "cdc_update_stage_only.json")
    event["StageName"] = "Negotiation/Review"
    response = signed_post(Client(), "salesforce", event)
    assert 'StageName is "Negotiation/Review"' in response.json()["results"][0]["ignored"]
    assert salesforce.get("/crm/_requests").json()["results"] == []


def test_the_connection_test_reads_the_api_versions_resources_with_a_session(salesforce):
    system = ConnectedSystem.objects.get(slug="salesforce")
    result = connection_test(system)
    assert result.ok and result.status == 200, result.message
    assert result.url.endswith(f"/crm/services/data/v{API_VERSION}/")
    OutboundAuth.objects.filter(system=system).update(username="another-client")
    refused = connection_test(ConnectedSystem.objects.get(slug="salesforce"))
    assert not refused.ok and "invalid client credentials" in refused.message


# --- the account: AccountId where the org keeps no customer number on the opportunity -----


def account_seeded(http: httpx.Client, number: str, name: str = "Acme Corporation") -> str:
    """An Account of the simulated org with ``number`` as its AccountNumber; returns its Id."""
    response = http.post(f"{SOBJECTS}/Account/", json={"Name": name, "AccountNumber": number})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_an_org_without_a_customer_number_field_names_the_account_found_by_its_number(
    salesforce,
):
    account_id = account_seeded(salesforce, "C-1001")
    record_id = opportunity_seeded(salesforce, AccountId=account_id, Customer_Number__c=None)
    tx = processed(change_received(record_id))
    assert tx.state == TransactionState.SUCCEEDED, tx.last_error
    assert tx.normalized["data"]["customer"] == f"SALESFORCE-{account_id}"
    assert Contract.objects.get(number="K-2026-0050").customer.number == "C-1001"
    link = SyncState.objects.get(system__slug="salesforce", content_type__model="customer")
    assert link.external_id == account_id
    assert ("GET", f"/services/data/v{API_VERSION}/sobjects/Account/{account_id}", 200) in (
        crm_calls(salesforce)
    )
    # The next opportunity of the account is read on the link: no second read of it.
    second = opportunity_seeded(
        salesforce,
        AccountId=account_id,
        Customer_Number__c=None,
        Contract_Number__c="K-2026-0051",
        Project_Code__c="P-1051",
    )
    assert processed(change_received(second, commit=COMMIT + 1)).state == "succeeded"
    reads = [call for call in crm_calls(salesforce) if "/Account/" in call[1]]
    assert len(reads) == 1


def test_an_account_whose_number_no_customer_has_waits_for_a_person_to_pick_it(
    salesforce, user_with_role, api_client_for
):
    account_id = account_seeded(salesforce, "C-7777", name="Unknown Co")
    record_id = opportunity_seeded(salesforce, AccountId=account_id, Customer_Number__c=None)
    tx = processed(change_received(record_id))
    assert tx.state == TransactionState.BLOCKED
    exc = tx.exception
    assert exc.exception_type == "unknown_customer"
    assert exc.waiting_on == f"customer:SALESFORCE-{account_id}"
    assert f"Salesforce account {account_id} is linked to no customer" in exc.message
    assert "no customer has its number C-7777 from Salesforce" in exc.message
    acme = Customer.objects.get(number="C-1001")
    assert ("C-1001", "Acme Corporation") in link_candidates(exc)  # to pick from
    operator = api_client_for(user_with_role("operator"))
    linked = operator.post(
        f"/api/v1/customers/{acme.pk}/link/", {"system": "salesforce", "external_id": account_id}
    )
    assert linked.status_code == 200, linked.content
    assert processed(tx).state == TransactionState.SUCCEEDED
    assert Contract.objects.get(number="K-2026-0050").customer == acme
