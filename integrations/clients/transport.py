"""The one pooled HTTP client of a process, and the log of an attempt's outbound calls.

Every call to another system goes through ``client()`` (one connection pool per worker
process) and is written to ``calls_var`` as a ``Call``, so that the attempt's row shows
what was called, what it answered and how long it took.
"""

from __future__ import annotations

import contextvars
import email.utils
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

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

# Set while a record is pushed for work that must not create or change anything in the
# other system (an import with downstream pushes off): the clients' upserts then only find
# the record the system already holds, by the same key a create would use.
match_only_var: contextvars.ContextVar[bool] = contextvars.ContextVar("match_only", default=False)


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


def call_log(call: Call) -> None:
    calls = calls_var.get()
    if calls is not None:
        calls.append(call)


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def answer_summary(response: httpx.Response) -> str:
    return response.text[:500]
