"""The scale-out case of ``make bench``: the master-data case with one worker, then with two.

The design's answer to growth is more Celery workers on more machines over one PostgreSQL
and one Redis. This case runs the ingest case (``bench.ingest``) twice on the same database
and broker: once with one worker process, once with two, each started under its own node
name (``--hostname``) as two machines would be, each at the same concurrency. It prints
processed events/s for one and for two, their ratio and the core count, how many tasks each
worker ran (from its log), and checks that nothing was applied twice downstream: one
canonical customer per business key, one sync state per customer and system, and no
transaction with two succeeded attempts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count

from bench.base import BenchError, Report
from bench.ingest import BenchOptions, BenchResult, _measure
from bench.memory import worker_memory_notes
from bench.tower import ChildProcess, local_tower, prepare_database
from canonical.models import Customer
from integrations.choices import AttemptOutcome
from integrations.models import Attempt, SyncState, Transaction

# Two workers reach >= 1.6x one only when neither waits for a core: the target applies
# with two cores per worker process at the concurrency given, plus the server and the database.
TARGET_RATIO = 1.6
PROCESS_TASK_DONE = "process_transactions_task["


@dataclass
class Duplicates:
    """What reached the records of a run more than once (all zero when nothing did)."""

    events: int
    customers: int = 0
    customers_twice: int = 0
    sync_states_twice: int = 0
    transactions_applied_twice: int = 0

    @property
    def missing(self) -> int:
        return self.events - self.customers

    @property
    def any(self) -> bool:
        return bool(
            self.customers_twice
            or self.sync_states_twice
            or self.transactions_applied_twice
            or self.missing
        )


@dataclass
class WorkersRun:
    workers: int
    result: BenchResult
    duplicates: Duplicates
    tasks_per_worker: dict[str, int] = field(default_factory=dict)


@dataclass
class ScaleOutResult:
    options: BenchOptions
    runs: list[WorkersRun]
    cores: int

    @property
    def ratio(self) -> float:
        one, two = (run.result.processed_per_s for run in self.runs)
        return two / max(one, 1e-9)

    @property
    def cores_needed(self) -> int:
        return 2 * self.options.concurrency + 2

    def summary_lines(self) -> list[str]:
        o = self.options
        lines = [
            "Integration Control Tower benchmark: out across workers",
            f"  case             master_data, {o.events:,} events per run in batches of {o.batch:,}",
            f"  workers          1, then 2 with distinct node names, concurrency {o.concurrency} each",
            f"  database         {self.runs[0].result.database}",
            f"  broker           {self.runs[0].result.broker}",
            f"  cores            {self.cores} (os.cpu_count())",
        ]
        for run in self.runs:
            r = run.result
            d = run.duplicates
            tasks = ", ".join(f"{name} {n:,}" for name, n in run.tasks_per_worker.items())
            lines += [
                f"  {run.workers} worker{'s' if run.workers > 1 else ' '}        "
                f"processed {o.events:,} in {r.processed_seconds:.2f} s = "
                f"{r.processed_per_s:,.0f} events/s (accepted {r.accepted_per_s:,.0f}/s)",
                f"                   chunks run: {tasks or 'not counted'}",
                f"                   downstream: {d.customers:,} customers for {d.events:,} events,"
                f" {d.customers_twice} keys twice, {d.sync_states_twice} sync states twice,"
                f" {d.transactions_applied_twice} transactions applied twice",
                *(f"                   {note}" for note in r.notes),
            ]
        lines.append(f"  two / one        {self.ratio:.2f}x (target >= {TARGET_RATIO}x)")
        if self.cores < self.cores_needed:
            lines.append(
                f"  note             the target applies with at least {self.cores_needed} cores "
                f"(two workers at concurrency {o.concurrency}, the server and the database); "
                f"this machine has {self.cores}, so the two workers share them"
            )
        return lines

    def as_json(self) -> str:
        return json.dumps(
            {
                "case": "scale_out",
                "events": self.options.events,
                "concurrency": self.options.concurrency,
                "cores": self.cores,
                "database": self.runs[0].result.database,
                "broker": self.runs[0].result.broker,
                "processed_per_s_one": round(self.runs[0].result.processed_per_s, 1),
                "processed_per_s_two": round(self.runs[1].result.processed_per_s, 1),
                "ratio": round(self.ratio, 2),
                "duplicates": sum(run.duplicates.any for run in self.runs),
            }
        )

    def misses(self) -> list[str]:
        problems = [
            f"{run.workers} worker(s): {_describe(run.duplicates)}"
            for run in self.runs
            if run.duplicates.any
        ]
        if self.cores >= self.cores_needed and self.ratio < TARGET_RATIO:
            problems.append(f"two workers reached {self.ratio:.2f}x one, under {TARGET_RATIO}x")
        return problems


def _describe(d: Duplicates) -> str:
    return (
        f"{d.missing} customers missing, {d.customers_twice} keys twice, "
        f"{d.sync_states_twice} sync states twice, {d.transactions_applied_twice} applied twice"
    )


def run_duplicates(run_id: str, events: int) -> Duplicates:
    """Counts what the run's events made downstream, per business key."""
    customers = Customer.objects.filter(number__startswith=f"{run_id}-".upper())
    per_key = customers.order_by().values("number").annotate(n=Count("pk"))
    sync_states = SyncState.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer),
        object_id__in=customers.values("pk"),
    )
    applied = Attempt.objects.filter(
        transaction__in=Transaction.objects.filter(idempotency_key__startswith=f"{run_id}-"),
        outcome=AttemptOutcome.SUCCEEDED,
    )
    return Duplicates(
        events=events,
        customers=customers.count(),
        customers_twice=per_key.filter(n__gt=1).count(),
        sync_states_twice=sync_states.order_by()
        .values("object_id", "system")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count(),
        transactions_applied_twice=applied.order_by()
        .values("transaction")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .count(),
    )


def tasks_per_worker(children: list[ChildProcess]) -> dict[str, int]:
    """How many chunks each worker ran, from the task lines of its log (INFO)."""
    counts = {}
    for child in children:
        if child.name.startswith("worker") and child.log.exists():
            text = child.log.read_text(errors="replace")
            counts[child.name] = sum(
                1
                for line in text.splitlines()
                if PROCESS_TASK_DONE in line and " succeeded in " in line
            )
    return counts


def run_scale_out(options: BenchOptions, report: Report) -> ScaleOutResult:
    if options.url:
        raise BenchError("--scale-out starts its own workers; it cannot use --url.")
    options = replace(options, case="master_data")
    prepare_database(report)
    runs = []
    for workers in (1, 2):
        report(f"-- {workers} worker{'s' if workers > 1 else ''} --")
        with local_tower(concurrency=options.concurrency, report=report, workers=workers) as (
            base_url,
            children,
        ):
            result = _measure(options, base_url, children, report)
            result.notes.extend(worker_memory_notes(children, events=options.events))
            counted = tasks_per_worker(children)
        runs.append(
            WorkersRun(
                workers=workers,
                result=result,
                duplicates=run_duplicates(result.run_id, options.events),
                tasks_per_worker=counted,
            )
        )
    return ScaleOutResult(options=options, runs=runs, cores=os.cpu_count() or 1)
