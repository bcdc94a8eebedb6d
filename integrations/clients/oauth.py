"""OAuth 2.0 client credentials: asking a system's token endpoint for an access token.

The call is an outbound call like any other: logged for the attempt, and a token endpoint
that does not answer (or answers 5xx) counts toward the system's breaker. A refusal of
the client itself (400, 401, 403) is the credentials' fault, not an outage.
"""

from __future__ import annotations

import time

import httpx

from integrations.clients.transport import (
    Call,
    answer_summary,
    call_log,
    client,
    elapsed_ms,
    retry_after_seconds,
)
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem, OutboundAuth
from integrations.services.breakers import SystemUnavailable, breaker_failure, breaker_success


class TokenRefused(Exception):
    """The token endpoint refused the tower's client: its words, to show."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def token_url(system: ConnectedSystem, auth: OutboundAuth) -> str:
    """The token endpoint: as given, or a path on the system's own base URL (NetSuite's is on
    the account's REST host)."""
    if auth.token_url.startswith("/"):
        return system.base_url.rstrip("/") + auth.token_url
    return auth.token_url


def token_fetch(system: ConnectedSystem, auth: OutboundAuth) -> tuple[str, float]:
    """A new access token and its lifetime in seconds; ``TokenRefused`` when the endpoint
    refuses the client, a transient ``IntegrationError`` when it does not answer."""
    url = token_url(system, auth)
    data = {"grant_type": "client_credentials"}
    if auth.scope:
        data["scope"] = auth.scope
    started = time.perf_counter()
    try:
        response = client().post(
            url,
            data=data,
            auth=(auth.username, auth.secret),
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        call_log(Call("POST", url, None, elapsed_ms(started), type(exc).__name__))
        _outage(system, f"POST {url} (token) failed: {type(exc).__name__}")
        raise IntegrationError.transient_failure(
            f"{system.name}'s token endpoint {url} did not answer: {exc}", system=system
        ) from exc
    status = response.status_code
    summary = "" if response.is_success else answer_summary(response)
    call_log(Call("POST", url, status, elapsed_ms(started), summary))
    if status >= 500:
        _outage(system, f"POST {url} (token) answered {status}")
        raise IntegrationError.transient_failure(
            f"{system.name}'s token endpoint {url} answered {status}.",
            system=system,
            outbound_status=status,
            outbound_summary=summary,
        )
    breaker_success(system)
    if status in (400, 401, 403):
        try:
            body = response.json()
            why = f"{body.get('error', '')}: {body.get('error_description', '')}".strip(": ")
        except ValueError:
            why = response.text[:200]
        raise TokenRefused(why or str(status))
    if not response.is_success:  # 429 and the like: try again, when the system says
        raise IntegrationError.transient_failure(
            f"{system.name}'s token endpoint answered {status}.",
            system=system,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            outbound_status=status,
            outbound_summary=summary,
        )
    try:
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TokenRefused(
            f"it answered {status} without an access token: {response.text[:200]!r}"
        ) from None


def _outage(system: ConnectedSystem, error: str) -> None:
    breaker = breaker_failure(system, error=error)
    if breaker.is_open:
        raise SystemUnavailable(system, breaker)
