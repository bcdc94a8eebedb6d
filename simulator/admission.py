"""What every call to a simulated vendor API passes through, and the request log it leaves.

A call is logged when it arrives (``call_open``), then admitted or refused in this order:
the fault knobs' latency, outage and throttle (``faults.front_door_fault``), the
credentials the ``auth`` knob demands (``credentials.authenticate``), the rate limit
(``rate_limit_admit``), then the injected error rate (``faults.error_fault``). Its
answer's status completes the log row (``call_close``). The control endpoints pass
through none of this.

The rate limit is a sliding window over the request log, in the database, so that it
holds across the server's threads and processes: a call is admitted when fewer than
``rate_limit_per_minute`` calls were admitted in the 60 seconds before it (and fewer than
``rate_limit_burst`` in the second before it). Refused calls are not admitted, so a
client that retries too early does not push its own turn further away.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from simulator.credentials import Presented, authenticate
from simulator.errors import SimulatorError
from simulator.faults import Fault, error_fault, front_door_fault
from simulator.models import SimulatedRequest, SimulatedSystem

# The request log keeps the newest rows and a week at most: enough for any test or demo
# run to read back, bounded for a server left running.
REQUEST_LOG_MAX_ROWS = 100_000
REQUEST_LOG_MAX_AGE = timedelta(days=7)
# Pruning on every request would double the writes; once per this many rows is enough.
REQUEST_LOG_PRUNE_EVERY = 1_000

RATE_WINDOW = timedelta(seconds=60)
BURST_WINDOW = timedelta(seconds=1)

FAULT_REST_CODES = {503: "service_unavailable", 429: "rate_limited", 500: "internal_error"}


def call_open(
    *, system: SimulatedSystem, method: str, path: str, query: str, idempotency_key: str
) -> SimulatedRequest:
    """Logs a call as it arrives, before anything may refuse it."""
    call = SimulatedRequest.objects.create(
        system=system,
        method=method[:10],
        path=path[:500],
        query=query,
        idempotency_key=idempotency_key[:200],
        received_at=timezone.now(),
    )
    if call.pk % REQUEST_LOG_PRUNE_EVERY == 0:
        request_log_prune()
    return call


def call_close(*, call: SimulatedRequest, status: int) -> None:
    """Completes the call's log row with the status it was answered."""
    SimulatedRequest.objects.filter(pk=call.pk).update(status=status)


def _refusal(fault: Fault) -> SimulatorError:
    return SimulatorError(
        fault.status,
        fault.code,
        fault.message,
        rest_code=FAULT_REST_CODES.get(fault.status),
        retry_after_seconds=fault.retry_after_seconds,
    )


def call_admit(
    *,
    system: SimulatedSystem,
    call: SimulatedRequest,
    presented: Presented | None,
    demand: str | None = None,
) -> None:
    """Lets the call through to the API, or raises the refusal the system answers with.

    ``presented`` is None for a door that takes no credentials (the token endpoint);
    ``demand``: the credentials a door wants whatever the ``auth`` knob says.
    """
    fault = front_door_fault(system)
    if fault is not None:
        raise _refusal(fault)
    if presented is not None:
        authenticate(system=system, presented=presented, demand=demand)
    rate_limit_admit(system=system, call=call)
    fault = error_fault(system)
    if fault is not None:
        raise _refusal(fault)


def _window_wait(*, system: SimulatedSystem, now: datetime, window: timedelta, limit: int) -> float:
    """Seconds until ``window`` has room for one more call; 0 when it has room now."""
    if not limit:
        return 0.0
    newest_first = (
        SimulatedRequest.objects.filter(system=system, admitted_at__gt=now - window)
        .order_by("-admitted_at")
        .values_list("admitted_at", flat=True)
    )
    # When the limit-th newest admitted call leaves the window, there is room again.
    last_in = next(iter(newest_first[limit - 1 : limit]), None)
    if last_in is None:
        return 0.0
    return (last_in + window - now).total_seconds()


def rate_limit_admit(*, system: SimulatedSystem, call: SimulatedRequest) -> None:
    """Admits the call under the system's rate limit, or raises 429 when the window is full."""
    if not (system.rate_limit_per_minute or system.rate_limit_burst):
        SimulatedRequest.objects.filter(pk=call.pk).update(admitted_at=timezone.now())
        return
    with transaction.atomic():
        # One admission at a time per system, in every thread and process: two calls must
        # not both count the window before either is in it.
        SimulatedSystem.objects.select_for_update().filter(pk=system.pk).first()
        now = timezone.now()
        wait = max(
            _window_wait(
                system=system, now=now, window=RATE_WINDOW, limit=system.rate_limit_per_minute
            ),
            _window_wait(
                system=system, now=now, window=BURST_WINDOW, limit=system.rate_limit_burst
            ),
        )
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise SimulatorError(
                429,
                "CONCURRENCY_LIMIT_EXCEEDED",
                f"Request limit exceeded ({_limits(system)}); retry in {seconds} s.",
                rest_code="rate_limited",
                retry_after_seconds=seconds,
            )
        SimulatedRequest.objects.filter(pk=call.pk).update(admitted_at=now)


def _limits(system: SimulatedSystem) -> str:
    limits = []
    if system.rate_limit_per_minute:
        limits.append(f"{system.rate_limit_per_minute} per minute")
    if system.rate_limit_burst:
        limits.append(f"{system.rate_limit_burst} per second")
    return ", ".join(limits)


def request_log_prune(
    *, max_rows: int = REQUEST_LOG_MAX_ROWS, max_age: timedelta = REQUEST_LOG_MAX_AGE
) -> int:
    """Deletes what the log no longer keeps: rows older than ``max_age``, and all but the
    newest ``max_rows`` (of every system together). Answers how many rows went."""
    stale = Q(received_at__lt=timezone.now() - max_age)
    newest_first = SimulatedRequest.objects.order_by("-id").values_list("id", flat=True)
    cutoff = next(iter(newest_first[max_rows : max_rows + 1]), None)
    if cutoff is not None:
        stale |= Q(id__lte=cutoff)
    deleted, _ = SimulatedRequest.objects.filter(stale).delete()
    return deleted
