"""One way of calling another system: pooled httpx clients, timeouts, error classes.

429, 5xx, timeouts and connection failures are transient (retried with backoff,
honouring ``Retry-After``, for as long as the system's retry budget lasts); 401/403 are
an authentication failure and other 4xx a ``downstream_rejected`` business exception
carrying the vendor's own message. Every call of an attempt is logged so that the
Attempt row shows its outbound calls.

Before a call, the system's circuit breaker must let it go (``services.breakers``) and
its rate limit must have a token (``services.ratelimits``); after it, an outage-like
failure counts toward opening the breaker and a 429 slows the system's rate down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from django.conf import settings

from integrations.choices import AuthKind, ErrorClass, ExceptionType
from integrations.clients.transport import (
    Call,
    answer_summary,
    call_log,
    client,
    elapsed_ms,
    retry_after_seconds,
)
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem
from integrations.services.breakers import (
    SystemUnavailable,
    breaker_admit,
    breaker_failure,
    breaker_success,
)
from integrations.services.credentials import auth_headers, auth_of, authentication_failure
from integrations.services.ratelimits import rate_slow_down, rate_token_take


def request(
    method: str,
    url: str,
    *,
    system: ConnectedSystem,
    json: Any = None,
    params: dict[str, str] | None = None,
    idempotency_key: str | None = None,
    idempotency_header: str = "Idempotency-Key",
    vendor_message: Callable[[httpx.Response], str],
) -> httpx.Response:
    """Calls ``system`` with its credentials; returns a successful answer or raises a
    classified ``IntegrationError``."""
    breaker_admit(system)
    _rate_slot_wait(system, method, url)
    auth = auth_of(system)
    headers = {"Accept": "application/json", **auth_headers(system, auth)}
    if idempotency_key:
        headers[idempotency_header] = idempotency_key
    response = _send(system, method, url, json=json, params=params, headers=headers)
    if (
        response.status_code == 401
        and auth is not None
        and auth.kind == AuthKind.OAUTH2_CLIENT_CREDENTIALS
    ):
        # The system no longer takes the shared token (expired early, revoked): one new token,
        # one more try; a second refusal is the credentials' own.
        headers.update(auth_headers(system, auth, fresh_token=True))
        response = _send(system, method, url, json=json, params=params, headers=headers)
    status = response.status_code
    if status >= 500:
        _outage(system, f"{method} {url} answered {status}")
    else:
        breaker_success(system)  # it answered: it is up, whatever it thought of the call
    if response.is_success:
        return response
    summary = answer_summary(response)
    common = {"outbound_status": status, "outbound_summary": summary, "system": system}
    if status == 429:
        rate_slow_down(system)
    if status == 429 or status >= 500:
        raise IntegrationError.transient_failure(
            f"{method} {url} answered {status}: {vendor_message(response)}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            **common,
        )
    if status in (401, 403):
        failure = authentication_failure(
            system,
            f"{system.name} refused the tower's credentials: {method} {url} answered {status} "
            f"({vendor_message(response)}).",
        )
        failure.outbound_status, failure.outbound_summary = status, summary
        raise failure
    raise IntegrationError.business(
        f"{method} {url} was refused ({status}): {vendor_message(response)}",
        code=ExceptionType.DOWNSTREAM_REJECTED,
        error_class=ErrorClass.DOWNSTREAM_REJECTION,
        details={"status": status, "vendor_message": vendor_message(response), "url": url},
        **common,
    )


def _send(
    system: ConnectedSystem,
    method: str,
    url: str,
    *,
    json: Any,
    params: dict[str, str] | None,
    headers: dict[str, str],
) -> httpx.Response:
    """One call, logged for the attempt; no answer at all counts toward the breaker."""
    started = time.perf_counter()
    try:
        response = client().request(method, url, json=json, params=params, headers=headers)
    except httpx.TimeoutException as exc:
        call_log(Call(method, url, None, elapsed_ms(started), "timed out"))
        _outage(system, f"{method} {url} timed out")
        raise IntegrationError.transient_failure(
            f"{method} {url} timed out: {exc}", system=system
        ) from exc
    except httpx.TransportError as exc:
        call_log(Call(method, url, None, elapsed_ms(started), type(exc).__name__))
        _outage(system, f"{method} {url} failed: {type(exc).__name__}")
        raise IntegrationError.transient_failure(
            f"{method} {url} failed: {exc}", system=system
        ) from exc
    summary = "" if response.is_success else answer_summary(response)
    call_log(Call(method, url, response.status_code, elapsed_ms(started), summary))
    return response


def _outage(system: ConnectedSystem, error: str) -> None:
    """Counts a failure that looks like an outage; once it has opened the system's breaker
    (or a probe failed), the work waits for the system instead of spending its retries."""
    breaker = breaker_failure(system, error=error)
    if breaker.is_open:
        raise SystemUnavailable(system, breaker)


def _rate_slot_wait(system: ConnectedSystem, method: str, url: str) -> None:
    """Waits for a token of the system's rate limit: a short wait in place, a long one as a
    retry at the time the token is there (the worker does other work meanwhile)."""
    while (wait := rate_token_take(system)) > 0:
        if wait > settings.CT_RATE_LIMIT_MAX_WAIT_SECONDS:
            raise IntegrationError.transient_failure(
                f"{method} {url} waits for {system.name}'s rate limit "
                f"({system.rate_limit_per_minute} calls a minute): the next call is free in "
                f"{wait:.1f} s.",
                retry_after=wait,
                system=system,
            )
        time.sleep(wait)
