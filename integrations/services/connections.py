"""Testing a connection: one harmless call to a system with its credentials, as an admin
asks after changing them (or an operator after an outage).

The call reads one record of a list the tower reads anyway; it goes around the breaker
and the rate limit (it is the person's own probe). When it works, the system's breaker
closes and what waited for the system or for its credentials runs again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from integrations.choices import SystemKind
from integrations.clients.erp import ErpClient
from integrations.clients.psa import PsaClient
from integrations.clients.transport import client
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem
from integrations.services.breakers import breaker_success
from integrations.services.credentials import auth_headers, auth_of, authentication_works
from integrations.services.mappings import vendor_adapter


@dataclass(frozen=True)
class ConnectionResult:
    """What one test call answered, in words for the person who asked."""

    ok: bool
    message: str
    url: str = ""
    status: int | None = None
    duration_ms: int | None = None
    released: int = 0  # exceptions closed because the credentials work now


def probe_url(system: ConnectedSystem) -> str:
    """A harmless read of the system's API: one record of a list the tower reads anyway."""
    if system.kind == SystemKind.ERP:
        return f"{ErpClient(system).base}/customer?limit=1"
    if system.kind == SystemKind.PSA:
        return f"{PsaClient(system).base}/projects?limit=1"
    adapter = vendor_adapter(system)
    if adapter is not None and adapter.probe_path:
        return system.base_url.rstrip("/") + adapter.probe_path
    return system.base_url


def connection_test(system: ConnectedSystem) -> ConnectionResult:
    """Calls ``system`` once with its credentials (a new access token, for OAuth 2.0)."""
    if not system.base_url:
        return ConnectionResult(
            False, f"{system.name} has no base URL: the tower does not call it."
        )
    url = probe_url(system)
    try:
        headers = auth_headers(system, auth_of(system), fresh_token=True)
    except IntegrationError as failure:
        return ConnectionResult(False, failure.message, url=url)
    started = time.perf_counter()
    try:
        response = client().get(url, headers={"Accept": "application/json", **headers})
    except httpx.HTTPError as exc:
        return ConnectionResult(False, f"{system.name} did not answer {url}: {exc}.", url=url)
    duration = int((time.perf_counter() - started) * 1000)
    status = response.status_code
    if response.is_success:
        breaker_success(system)
        released = authentication_works(system)
        more = (
            f" {released} exception{'s' if released != 1 else ''} waiting for its credentials closed and their work runs again."
            if released
            else ""
        )
        return ConnectionResult(
            True,
            f"{system.name} answered {status} in {duration} ms with the tower's credentials.{more}",
            url=url,
            status=status,
            duration_ms=duration,
            released=released,
        )
    if status in (401, 403):
        message = f"{system.name} refused the tower's credentials ({status})."
    else:
        message = f"{system.name} answered {status}: {response.text[:200]}"
    return ConnectionResult(False, message, url=url, status=status, duration_ms=duration)
