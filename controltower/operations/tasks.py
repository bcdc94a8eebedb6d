"""Thin Celery tasks of the operations layer: take ids, call one service.

Their names are kept from before this module moved (``controltower.tasks.*``): messages
in a broker and beat's stored schedule name them so.
"""

from __future__ import annotations

from celery import shared_task

from controltower.operations.services.bulk import bulk_operation_run, bulk_operations_resume
from controltower.operations.services.notifications import notifications_deliver
from controltower.operations.services.sla import sla_sweep


@shared_task(name="controltower.tasks.bulk_operation_run_task")
def bulk_operation_run_task(operation_id: int) -> dict[str, int]:
    return bulk_operation_run(operation_id=operation_id)


@shared_task(name="controltower.tasks.sla_sweep_task")
def sla_sweep_task() -> dict[str, int]:
    return {**sla_sweep(), "bulk_operations_resumed": bulk_operations_resume()}


@shared_task(name="controltower.tasks.notifications_deliver_task")
def notifications_deliver_task() -> dict[str, int]:
    return notifications_deliver()
