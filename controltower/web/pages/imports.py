"""Batch imports: upload a file (a dry run first, by default), read the report by row and
field, start the real run, follow it live, download the refused rows. The same services as
``/api/v1/imports/``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from canonical.errors import ApplicationError
from controltower.operations.services.imports import import_request, import_resume
from controltower.web.forms.actions import ImportForm
from integrations.choices import ImportRowOutcome, ImportState
from integrations.models import ImportJob
from integrations.services.imports import import_refused_csv

RUN = "integrations.add_importjob"
# Rows of the report shown on the page; the API and the CSV give every one.
SHOWN_ROWS = 200


@login_required
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    may_run = request.user.has_perm(RUN)
    form = ImportForm()
    status = 200
    if request.method == "POST":
        if not may_run:
            raise PermissionDenied
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = import_request(
                    actor=request.user,
                    kind=data["kind"],
                    content=data["file"].read(),
                    file_name=data["file"].name or "",
                    system_slug=data["system"].slug if data["system"] else None,
                    dry_run=data["dry_run"],
                    push_downstream=data["push_downstream"],
                )
            except ApplicationError as error:
                form.add_application_error(error)
                if not form.errors.get("file") and any(
                    name not in form.fields for name in error.errors
                ):
                    form.add_error("file", _columns_message(error))
                status = 400
            else:
                return redirect("imports:detail", job.pk)
        else:
            status = 400
    jobs = ImportJob.objects.select_related("system", "requested_by").defer("content")[:100]
    return render(
        request,
        "controltower/imports/list.html",
        {"jobs": jobs, "form": form, "may_run": may_run},
        status=status,
    )


def _columns_message(error: ApplicationError) -> str:
    return "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.errors.items())


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        ImportJob.objects.select_related("system", "requested_by").defer("content"), pk=pk
    )
    shown = job.rows.exclude(outcome=ImportRowOutcome.CREATED).order_by("number")[:SHOWN_ROWS]
    context = {
        "job": job,
        "rows": list(shown.select_related("transaction")),
        "shown_rows": SHOWN_ROWS,
        "may_run": request.user.has_perm(RUN),
        "resumable": job.state in (ImportState.INTERRUPTED, ImportState.RUNNING),
    }
    template = (
        "controltower/imports/_progress.html"
        if request.htmx
        else "controltower/imports/detail.html"
    )
    return render(request, template, context)


@login_required
@permission_required(RUN, raise_exception=True)
@require_POST
def import_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """``resume`` an interrupted job; ``run`` a finished dry run's file for real."""
    job = get_object_or_404(ImportJob, pk=pk)
    try:
        if action == "resume":
            import_resume(actor=request.user, job=job)
            return redirect("imports:detail", job.pk)
        if action == "run" and job.dry_run:
            real = import_request(
                actor=request.user,
                kind=job.kind,
                content=job.content.encode(),
                file_name=job.file_name,
                file_format=job.format,
                system_slug=job.system.slug,
                dry_run=False,
                push_downstream=job.push_downstream,
            )
            return redirect("imports:detail", real.pk)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("imports:detail", job.pk)
    raise PermissionDenied


@login_required
@permission_required(RUN, raise_exception=True)
@require_GET
def import_refused(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = get_object_or_404(ImportJob.objects.defer("content"), pk=pk)
    response = StreamingHttpResponse(
        import_refused_csv(job=job), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-refused.csv"'
    return response
