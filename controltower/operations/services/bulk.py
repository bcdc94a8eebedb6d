"""Bulk actions on exceptions: one request takes hundreds, a worker does them with progress.

The selection (ids, or the queue's current filter) is fixed when the request is
made, so the operation acts on what the person saw. Each item goes through the
same service as a single action, in its own database transaction: one refusal
(an exception closed meanwhile) is recorded and the rest go on.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from canonical.errors import ApplicationError, NotFoundError
from controltower.operations.choices import EXCEPTION_BULK_ACTIONS, BulkAction, BulkStatus
from controltower.operations.filtersets import BusinessExceptionFilterSet
from controltower.operations.models import BulkOperation, BusinessException
from controltower.operations.services.actions import transaction_retry
from controltower.operations.services.audit import audit_record
from controltower.operations.services.exceptions import (
    exception_assign,
    exception_dismiss,
    exception_resolve,
)
from integrations.choices import OPEN_STATUSES, RETRYABLE_STATES, TransactionState
from integrations.models import Transaction

MAX_ITEMS = 5000
CHUNK = 50
# The task that runs an operation (``controltower.operations.tasks``), sent by name: the tasks
# module is the outer door and imports this one.
RUN_TASK = "controltower.tasks.bulk_operation_run_task"


def _selected_ids(*, ids: list[int] | None, filters: dict[str, Any] | None) -> list[int]:
    if ids:
        if not all(isinstance(pk, int) for pk in ids):
            raise ApplicationError("ids must be whole numbers.", errors={"ids": ["Not integers."]})
        return list(
            BusinessException.objects.filter(pk__in=ids).order_by("pk").values_list("pk", flat=True)
        )
    if filters is None:
        raise ApplicationError(
            "Choose exceptions by ids or by a filter.", errors={"ids": ["Required."]}
        )
    filterset = BusinessExceptionFilterSet(data=filters, queryset=BusinessException.objects.all())
    if not filterset.is_valid():
        raise ApplicationError(
            "The filter is invalid.",
            errors={f"filter.{k}": [str(m) for m in v] for k, v in filterset.errors.items()},
        )
    return list(
        filterset.qs.filter(status__in=OPEN_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)[: MAX_ITEMS + 1]
    )


def _check_params(action: str, params: dict[str, Any]) -> None:
    required = {
        BulkAction.RESOLVE: "resolution",
        BulkAction.DISMISS: "reason",
    }.get(action)
    if required and not str(params.get(required) or "").strip():
        raise ApplicationError(
            f"A {required} is required to {action}.", errors={f"params.{required}": ["Required."]}
        )
    if action == BulkAction.ASSIGN and not (params.get("assignee_id") or params.get("team_id")):
        raise ApplicationError(
            "Name a person or a team to assign to.", errors={"params.assignee_id": ["Required."]}
        )


def bulk_operation_start(
    *,
    actor: Any,
    action: str,
    ids: list[int] | None = None,
    filters: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> BulkOperation:
    """Records the operation with what it selects and queues it for a worker."""
    if action not in EXCEPTION_BULK_ACTIONS:
        raise ApplicationError(
            f"Unknown bulk action {action!r}; one of {', '.join(EXCEPTION_BULK_ACTIONS)}.",
            errors={"action": ["Unknown."]},
        )
    params = params or {}
    _check_params(action, params)
    selected = _selected_ids(ids=ids, filters=filters)
    if not selected:
        raise ApplicationError(
            "The selection matches no exceptions.", errors={"ids": ["Nothing selected."]}
        )
    if len(selected) > MAX_ITEMS:
        raise ApplicationError(
            f"The selection matches more than {MAX_ITEMS} exceptions; narrow the filter.",
            errors={"filter": ["Too many."]},
        )
    with transaction.atomic():
        operation = BulkOperation.objects.create(
            action=action,
            requested_by=actor,
            selection={"ids": ids} if ids else {"filter": filters},
            exception_ids=selected,
            params=params,
            total=len(selected),
        )
        audit_record(
            actor=actor,
            action=f"bulk.{action}",
            obj=operation,
            after={"count": len(selected), "selection": operation.selection, "params": params},
            reason=str(params.get("reason") or params.get("resolution") or ""),
        )
        transaction.on_commit(lambda: _send(operation.pk))
    return operation


def _send(operation_id: int) -> None:
    current_app.signature(RUN_TASK, args=[operation_id]).delay()


def _apply(operation: BulkOperation, exception_id: int) -> None:
    actor = operation.requested_by
    params = operation.params
    if operation.action == BulkAction.ASSIGN:
        exception_assign(
            exception_id=exception_id,
            actor=actor,
            assignee_id=params.get("assignee_id"),
            team_id=params.get("team_id"),
            reason=params.get("reason", ""),
        )
    elif operation.action == BulkAction.RESOLVE:
        exception_resolve(exception_id=exception_id, actor=actor, resolution=params["resolution"])
    elif operation.action == BulkAction.DISMISS:
        exception_dismiss(exception_id=exception_id, actor=actor, reason=params["reason"])
    elif operation.action == BulkAction.RETRY:
        held = Transaction.objects.filter(exception_id=exception_id, state__in=RETRYABLE_STATES)
        for tx_id in held.values_list("pk", flat=True):
            transaction_retry(
                transaction_id=tx_id, actor=actor, reason=params.get("reason", "bulk retry")
            )


def bulk_operation_run(*, operation_id: int) -> dict[str, int]:
    """Does a queued operation item by item, saving progress after each chunk.

    It starts after the items already counted, so an operation taken back from a
    worker that died (``bulk_operations_resume``) goes on where its progress stopped;
    the items of the chunk in hand when it died are done again, and each action is
    safe to repeat (one already resolved is reported as refused).
    """
    claimed = BulkOperation.objects.filter(pk=operation_id, status=BulkStatus.QUEUED).update(
        status=BulkStatus.RUNNING, heartbeat_at=timezone.now()
    )
    if (
        claimed
        and BulkOperation.objects.filter(
            pk=operation_id, action=BulkAction.RETRY_TRANSACTIONS
        ).exists()
    ):
        # Its transactions were requeued when it was made: taken back, it only counts again.
        _retry_progress_record(operation_id)
        return {"done": 0, "failed": 0}
    if not claimed:  # another worker has it, or it is done
        if not BulkOperation.objects.filter(pk=operation_id).exists():
            raise NotFoundError(f"Bulk operation {operation_id} does not exist.")
        return {"done": 0, "failed": 0}
    operation = BulkOperation.objects.select_related("requested_by").get(pk=operation_id)
    done = failed = 0
    ids = operation.exception_ids
    for start in range(operation.done + operation.failed, len(ids), CHUNK):
        errors = []
        chunk_done = chunk_failed = 0
        for exception_id in ids[start : start + CHUNK]:
            try:
                _apply(operation, exception_id)
                chunk_done += 1
            except ApplicationError as error:
                chunk_failed += 1
                errors.append({"exception": exception_id, "message": error.message})
        done += chunk_done
        failed += chunk_failed
        BulkOperation.objects.filter(pk=operation_id).update(
            done=F("done") + chunk_done,
            failed=F("failed") + chunk_failed,
            heartbeat_at=timezone.now(),
        )
        if errors:
            operation.refresh_from_db(fields=["errors"])
            BulkOperation.objects.filter(pk=operation_id).update(errors=operation.errors + errors)
    BulkOperation.objects.filter(pk=operation_id).update(
        status=BulkStatus.DONE, finished_at=timezone.now()
    )
    return {"done": done, "failed": failed}


# A retried transaction a worker has not taken yet; dead or blocked again counts as failed.
NOT_TAKEN = (TransactionState.RECEIVED, TransactionState.PROCESSING)
FAILED_AGAIN = (TransactionState.DEAD, TransactionState.BLOCKED)


def bulk_retry_progress(*, transaction_ids: list[int]) -> int:
    """Brings up to date the running bulk retries that hold any of these transactions (a
    chunk the workers just ran); returns how many were. One small query when none runs."""
    running = list(
        BulkOperation.objects.filter(
            action=BulkAction.RETRY_TRANSACTIONS, status=BulkStatus.RUNNING
        ).values_list("pk", flat=True)
    )
    if not running:
        return 0
    chunk = set(transaction_ids)
    updated = 0
    for operation in BulkOperation.objects.filter(pk__in=running).only("pk", "transaction_ids"):
        if not chunk.isdisjoint(operation.transaction_ids):
            _retry_progress_record(operation.pk)
            updated += 1
    return updated


def _retry_progress_record(operation_id: int) -> None:
    """Counts the bulk retry's transactions the workers have run, under the row's lock, so
    that two workers finishing chunks at once write their counts in turn, the later last."""
    with transaction.atomic():
        operation = (
            BulkOperation.objects.select_for_update()
            .only("pk", "transaction_ids", "total", "status")
            .get(pk=operation_id)
        )
        if operation.status != BulkStatus.RUNNING:
            return
        counts = dict(
            Transaction.objects.filter(pk__in=operation.transaction_ids)
            .exclude(state__in=NOT_TAKEN)
            .order_by()
            .values_list("state")
            .annotate(n=Count("pk"))
        )
        failed = sum(counts.get(state, 0) for state in FAILED_AGAIN)
        done = sum(counts.values()) - failed
        now = timezone.now()
        finished = done + failed >= operation.total
        BulkOperation.objects.filter(pk=operation_id).update(
            done=done,
            failed=failed,
            heartbeat_at=now,
            status=BulkStatus.DONE if finished else BulkStatus.RUNNING,
            finished_at=now if finished else None,
        )


def bulk_operations_resume(
    *, stale_after: timedelta = timedelta(minutes=5), lost_after: timedelta = timedelta(minutes=1)
) -> int:
    """Sends again what no worker is doing: operations whose worker has not saved progress
    for ``stale_after`` (it died) and queued ones older than ``lost_after`` (their message
    was lost). Returns how many were sent; a duplicate message finds nothing to claim."""
    now = timezone.now()
    BulkOperation.objects.filter(
        status=BulkStatus.RUNNING, heartbeat_at__lt=now - stale_after
    ).update(status=BulkStatus.QUEUED)
    waiting = list(
        BulkOperation.objects.filter(
            status=BulkStatus.QUEUED, created_at__lt=now - lost_after
        ).values_list("pk", flat=True)
    )
    for operation_id in waiting:
        _send(operation_id)
    return len(waiting)
