"""What every call to a simulated vendor API passes through, and the request log it leaves.

A call is logged when it arrives (``call_open``), then admitted or refused in this order:
the fault knobs' latency, outage and throttle (``faults.front_door_fault``), then the
injected error rate (``faults.error_fault``). Its answer's status completes the log row
(``call_close``). The control endpoints pass through none of this.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from simulator.errors import SimulatorError
from simulator.faults import Fault, error_fault, front_door_fault
from simulator.models import SimulatedRequest, SimulatedSystem

# The request log keeps the newest rows and a week at most: enough for any test or demo
# run to read back, bounded for a server left running.
REQUEST_LOG_MAX_ROWS = 100_000
REQUEST_LOG_MAX_AGE = timedelta(days=7)
# Pruning on every request would double the writes; once per this many rows is enough.
REQUEST_LOG_PRUNE_EVERY = 1_000

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


def call_admit(*, system: SimulatedSystem, call: SimulatedRequest) -> None:
    """Lets the call through to the API, or raises the refusal the system answers with."""
    fault = front_door_fault(system)
    if fault is not None:
        raise _refusal(fault)
    fault = error_fault(system)
    if fault is not None:
        raise _refusal(fault)


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
