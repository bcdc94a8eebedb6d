"""Thin Celery tasks: take ids, call one service."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from integrations.services.billing import invoices_poll
from integrations.services.exceptions import exceptions_recheck
from integrations.services.processing import transactions_process, transactions_sweep
from integrations.services.reconciliation import reconciliation_queue
from integrations.services.rollups import rollups_prune


@shared_task(name="integrations.tasks.process_transactions_task")
def process_transactions_task(transaction_ids: list[int]) -> dict[str, int]:
    return asdict(transactions_process(ids=transaction_ids))


@shared_task(name="integrations.tasks.sweep_transactions_task")
def sweep_transactions_task() -> dict[str, int]:
    return {
        **asdict(transactions_sweep()),
        "exceptions_resolved": exceptions_recheck(),
        "rollup_minutes_pruned": rollups_prune(),
    }


@shared_task(name="integrations.tasks.poll_invoices_task")
def poll_invoices_task() -> int:
    return invoices_poll()


@shared_task(name="integrations.tasks.reconcile_task")
def reconcile_task() -> int:
    return reconciliation_queue().pk
