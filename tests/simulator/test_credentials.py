"""Credentials: the ERP and the PSA demand them by default, as their vendors do; each
``auth`` mode refuses and accepts as documented."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from django.utils import timezone

from simulator.models import AccessToken
from tests.simulator.conftest import ERP

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.credentials]

TOKEN_URL = "/simulator/erp/services/rest/auth/oauth2/v1/token"
PSA = "/simulator/psa/api/v1"
ERP_CLIENT = ("demo-erp-client", "demo-erp-client-secret")


def token_for(sim, auth=ERP_CLIENT, **form) -> httpx.Response:
    return sim.post(TOKEN_URL, data={"grant_type": "client_credentials", **form}, auth=auth)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_by_default_the_erp_and_the_psa_ask_for_credentials_and_the_crm_does_not(sim):
    assert sim.get(f"{ERP}/customer").status_code == 401
    assert sim.get(f"{PSA}/projects").status_code == 401
    assert sim.get(f"{PSA}/projects", headers={"X-Api-Key": "demo-psa-api-key"}).status_code == 200
    assert sim.get("/simulator/crm/api/v1/accounts").status_code == 200


# --- ERP: OAuth 2.0 client credentials -----------------------------------------------------


def test_oauth2_refuses_a_call_without_a_token_in_netsuites_error_body(sim, knobs):
    knobs("erp", auth="oauth2")
    response = sim.get(f"{ERP}/customer")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["title"] == "Unauthorized" and body["status"] == 401
    assert body["type"] == "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2"
    assert body["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    assert body["o:errorDetails"][0]["detail"].startswith("Invalid login attempt.")


def test_the_token_endpoint_swaps_client_credentials_by_http_basic_for_a_bearer_token(sim, knobs):
    knobs("erp", auth="oauth2")
    response = token_for(sim)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 600  # the ERP's default
    assert sim.get(f"{ERP}/customer", headers=bearer(body["access_token"])).status_code == 200
    created = sim.post(
        f"{ERP}/customer", json={"companyName": "Acme"}, headers=bearer(body["access_token"])
    )
    assert created.status_code == 204


def test_the_token_endpoint_takes_the_client_credentials_as_form_fields_too(sim, knobs):
    knobs("erp", auth="oauth2")
    client_id, secret = ERP_CLIENT
    response = token_for(sim, auth=None, client_id=client_id, client_secret=secret)
    assert response.status_code == 200, response.text
    assert sim.get(f"{ERP}/job", headers=bearer(response.json()["access_token"])).status_code == 200


def test_oauth2_refuses_a_wrong_token(sim, knobs):
    knobs("erp", auth="oauth2")
    response = sim.get(f"{ERP}/customer", headers=bearer("not-a-token"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
    basic = sim.get(f"{ERP}/customer", auth=ERP_CLIENT)  # NetSuite takes no password
    assert basic.status_code == 401


def test_oauth2_refuses_an_expired_token(sim, knobs):
    knobs("erp", auth="oauth2", token_ttl_seconds=5)
    token = token_for(sim).json()
    assert token["expires_in"] == 5
    assert sim.get(f"{ERP}/customer", headers=bearer(token["access_token"])).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=6)):
        expired = sim.get(f"{ERP}/customer", headers=bearer(token["access_token"]))
        assert expired.status_code == 401
        assert expired.json()["o:errorDetails"][0]["o:errorCode"] == "INVALID_LOGIN"
        fresh = token_for(sim).json()["access_token"]
        assert sim.get(f"{ERP}/customer", headers=bearer(fresh)).status_code == 200
        assert AccessToken.objects.count() == 1  # the expired one was pruned


@pytest.mark.parametrize(
    ("auth", "form", "status", "error"),
    [
        (("demo-erp-client", "wrong"), {}, 401, "invalid_client"),
        (None, {"client_id": "demo-erp-client", "client_secret": "wrong"}, 401, "invalid_client"),
        (None, {}, 401, "invalid_client"),
        (ERP_CLIENT, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (ERP_CLIENT, {"grant_type": ""}, 400, "invalid_request"),
        (ERP_CLIENT, {"client_id": "demo-erp-client"}, 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_refuses_as_oauth2_words_it(sim, auth, form, status, error):
    response = token_for(sim, auth=auth, **form)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert not AccessToken.objects.exists()


def test_a_client_failing_http_basic_is_told_the_scheme(sim):
    response = token_for(sim, auth=("demo-erp-client", "wrong"))
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_the_token_endpoint_answers_only_post(sim):
    assert sim.get(TOKEN_URL).status_code == 405


def test_the_expected_client_comes_from_the_environment(sim, knobs, monkeypatch):
    monkeypatch.setenv("CT_SIM_ERP_CLIENT_ID", "tower")
    monkeypatch.setenv("CT_SIM_ERP_CLIENT_SECRET", "s3cret-from-env")
    assert token_for(sim).status_code == 401
    assert token_for(sim, auth=("tower", "s3cret-from-env")).status_code == 200


def test_outside_demo_mode_an_unset_credential_accepts_nothing(sim, settings, monkeypatch):
    settings.DEMO = False
    monkeypatch.delenv("CT_SIM_ERP_CLIENT_ID", raising=False)
    monkeypatch.delenv("CT_SIM_ERP_CLIENT_SECRET", raising=False)
    assert token_for(sim).status_code == 401


# --- PSA, CRM, CLM: API key and HTTP Basic ----------------------------------------------------


def test_api_key_refuses_a_call_without_the_key_or_with_a_wrong_one(sim, knobs):
    knobs("psa", auth="api_key")
    missing = sim.get(f"{PSA}/projects")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert "X-Api-Key" in missing.json()["error"]["message"]
    wrong = sim.get(f"{PSA}/projects", headers={"X-Api-Key": "guess"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"


def test_api_key_accepts_the_systems_key(sim, knobs, monkeypatch):
    knobs("psa", auth="api_key")
    assert sim.get(f"{PSA}/projects", headers={"X-Api-Key": "demo-psa-api-key"}).status_code == 200
    monkeypatch.setenv("CT_SIM_PSA_API_KEY", "key-from-env")
    assert sim.get(f"{PSA}/projects", headers={"X-Api-Key": "demo-psa-api-key"}).status_code == 401
    created = sim.post(
        f"{PSA}/projects", json={"code": "P-1"}, headers={"X-Api-Key": "key-from-env"}
    )
    assert created.status_code == 201


def test_basic_refuses_without_or_with_wrong_credentials_and_accepts_the_client(sim, knobs):
    knobs("crm", auth="basic")
    missing = sim.get("/simulator/crm/api/v1/accounts")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = sim.get("/simulator/crm/api/v1/accounts", auth=("demo-crm-client", "nope"))
    assert wrong.status_code == 401
    right = sim.get(
        "/simulator/crm/api/v1/accounts", auth=("demo-crm-client", "demo-crm-client-secret")
    )
    assert right.status_code == 200


def test_one_systems_credentials_do_not_open_another(sim, knobs):
    knobs("clm", auth="api_key")
    assert (
        sim.get(
            "/simulator/clm/api/v1/contracts", headers={"X-Api-Key": "demo-psa-api-key"}
        ).status_code
        == 401
    )


def test_refused_calls_are_logged_and_not_counted_by_the_rate_limit(sim, knobs):
    knobs("psa", auth="api_key", rate_limit_per_minute=1)
    assert sim.get(f"{PSA}/projects").status_code == 401
    assert sim.get(f"{PSA}/projects", headers={"X-Api-Key": "demo-psa-api-key"}).status_code == 200
    log = sim.get("/simulator/psa/_requests").json()["results"]
    assert [(call["status"], call["admitted_at"] is not None) for call in log] == [
        (401, False),
        (200, True),
    ]


def test_control_endpoints_need_no_credentials_and_reset_puts_the_vendors_own_back(sim, knobs):
    knobs("psa", auth="none")
    assert sim.get("/simulator/psa/_faults").json()["auth"] == "none"
    assert sim.get("/simulator/psa/_requests").status_code == 200
    assert sim.post("/simulator/psa/_reset").json()["knobs"]["auth"] == "api_key"
    assert sim.get(f"{PSA}/projects").status_code == 401
