"""``manage.py import_records <kind> <file>``: a batch import from the command line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from canonical.errors import ApplicationError
from integrations.choices import ImportKind
from integrations.models import ImportJob
from integrations.services.imports import import_create, import_run


class Command(BaseCommand):
    help = (
        "Imports customers, contracts, projects, assignments, resources or approved time from "
        "a CSV or JSON Lines file through the same checks and flows as live events, with a "
        "progress bar. Ctrl-C stops after the chunk in hand; --resume JOB goes on from there."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", nargs="?", choices=ImportKind.values)
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would happen; write nothing."
        )
        parser.add_argument(
            "--no-push",
            action="store_true",
            help="Create nothing in the ERP or the PSA: match the records they hold and "
            "record the sync state.",
        )
        parser.add_argument(
            "--system", help="The system the history comes from (default: the data's owner)."
        )
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="Default: from the file's extension."
        )
        parser.add_argument("--resume", type=int, metavar="JOB", help="Go on with this job.")

    def handle(self, *args, **options) -> None:
        if options["resume"]:
            job = ImportJob.objects.filter(pk=options["resume"]).first()
            if job is None:
                raise CommandError(f"No import job {options['resume']}.")
        else:
            job = self._create(options)
        self.stdout.write(
            f"Import #{job.pk}: {job.rows_total} {job.get_kind_display().lower()} rows from "
            f"{job.system.slug}{' (dry run)' if job.dry_run else ''}"
            f"{'' if job.push_downstream else ', no downstream pushes'}"
            f"{f', resuming after row {job.cursor}' if job.cursor else ''}."
        )
        bar = _progress(job, self.stdout)
        try:
            job = import_run(job_id=job.pk, on_chunk=bar.update)
        except KeyboardInterrupt:
            bar.close()
            job.refresh_from_db()
            raise CommandError(
                f"Interrupted: rows 1 to {job.cursor} are committed. Go on with "
                f"`manage.py import_records --resume {job.pk}`.",
                returncode=130,
            ) from None
        bar.close()
        verb = "would be" if job.dry_run else "were"
        self.stdout.write(
            f"Import #{job.pk} done: {job.created} {verb} created, {job.changed} changed, "
            f"{job.unchanged} unchanged, {job.refused} refused"
            + (f", {job.blocked} held as business exceptions" if job.blocked else "")
            + "."
        )
        if job.refused or job.blocked:
            self.stdout.write(
                f"Refused rows with their reason: GET /api/v1/imports/{job.pk}/refused/ "
                f"or the import's page."
            )

    def _create(self, options) -> ImportJob:
        if not options["kind"] or not options["file"]:
            raise CommandError("Name the kind and the file, or --resume a job.")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        try:
            return import_create(
                kind=options["kind"],
                content=path.read_bytes(),
                file_name=path.name,
                file_format=options["format"],
                system_slug=options["system"],
                dry_run=options["dry_run"],
                push_downstream=not options["no_push"],
            )
        except ApplicationError as error:
            details = "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in error.errors.items()
            )
            raise CommandError(f"{error.message} {details}") from None


class _Line:
    """A progress line for a terminal without tqdm: rewritten in place on a terminal,
    one line per chunk otherwise."""

    def __init__(self, job: ImportJob, out) -> None:
        self.total = job.rows_total
        self.out = out
        self.tty = sys.stdout.isatty()

    def update(self, job: ImportJob) -> None:
        text = f"{job.cursor}/{self.total} rows ({job.cursor * 100 // max(self.total, 1)} %)"
        if self.tty:
            self.out.write(f"\r{text}", ending="")
            self.out.flush()
        else:
            self.out.write(text)

    def close(self) -> None:
        if self.tty:
            self.out.write("")


class _Tqdm:
    def __init__(self, job: ImportJob, out) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=job.rows_total, initial=job.cursor, unit="row", file=sys.stderr)

    def update(self, job: ImportJob) -> None:
        self.bar.update(job.cursor - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _progress(job: ImportJob, out) -> _Line | _Tqdm:
    return _Tqdm(job, out) if importlib.util.find_spec("tqdm") else _Line(job, out)
