"""The import case of the benchmark: approved time entries imported from a CSV file.

``manage.py bench --case import --events 100000`` writes a file of that many
``time_entry.approved`` rows for the projects ``time_to_billing_setup`` makes (a Manager
assigned to each, on the US rate card), imports it in this process as ``import_records``
does (chunks of ``CT_IMPORT_CHUNK_ROWS`` stored through the inbound path and run by the
same handlers) and reports rows/s, the outcome counts and the time each phase took.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta

from bench.base import BenchError, Report
from bench.ingest_events import BENCH_PROJECTS, new_run_id, time_to_billing_setup
from integrations.choices import ImportKind
from integrations.models import ImportJob
from integrations.services.imports import import_create, import_run

PROGRESS_EVERY = 10_000


@dataclass(frozen=True)
class ImportBenchResult:
    rows: int
    seconds: float
    job: ImportJob

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def summary_lines(self) -> list[str]:
        job = self.job
        return [
            f"Imported {self.rows:,} time entries in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s) on {job.system.slug}.",
            f"created {job.created:,}, changed {job.changed:,}, unchanged {job.unchanged:,}, "
            f"refused {job.refused:,}, held as business exceptions {job.blocked:,}.",
        ]

    def as_json(self) -> str:
        return json.dumps(
            {
                "case": "import",
                "rows": self.rows,
                "seconds": round(self.seconds, 2),
                "rows_per_second": round(self.rows_per_second, 1),
                "created": self.job.created,
                "refused": self.job.refused,
                "blocked": self.job.blocked,
            }
        )


def time_entries_csv(run_id: str, rows: int) -> bytes:
    """``rows`` approved entries of 4 hours, spread over the run's projects and 2026's days."""
    lines = ["number,project,resource,work_date,hours,billable"]
    start = date(2026, 1, 5)
    for n in range(rows):
        project = f"{run_id}-P{n % BENCH_PROJECTS}".upper()
        day = start + timedelta(days=(n // BENCH_PROJECTS) % 300)
        lines.append(f"{run_id.upper()}-T{n},{project},E-0002,{day.isoformat()},4,true")
    return "\n".join(lines).encode()


def run_import_bench(*, rows: int, report: Report) -> ImportBenchResult:
    run_id = new_run_id()
    time_to_billing_setup(run_id)
    content = time_entries_csv(run_id, rows)
    job = import_create(
        kind=ImportKind.TIME, content=content, file_name=f"{run_id}.csv", system_slug="psa"
    )
    report(f"Importing {rows:,} time entries as import #{job.pk} ...")
    clock = time.perf_counter()
    shown = [0]

    def progress(job: ImportJob) -> None:
        if job.cursor - shown[0] >= PROGRESS_EVERY or job.cursor == rows:
            shown[0] = job.cursor
            report(f"  {job.cursor:,} rows in {time.perf_counter() - clock:.1f} s")

    job = import_run(job_id=job.pk, on_chunk=progress)
    seconds = time.perf_counter() - clock
    if job.rows_done != rows:
        raise BenchError(f"The import stopped after {job.rows_done:,} of {rows:,} rows.")
    return ImportBenchResult(rows=rows, seconds=seconds, job=job)
