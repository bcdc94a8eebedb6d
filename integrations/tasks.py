"""Thin Celery tasks: take ids, call one service."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from celery import Task, shared_task
from celery.signals import task_postrun, task_prerun

from integrations.services.accepted_codes import accepted_codes_sync
from integrations.services.billing import invoices_poll, monthly_fees_queue
from integrations.services.contract_notices import contract_notices_queue
from integrations.services.deliveries import deliveries_send
from integrations.services.finance import finance_queue
from integrations.services.imports import import_run
from integrations.services.inbound_limits import rejected_transactions_prune
from integrations.services.polling import pollers_run_due
from integrations.services.processing import transactions_process
from integrations.services.reconciliation import reconciliation_queue
from integrations.services.retention import transactions_retention
from integrations.services.runtime import worker_heartbeat_record, worker_pool_proof
from integrations.services.sweep import engine_sweep


@shared_task(name="integrations.tasks.process_transactions_task")
def process_transactions_task(transaction_ids: list[int]) -> dict[str, int]:
    return asdict(transactions_process(ids=transaction_ids))


@shared_task(name="integrations.tasks.deliver_events_task")
def deliver_events_task(subscription_id: int) -> dict[str, int]:
    """Sends a subscription's due events, in order per record."""
    return asdict(deliveries_send(subscription_id=subscription_id))


@shared_task(name="integrations.tasks.sweep_transactions_task")
def sweep_transactions_task() -> dict[str, int]:
    """The sweep beat runs in its own process, for running it by hand on a worker."""
    return engine_sweep()


@shared_task(name="integrations.tasks.heartbeat_task")
def heartbeat_task(
    node: str, started_at: str, sent_at: float, supervisor: dict[str, Any] | None = None
) -> None:
    """Sent by a worker's supervisor to that worker's own queue: run, it proves the pool works."""
    worker_heartbeat_record(
        node=node, started_at=started_at, sent_at=sent_at, supervisor=supervisor
    )


@shared_task(name="integrations.tasks.poll_invoices_task")
def poll_invoices_task() -> int:
    return invoices_poll()


@shared_task(name="integrations.tasks.monthly_fees_task")
def monthly_fees_task() -> int:
    """Queues the month's retainer and managed-service fees; returns how many."""
    return len(monthly_fees_queue())


@shared_task(name="integrations.tasks.finance_task")
def finance_task() -> int:
    """The cost run: queues the ERP postings of changed project costs and revenue
    schedules; returns how many."""
    return len(finance_queue())


@shared_task(name="integrations.tasks.run_due_pollers_task")
def run_due_pollers_task() -> int:
    """Runs the enabled pollers whose interval has passed; returns how many ran."""
    return len(pollers_run_due())


@shared_task(name="integrations.tasks.reconcile_task")
def reconcile_task() -> int:
    return reconciliation_queue().pk


@shared_task(name="integrations.tasks.sync_accepted_codes_task")
def sync_accepted_codes_task() -> int:
    """Refreshes each legal entity's accepted tax codes and payment terms from its ERP;
    returns how many parked invoices were sent to try again."""
    return accepted_codes_sync().released


@shared_task(name="integrations.tasks.contract_notices_task")
def contract_notices_task() -> int:
    """Queues today's look for contracts nearing their end date or cap."""
    return contract_notices_queue().pk


@shared_task(name="integrations.tasks.prune_rejected_transactions_task")
def prune_rejected_transactions_task() -> int:
    """Refused requests past their retention (days, count per system) are deleted."""
    return rejected_transactions_prune()


@shared_task(name="integrations.tasks.transactions_retention_task")
def transactions_retention_task() -> int | None:
    """Finished transactions past CT_RETENTION_DAYS are archived and leave the hot tables;
    returns the id of the run's record."""
    sweep = transactions_retention()
    return sweep.pk if sweep is not None else None


@task_prerun.connect
@task_postrun.connect
def pool_at_work(sender: Task | None = None, **kwargs: Any) -> None:
    """Taking or finishing any task proves the pool works, also while the heartbeat task
    waits behind long ones."""
    if sender is not None and not sender.request.is_eager:
        worker_pool_proof(node=sender.request.hostname)


@shared_task(name="integrations.tasks.import_run_task")
def import_run_task(job_id: int) -> dict[str, int]:
    """Runs (or resumes) a batch import from its cursor; its progress is in the job's row."""
    job = import_run(job_id=job_id)
    return {"rows": job.rows_done, "refused": job.refused}
