"""``manage.py bench``: the door onto the benchmark's cases.

``master_data`` and ``time_to_billing`` run the ingest case (``bench.ingest``: accepted and
processed events/s through the HTTP inbound API); ``dashboard`` runs the dashboard case
(``bench.dashboard``: the overview and list pages on a seeded history); ``import`` runs the
import case (``bench.imports``: approved time entries imported from a CSV file). Each prints
its summary, then one JSON line.
"""

from __future__ import annotations

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bench.base import BenchError
from bench.bulk_retry import BulkRetryOptions, run_bulk_retry_bench
from bench.dashboard import run_dashboard_bench
from bench.dashboard_seed import DashboardBenchError, DashboardOptions
from bench.imports import run_import_bench
from bench.ingest import BenchOptions, run_bench
from bench.tower import prepare_database
from bench.workers import run_scale_out
from integrations.choices import TransactionState


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


class Command(BaseCommand):
    help = (
        "Sends signed customer events in batches through the inbound API and measures accepted "
        "and processed events/s end to end. Without --url it starts its own server and worker on "
        "DATABASE_URL and REDIS_URL. --case dashboard instead seeds a history (COPY on PostgreSQL) "
        "and times the overview and the list pages. The last line printed is one JSON object."
    )

    def add_arguments(self, parser) -> None:
        defaults = BenchOptions()
        parser.add_argument("--events", type=positive_int, default=defaults.events)
        parser.add_argument(
            "--batch",
            type=positive_int,
            default=defaults.batch,
            help="Events per request (at most CT_INBOUND_MAX_EVENTS).",
        )
        parser.add_argument(
            "--url",
            default=None,
            help="A running tower, e.g. http://127.0.0.1:8000; it must share this DATABASE_URL.",
        )
        parser.add_argument("--system", default=defaults.system, help="The sending system's slug.")
        parser.add_argument(
            "--concurrency",
            type=positive_int,
            default=defaults.concurrency,
            help="Worker processes of the worker the bench starts (ignored with --url).",
        )
        parser.add_argument(
            "--senders", type=positive_int, default=defaults.senders, help="Sending threads."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=defaults.timeout,
            help="Seconds to wait for processing after the last response.",
        )
        parser.add_argument(
            "--case",
            choices=["master_data", "time_to_billing", "dashboard", "import", "bulk_retry"],
            default=defaults.case,
            help="master_data: customer events; time_to_billing: approved time to invoice "
            "candidates; dashboard: the overview and list pages on a seeded history; import: "
            "--events approved time entries imported from a CSV file in this process; "
            "bulk_retry: the API's bulk retry of --retries seeded dead transactions, then their run.",
        )
        parser.add_argument(
            "--anchor-rows",
            type=positive_int,
            default=defaults.anchor_rows,
            help="Rows of the raw batched insert anchor (A), in batches of 500.",
        )
        parser.add_argument(
            "--anchor-tasks",
            type=positive_int,
            default=defaults.anchor_tasks,
            help="Empty Celery tasks of the task anchor (B), on a worker like the bench's.",
        )
        dashboard = DashboardOptions()
        parser.add_argument(
            "--transactions",
            type=positive_int,
            default=dashboard.transactions,
            help="dashboard: transactions seeded in all.",
        )
        parser.add_argument(
            "--exceptions",
            type=positive_int,
            default=dashboard.exceptions,
            help="dashboard: business exceptions seeded in all.",
        )
        parser.add_argument(
            "--baseline",
            type=positive_int,
            default=dashboard.baseline,
            help="dashboard: transactions of the last 7 days, the overview's point of comparison.",
        )
        parser.add_argument(
            "--runs",
            type=positive_int,
            default=dashboard.runs,
            help="dashboard: timed runs per page.",
        )
        parser.add_argument(
            "--keep", action="store_true", help="dashboard: keep the seeded rows after the run."
        )
        parser.add_argument(
            "--retries",
            type=positive_int,
            default=BulkRetryOptions().retries,
            help="bulk_retry: dead transactions seeded and retried in one request.",
        )
        parser.add_argument(
            "--scale-out",
            action="store_true",
            help="master_data with one worker, then two with distinct node names (as on two "
            "machines), each at --concurrency: processed/s of both, the ratio, duplicates.",
        )

    def handle(self, *args, **options) -> None:
        if options["case"] == "dashboard":
            return self._dashboard(options)
        if options["case"] == "import":
            return self._import(options)
        if options["case"] == "bulk_retry":
            return self._bulk_retry(options)
        if options["batch"] > settings.CT_INBOUND_MAX_EVENTS:
            raise CommandError(f"--batch is at most {settings.CT_INBOUND_MAX_EVENTS}.")
        bench = BenchOptions(
            events=options["events"],
            batch=options["batch"],
            url=options["url"],
            system=options["system"],
            concurrency=options["concurrency"],
            senders=options["senders"],
            timeout=options["timeout"],
            case=options["case"],
            anchor_rows=options["anchor_rows"],
            anchor_tasks=options["anchor_tasks"],
        )
        if options["scale_out"]:
            return self._scale_out(bench)
        result = self._run_and_print(lambda: run_bench(bench, report=self._report))
        failed = bench.events - result.states.get(TransactionState.SUCCEEDED, 0)
        if failed:
            raise CommandError(f"{failed:,} of {bench.events:,} transactions did not succeed.")

    def _dashboard(self, options: dict) -> None:
        bench = DashboardOptions(
            transactions=options["transactions"],
            exceptions=options["exceptions"],
            baseline=options["baseline"],
            runs=options["runs"],
            keep=options["keep"],
        )

        def run():
            prepare_database(self._report)
            return run_dashboard_bench(bench, report=self._report)

        self._run_and_print(run)

    def _import(self, options: dict) -> None:
        def run():
            prepare_database(self._report)
            return run_import_bench(rows=options["events"], report=self._report)

        self._run_and_print(run)

    def _bulk_retry(self, options: dict) -> None:
        bench = BulkRetryOptions(
            retries=options["retries"],
            concurrency=options["concurrency"],
            timeout=options["timeout"],
        )
        self._run_and_print(lambda: run_bulk_retry_bench(bench, report=self._report))

    def _scale_out(self, bench: BenchOptions) -> None:
        self._run_and_print(lambda: run_scale_out(bench, report=self._report))

    def _run_and_print(self, run):
        """Runs one case, prints its summary and JSON line; fails when a target is missed."""
        try:
            result = run()
        except (BenchError, DashboardBenchError) as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            raise CommandError("Interrupted.", returncode=130) from None
        self.stdout.write("")
        for line in result.summary_lines():
            self.stdout.write(line)
        self.stdout.write(result.as_json())
        misses = getattr(result, "misses", lambda: [])()
        if misses:
            raise CommandError("Over target: " + "; ".join(misses))
        return result

    def _report(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
