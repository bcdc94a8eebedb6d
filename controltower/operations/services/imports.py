"""Batch imports asked for by a person (the page) or a client (the API): audited, then run
by a worker (``integrations.services.imports``)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from controltower.operations.services.audit import audit_record
from integrations.models import ImportJob
from integrations.services.imports import import_create, import_start


def import_request(
    *,
    actor: Any,
    kind: str,
    content: bytes,
    file_name: str,
    file_format: str | None = None,
    system_slug: str | None = None,
    dry_run: bool = False,
    push_downstream: bool = True,
) -> ImportJob:
    """Keeps the file as a job, notes who asked, and sends it to a worker."""
    with transaction.atomic():
        job = import_create(
            kind=kind,
            content=content,
            file_name=file_name,
            file_format=file_format,
            system_slug=system_slug,
            dry_run=dry_run,
            push_downstream=push_downstream,
            requested_by=actor,
        )
        audit_record(actor=actor, action="import.create", obj=job, after=_summary(job))
        import_start(job=job)
    return job


def import_resume(*, actor: Any, job: ImportJob) -> ImportJob:
    """Sends an interrupted job to a worker again; it goes on after its last chunk."""
    with transaction.atomic():
        audit_record(actor=actor, action="import.resume", obj=job, after={"cursor": job.cursor})
        import_start(job=job)
    return job


def _summary(job: ImportJob) -> dict[str, Any]:
    return {
        "kind": job.kind,
        "file": job.file_name,
        "rows": job.rows_total,
        "system": job.system.slug,
        "dry_run": job.dry_run,
        "push_downstream": job.push_downstream,
    }
