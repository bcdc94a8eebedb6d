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

import contextvars
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from integrations.choices import ErrorClass, ExceptionType
from integrations.errors import IntegrationError
from integrations.models import ConnectedSystem
from integrations.services.breakers import (
    SystemUnavailable,
    breaker_admit,
    breaker_failure,
    breaker_success,
)
from integrations.services.ratelimits import rate_slow_down, rate_token_take

_clients: dict[str, httpx.Client] = {}


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    status: int | None
    duration_ms: int
    summary: str

    def __str__(self) -> str:
        status = self.status if self.status is not None else "no answer"
        return f"{self.method} {self.url} -> {status} ({self.duration_ms} ms){' ' + self.summary if self.summary else ''}"


calls_var: contextvars.ContextVar[list[Call] | None] = contextvars.ContextVar("calls", default=None)


def client() -> httpx.Client:
    """The process's pooled client (one pool per worker process)."""
    key = "default"
    if key not in _clients:
        timeout = settings.CT_OUTBOUND_TIMEOUT_SECONDS
        _clients[key] = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            headers={"User-Agent": "integration-control-tower"},
        )
    return _clients[key]


def clients_close() -> None:
    """Closes the pooled connections; the next call opens a new pool."""
    while _clients:
        _clients.popitem()[1].close()


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _log(call: Call) -> None:
    calls = calls_var.get()
    if calls is not None:
        calls.append(call)


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
    """Calls ``system``; returns a successful answer or raises a classified ``IntegrationError``."""
    breaker_admit(system)
    _rate_slot_wait(system, method, url)
    headers = {"Accept": "application/json"}
    if idempotency_key:
        headers[idempotency_header] = idempotency_key
    started = time.perf_counter()
    try:
        response = client().request(method, url, json=json, params=params, headers=headers)
    except httpx.TimeoutException as exc:
        _log(Call(method, url, None, _ms(started), "timed out"))
        _outage(system, f"{method} {url} timed out")
        raise IntegrationError.transient_failure(
            f"{method} {url} timed out: {exc}", system=system
        ) from exc
    except httpx.TransportError as exc:
        _log(Call(method, url, None, _ms(started), type(exc).__name__))
        _outage(system, f"{method} {url} failed: {type(exc).__name__}")
        raise IntegrationError.transient_failure(
            f"{method} {url} failed: {exc}", system=system
        ) from exc
    summary = "" if response.is_success else _summary(response)
    _log(Call(method, url, response.status_code, _ms(started), summary))
    status = response.status_code
    if status >= 500:
        _outage(system, f"{method} {url} answered {status}")
    else:
        breaker_success(system)  # it answered: it is up, whatever it thought of the call
    if response.is_success:
        return response
    common = {"outbound_status": status, "outbound_summary": summary, "system": system}
    if status == 429:
        rate_slow_down(system)
    if status == 429 or status >= 500:
        raise IntegrationError.transient_failure(
            f"{method} {url} answered {status}: {vendor_message(response)}",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            **common,
        )
    error_class = (
        ErrorClass.AUTHENTICATION if status in (401, 403) else ErrorClass.DOWNSTREAM_REJECTION
    )
    raise IntegrationError.business(
        f"{method} {url} was refused ({status}): {vendor_message(response)}",
        code=ExceptionType.DOWNSTREAM_REJECTED,
        error_class=error_class,
        details={"status": status, "vendor_message": vendor_message(response), "url": url},
        **common,
    )


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


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _summary(response: httpx.Response) -> str:
    return response.text[:500]
