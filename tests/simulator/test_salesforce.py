"""The simulated CRM answers as Salesforce's REST API does: a session from the OAuth 2.0
client credentials flow, opportunities and accounts by their ids as "sObject Rows" shows
them, and Salesforce's error list for a record it does not have or a session it does not
know (REST API Developer Guide)."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "/simulator/crm/services/oauth2/token"
DATA = "/simulator/crm/services/data"
API = f"{DATA}/v61.0"
CLIENT = ("demo-crm-client", "demo-crm-client-secret")
OPPORTUNITY = {
    "Name": "Acme data platform",
    "StageName": "Closed Won",
    "AccountId": "001000000000001AAA",
    "CurrencyIsoCode": "USD",
    "Contract_Number__c": "K-2026-0050",
    "Cap_Amount__c": 180000.5,
}


def session(sim: httpx.Client, **form: str) -> httpx.Response:
    return sim.post(TOKEN, data={"grant_type": "client_credentials", **form})


def bearer(sim: httpx.Client) -> dict[str, str]:
    response = session(sim, client_id=CLIENT[0], client_secret=CLIENT[1])
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def created(sim: httpx.Client, sobject: str, fields: dict, headers: dict[str, str]) -> str:
    response = sim.post(f"{API}/sobjects/{sobject}/", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["success"] is True and body["errors"] == []
    return body["id"]


def test_the_client_credentials_flow_answers_a_salesforce_session(sim):
    by_form = session(sim, client_id=CLIENT[0], client_secret=CLIENT[1])
    assert by_form.status_code == 200 and by_form.headers["Cache-Control"] == "no-store"
    body = by_form.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert body["instance_url"].endswith("/simulator/crm")
    assert body["issued_at"].isdigit() and body["signature"] and "/id/00D" in body["id"]
    assert "expires_in" not in body  # Salesforce does not say; the org's timeout decides
    by_basic = sim.post(TOKEN, data={"grant_type": "client_credentials"}, auth=CLIENT)
    assert by_basic.status_code == 200 and by_basic.json()["access_token"] != body["access_token"]


def test_refused_client_credentials_get_salesforces_oauth_error(sim):
    wrong = session(sim, client_id=CLIENT[0], client_secret="not-the-secret")
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    password = sim.post(TOKEN, data={"grant_type": "password"}, auth=CLIENT)
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"


def test_an_opportunity_is_read_by_its_id_as_sobject_rows_shows_it(sim):
    headers = bearer(sim)
    record_id = created(sim, "Opportunity", OPPORTUNITY, headers)
    assert len(record_id) == 18 and record_id.startswith("006")
    response = sim.get(f"{API}/sobjects/Opportunity/{record_id}", headers=headers)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["attributes"] == {
        "type": "Opportunity",
        "url": f"/services/data/v61.0/sobjects/Opportunity/{record_id}",
    }
    assert record["Id"] == record_id and record["IsDeleted"] is False
    assert {key: record[key] for key in OPPORTUNITY} == OPPORTUNITY
    assert record["SystemModstamp"].endswith("+0000") and "." in record["SystemModstamp"]
    # The 15-character id names the same record; fields= reads only those fields.
    short = sim.get(
        f"{API}/sobjects/Opportunity/{record_id[:15]}",
        params={"fields": "StageName,Probability"},
        headers=headers,
    ).json()
    assert short["Id"] == record_id
    assert (short["StageName"], short["Probability"]) == ("Closed Won", None)
    assert "Name" not in short


def test_an_account_is_read_by_its_id_with_its_account_number(sim):
    headers = bearer(sim)
    account = {"Name": "Acme Corporation", "AccountNumber": "C-1001"}
    record_id = created(sim, "Account", account, headers)
    assert record_id.startswith("001")
    record = sim.get(f"{API}/sobjects/Account/{record_id}", headers=headers).json()
    assert record["attributes"]["type"] == "Account" and record["AccountNumber"] == "C-1001"
    # An account's id is not an opportunity's.
    assert sim.get(f"{API}/sobjects/Opportunity/{record_id}", headers=headers).status_code == 404


def test_a_record_it_does_not_have_is_salesforces_not_found(sim):
    headers = bearer(sim)
    record_id = created(sim, "Opportunity", OPPORTUNITY, headers)
    deleted = sim.delete(f"{API}/sobjects/Opportunity/{record_id}", headers=headers)
    assert deleted.status_code == 204
    for missing in (record_id, "0065g00000XyZ3sAAF", "not-an-id"):
        response = sim.get(f"{API}/sobjects/Opportunity/{missing}", headers=headers)
        assert response.status_code == 404
        [error] = response.json()
        assert error["errorCode"] == "NOT_FOUND" and error["message"]
    assert sim.get(f"{API}/sobjects/Contact/{record_id}", headers=headers).status_code == 404


def test_a_missing_unknown_or_expired_session_is_invalid(sim, knobs):
    invalid = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    url = f"{API}/sobjects/Opportunity/0065g00000XyZ3sAAF"
    assert sim.get(url).status_code == 401 and sim.get(url).json() == invalid
    unknown = sim.get(url, headers={"Authorization": "Bearer not-a-session"})
    assert unknown.status_code == 401 and unknown.json() == invalid
    knobs("crm", token_ttl_seconds=1)
    headers = bearer(sim)
    assert sim.get(f"{API}/", headers=headers).status_code == 200
    time.sleep(1.2)
    expired = sim.get(f"{API}/", headers=headers)
    assert expired.status_code == 401 and expired.json() == invalid


def test_the_versions_need_no_session_and_a_versions_resources_do(sim):
    versions = sim.get(f"{DATA}/")
    assert versions.status_code == 200
    assert {"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"} in (
        versions.json()
    )
    assert sim.get(f"{API}/").status_code == 401
    resources = sim.get(f"{API}/", headers=bearer(sim))
    assert resources.json()["sobjects"] == "/services/data/v61.0/sobjects"
    assert sim.get(f"{DATA}/v12.0/", headers=bearer(sim)).status_code == 404


def test_fields_salesforce_sets_itself_are_refused_and_a_patch_changes_the_record(sim):
    headers = bearer(sim)
    refused = sim.post(
        f"{API}/sobjects/Opportunity/", json={**OPPORTUNITY, "Id": "006x"}, headers=headers
    )
    assert refused.status_code == 400
    [error] = refused.json()
    assert error["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and error["fields"] == ["Id"]
    record_id = created(sim, "Opportunity", {**OPPORTUNITY, "StageName": "Prospecting"}, headers)
    url = f"{API}/sobjects/Opportunity/{record_id}"
    assert sim.patch(url, json={"StageName": "Closed Won"}, headers=headers).status_code == 204
    assert sim.get(url, headers=headers).json()["StageName"] == "Closed Won"


def test_the_knobs_apply_to_the_salesforce_api_and_answer_in_its_error_list(sim, knobs):
    headers = bearer(sim)
    knobs("crm", outage=True)
    response = sim.get(f"{API}/", headers=headers)
    assert response.status_code == 503
    assert response.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    calls = sim.get("/simulator/crm/_requests").json()["results"]
    assert [(call["path"], call["status"]) for call in calls][-1] == (f"{API}/", 503)
