"""The bulk-retry case of ``make bench``: how long retrying 10,000 dead transactions takes.

It seeds ``--retries`` dead ``customer.upserted`` transactions (COPY on PostgreSQL, one
correlation id for the run), starts a server and a worker (``bench.tower``), and times the
API's bulk retry over them (``POST /api/v1/transactions/bulk-retry/?correlation_id=...``,
as the demo's operator, in this process, after one read of the list to load the
modules as a running server has them): the request returns once every transaction is
ready again and every chunk is in the broker. Then it follows the bulk operation's progress
row as the worker runs the chunks, and checks that every transaction ran exactly once
more and succeeded.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from bench.base import BenchError, Report
from bench.ingest import broker_name, refresh_statistics
from bench.ingest_events import customer_event, new_run_id
from bench.memory import worker_memory_notes
from bench.rows import Table, insert_rows, reserve_ids
from bench.tower import local_tower, prepare_database
from controltower.operations.choices import BulkStatus
from controltower.operations.models import BulkOperation
from integrations.choices import ErrorClass, FlowKind, TransactionState
from integrations.models import ConnectedSystem, Flow, Transaction

TARGET_SECONDS = 3.0
ATTEMPTS_BEFORE = 5
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class BulkRetryOptions:
    retries: int = 10_000
    concurrency: int = 2
    timeout: float = 600.0


@dataclass
class BulkRetryResult:
    options: BulkRetryOptions
    run_id: str
    database: str
    broker: str
    seed_seconds: float
    request_seconds: float
    retried: int
    finished_seconds: float
    progress: list[tuple[float, int, int]] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    ran_twice: int = 0
    notes: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        o = self.options
        samples = ", ".join(f"{t:.1f} s {done:,}" for t, done, _ in self.progress[:12])
        return [
            "Integration Control Tower benchmark: bulk retry",
            f"  run              {self.run_id}",
            f"  seeded           {o.retries:,} dead transactions in {self.seed_seconds:.1f} s",
            f"  database         {self.database}",
            f"  broker           {self.broker}",
            f"  bulk retry       {self.retried:,} requeued and sent in {self.request_seconds:.2f} s"
            f" (target <= {TARGET_SECONDS:.0f} s)",
            f"  progress row     {samples}{' ...' if len(self.progress) > 12 else ''}",
            f"  worker           all run in {self.finished_seconds:.1f} s at concurrency "
            f"{o.concurrency}: {', '.join(f'{s} {n:,}' for s, n in sorted(self.states.items()))};"
            f" {self.ran_twice} ran more than once",
            *(f"  note             {note}" for note in self.notes),
        ]

    def as_json(self) -> str:
        return json.dumps(
            {
                "case": "bulk_retry",
                "retries": self.options.retries,
                "database": self.database,
                "broker": self.broker,
                "request_seconds": round(self.request_seconds, 3),
                "retried": self.retried,
                "finished_seconds": round(self.finished_seconds, 1),
                "ran_twice": self.ran_twice,
            }
        )

    def misses(self) -> list[str]:
        problems = []
        if self.request_seconds > TARGET_SECONDS:
            problems.append(f"the bulk retry took {self.request_seconds:.2f} s")
        if self.retried != self.options.retries:
            problems.append(f"{self.retried:,} of {self.options.retries:,} retried")
        if self.states.get(TransactionState.SUCCEEDED, 0) != self.options.retries:
            problems.append(f"not all succeeded: {self.states}")
        if self.ran_twice:
            problems.append(f"{self.ran_twice} transactions ran more than once")
        return problems


def seed_dead(run_id: str, count: int) -> None:
    """Dead customer events from the CRM that would succeed if run again (COPY on PostgreSQL)."""
    crm = ConnectedSystem.objects.get(slug="crm")
    flow = Flow.objects.get(kind=FlowKind.MASTER_DATA_SYNC)
    table = Table(Transaction)
    failed_at = timezone.now() - dt.timedelta(hours=1)
    with transaction.atomic():
        first = reserve_ids(Transaction, count)
        rows = []
        for i in range(count):
            event = customer_event(run_id, i)
            body = json.dumps(event, separators=(",", ":"))
            rows.append(
                table.row(
                    id=first + i,
                    flow_id=flow.pk,
                    source_system_id=crm.pk,
                    event_type=event["type"],
                    business_key=event["data"]["number"],
                    external_id=event["data"]["number"],
                    idempotency_key=event["id"],
                    event_version=1,
                    correlation_id=run_id,
                    payload=body,
                    normalized=body,
                    state=TransactionState.DEAD,
                    attempts_count=ATTEMPTS_BEFORE,
                    error_class=ErrorClass.TRANSIENT,
                    last_error="ERP answered 503 Service Unavailable",
                    received_at=failed_at,
                    enqueued_at=failed_at,
                    finished_at=failed_at,
                    updated_at=failed_at,
                )
            )
        insert_rows(table, rows)


def run_bulk_retry_bench(options: BulkRetryOptions, report: Report) -> BulkRetryResult:
    prepare_database(report)
    run_id = new_run_id()
    report(f"Seeding {options.retries:,} dead transactions as run {run_id} ...")
    started = time.perf_counter()
    seed_dead(run_id, options.retries)
    seed_seconds = time.perf_counter() - started
    notes = refresh_statistics()
    operator = get_user_model().objects.filter(username="operator").first()
    if operator is None:
        raise BenchError("No user 'operator'; run `manage.py load_demo` first.")
    client = Client()
    client.force_login(operator)
    url = f"/api/v1/transactions/bulk-retry/?correlation_id={run_id}&state=dead"
    # A running server has its modules loaded: one read of the same list first.
    client.get(f"/api/v1/transactions/?correlation_id={run_id}&state=dead&page_size=1")
    with local_tower(concurrency=options.concurrency, report=report) as (_base_url, children):
        report(f"POST {url} ...")
        started = time.perf_counter()
        response = client.post(url, {"reason": "bench"}, content_type="application/json")
        request_seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise BenchError(f"The bulk retry answered {response.status_code}: {response.text}")
        answer = response.json()
        report(f"  {answer['retried']:,} requeued in {request_seconds:.2f} s; following the row")
        progress = _follow(answer["operation"], started, options.timeout, report)
        finished = progress[-1][0]
        notes += worker_memory_notes(children, events=options.retries)
    states, ran_twice = _outcome(run_id)
    return BulkRetryResult(
        options=options,
        run_id=run_id,
        database=connection.vendor,
        broker=broker_name(),
        seed_seconds=seed_seconds,
        request_seconds=request_seconds,
        retried=answer["retried"],
        finished_seconds=finished,
        progress=progress,
        states=states,
        ran_twice=ran_twice,
        notes=notes,
    )


def _follow(
    operation_id: int, started: float, timeout: float, report: Report
) -> list[tuple[float, int, int]]:
    """The row's (seconds since the request, done, failed) each time it moved, to the end."""
    samples: list[tuple[float, int, int]] = []
    while True:
        operation = BulkOperation.objects.only("done", "failed", "status", "total").get(
            pk=operation_id
        )
        now = time.perf_counter() - started
        if not samples or samples[-1][1:] != (operation.done, operation.failed):
            samples.append((now, operation.done, operation.failed))
        if operation.status == BulkStatus.DONE:
            return samples
        if now > timeout:
            raise BenchError(
                f"Timed out after {timeout:.0f} s: the bulk retry's row shows "
                f"{operation.done + operation.failed:,} of {operation.total:,}."
            )
        time.sleep(POLL_SECONDS)


def _outcome(run_id: str) -> tuple[dict[str, int], int]:
    rows = Transaction.objects.filter(correlation_id=run_id)
    states = dict(rows.order_by().values_list("state").annotate(n=Count("pk")))
    ran_twice = rows.filter(attempts_count__gt=ATTEMPTS_BEFORE + 1).count()
    return states, ran_twice
