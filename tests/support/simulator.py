"""A test's own HTTP client for the simulated systems, with the credentials they demand.

The simulated ERP wants an OAuth 2.0 bearer token (client credentials), the PSA an API
key, the HRIS its API key as the HTTP Basic user (BambooHR) and Harvest a personal access
token and its account id, as their vendors do, and the CRM's Salesforce REST API
(``/services/data/...``) a bearer token from its own token endpoint; a test that reads what
the tower wrote there presents the demo's credentials, as the tower does
(``controltower.operations.demo.DEMO_CREDENTIALS``).
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from typing import Any

import httpx

ERP_CLIENT = ("demo-erp-client", "demo-erp-client-secret")
PSA_API_KEY = "demo-psa-api-key"
HRIS_API_KEY = "demo-hris-api-key"
HARVEST_TOKEN = "demo-harvest-api-key"
HARVEST_ACCOUNT_ID = "100001"
TOKEN_PATH = "/simulator/erp/services/rest/auth/oauth2/v1/token"
# Each simulated ERP instance (erp, and erp2 for a second region) issues its own tokens.
ERP_INSTANCES = ("erp", "erp2")


def erp_client(slug: str) -> tuple[str, str]:
    """The demo's OAuth 2.0 client of the simulated ERP instance ``slug``."""
    return (f"demo-{slug}-client", f"demo-{slug}-client-secret")


def erp_token_path(slug: str) -> str:
    return f"/simulator/{slug}/services/rest/auth/oauth2/v1/token"


# The CRM's Salesforce REST API, and where its tokens come from (Salesforce's own paths).
SALESFORCE_API = "/simulator/crm/services/data/v"
SALESFORCE_TOKEN_PATH = "/simulator/crm/services/oauth2/token"


def token_path(issuer: str) -> str:
    return SALESFORCE_TOKEN_PATH if issuer == "crm" else erp_token_path(issuer)


class VendorCredentials(httpx.Auth):
    """Signs each call as its system wants it: a bearer token to each ERP instance (fetched
    once, and again when it says it expired), the API key to the PSA and to the HRIS."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        path = request.url.path
        if "/_" in path:  # the simulator's control endpoints are its own, not the vendor's
            yield request
            return
        if "/simulator/psa/" in path:
            request.headers["X-Api-Key"] = PSA_API_KEY
        if "/simulator/harvest/" in path:
            request.headers["Authorization"] = f"Bearer {HARVEST_TOKEN}"
            request.headers["Harvest-Account-Id"] = HARVEST_ACCOUNT_ID
        if "/simulator/hris/" in path:
            pair = base64.b64encode(f"{HRIS_API_KEY}:x".encode()).decode()
            request.headers["Authorization"] = f"Basic {pair}"
        erp = next((slug for slug in ERP_INSTANCES if f"/simulator/{slug}/" in path), None)
        if path.startswith(SALESFORCE_API):
            erp = "crm"  # a bearer token as for an ERP, from Salesforce's token endpoint
        if erp is None or path.endswith(token_path(erp)):
            yield request
            return
        if erp not in self.tokens:
            self.tokens[erp] = self._fetch(request, erp)
        request.headers["Authorization"] = f"Bearer {self.tokens[erp]}"
        response = yield request
        if response.status_code == 401:
            self.tokens[erp] = self._fetch(request, erp)
            request.headers["Authorization"] = f"Bearer {self.tokens[erp]}"
            yield request

    def _fetch(self, request: httpx.Request, erp: str) -> str:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        response = httpx.post(
            origin + token_path(erp),
            data={"grant_type": "client_credentials"},
            auth=erp_client(erp),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["access_token"]


def simulator_client(base_url: str, **options: Any) -> httpx.Client:
    """An httpx client on the simulator (or one system of it) that presents its credentials."""
    return httpx.Client(base_url=base_url, auth=VendorCredentials(), **options)


def demo_systems_simulated(base: str) -> None:
    """Points every demo system the tower calls at the simulator at ``base`` (a live test
    server's ``/simulator``), as ``demo_load`` does with the demo's own address."""
    from controltower.operations.demo import DEMO_BASE_PATHS
    from integrations.models import ConnectedSystem

    for slug, path in DEMO_BASE_PATHS.items():
        ConnectedSystem.objects.filter(slug=slug).update(base_url=f"{base}{path}")
