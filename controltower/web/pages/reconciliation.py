"""Reconciliation reports: each run with the drift it found, and a drill-down by project and period.

A run compares the tower's records with the ERP's and the PSA's (contracts' projects,
job rates, project status and dates, approved time no invoice holds, invoices); each
drift is a ``reconciliation_drift`` exception with the amount at stake and the customer
named, and most have a one-click fix. Operators may start a run now; beat runs one nightly.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from canonical.classification import DataClass
from canonical.errors import ApplicationError
from canonical.formats import money_text
from controltower.operations.models import BusinessException
from controltower.operations.selectors.exceptions import transaction_url
from controltower.operations.selectors.reconciliation import (
    DRIFT_ACTION_PERMISSION,
    drift_action_of,
    reconciliation_drift_rows,
    reconciliation_drift_totals,
    reconciliation_runs,
)
from controltower.operations.services.actions import reconciliation_start
from controltower.operations.services.reconciliation import drift_act
from controltower.web.forms.config import NoColon
from controltower.web.pages.exceptions import money
from controltower.web.pages.lists import Column, csv_response, listing, listing_queryset, wants_csv
from controltower.web.pages.saved_views import saved_views_context
from integrations.choices import OPEN_STATUSES, ExceptionType

PAGE = "reconciliation:index"
START = "integrations.retry_transaction"


class StartForm(NoColon, forms.Form):
    reason = forms.CharField(required=False, max_length=500, label="Why now (optional)")


def _amounts_text(run: Any) -> str:
    return ", ".join(money_text(row["amount"], row["currency"]) for row in run.drift_amounts)


def _run_link(run: Any) -> Any:
    return format_html(
        '<a href="{}">Run #{}</a><div class="muted small">{}</div>',
        reverse("reconciliation:run", args=[run.pk]),
        run.pk,
        run.business_key,
    )


def _drifts_html(run: Any) -> Any:
    if run.state != "succeeded":
        return format_html('<span class="muted">{}</span>', "not finished")
    if not run.drift_count:
        return format_html('<span class="badge success">{}</span>', "No drift")
    return format_html(
        '<span class="badge warning">{} drift{}</span>',
        run.drift_count,
        "" if run.drift_count == 1 else "s",
    )


RUN_COLUMNS = (
    Column("run", "Run", lambda r: r.pk, "id", html=_run_link),
    Column("business_key", "Name", lambda r: r.business_key, table=False),
    Column(
        "state",
        "State",
        lambda r: r.get_state_display(),
        "state",
        html=lambda r: format_html(
            '<span class="badge {}">{}</span>', r.state_badge, r.get_state_display()
        ),
    ),
    Column("received_at", "Started", lambda r: r.received_at, "received_at"),
    Column("finished_at", "Finished", lambda r: r.finished_at, "finished_at"),
    Column("drifts", "Drift found", lambda r: r.drift_count, html=_drifts_html, numeric=True),
    Column("amount", "Amount at stake", _amounts_text, numeric=True),
)


def _attach_totals(runs: list[Any]) -> None:
    reconciliation_drift_totals(runs)


@login_required
@require_GET
def reconciliation_index(request: HttpRequest) -> HttpResponse:
    runs = reconciliation_runs()
    if wants_csv(request):
        rows, _, _ = listing_queryset(
            request, queryset=runs, columns=RUN_COLUMNS, default_sort="-run"
        )
        page = list(rows[:5000])
        _attach_totals(page)
        return csv_response(rows=page, columns=RUN_COLUMNS, filename="reconciliation-runs.csv")
    table = listing(
        request, queryset=runs, columns=RUN_COLUMNS, default_sort="-run", prepare=_attach_totals
    )
    open_drift = BusinessException.objects.filter(
        exception_type=ExceptionType.RECONCILIATION_DRIFT, status__in=OPEN_STATUSES
    )
    return render(
        request,
        "controltower/reconciliation/index.html",
        {
            "table": table,
            "can_start": request.user.has_perm(START),
            "start_form": StartForm(),
            "open_drift_count": open_drift.count(),
            "open_drift_url": f"{reverse('exceptions:list')}?tab=all"
            f"&exception_type={ExceptionType.RECONCILIATION_DRIFT}",
            **saved_views_context(request, page=PAGE),
        },
    )


@login_required
@require_POST
def reconciliation_run_start(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(START):
        raise PermissionDenied("Starting a reconciliation needs the operator role.")
    form = StartForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        run = reconciliation_start(actor=request.user, reason=reason)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(PAGE)
    messages.success(
        request, f"Reconciliation run #{run.pk} is queued; its drift appears here when it finishes."
    )
    return redirect(PAGE)


def _priced(row: Any) -> DataClass | None:
    """A drift's figures are pricing when they are invoice amounts, not hours or counts."""
    return DataClass.PRICING if row.priced else None


DRIFT_COLUMNS = (
    Column("customer", "Customer", lambda d: _customer_text(d)),
    Column("project", "Project", lambda d: d.project),
    Column("period", "Period", lambda d: d.period.strftime("%B %Y") if d.period else ""),
    Column("what", "What differs", lambda d: d.what),
    Column("tower", "Tower", lambda d: d.tower, numeric=True, data_class=_priced),
    Column("erp", "ERP", lambda d: d.erp, numeric=True, data_class=_priced),
    Column("money", "At stake", lambda d: d.exception.money_at_risk, numeric=True),
    Column("currency", "Currency", lambda d: d.exception.currency),
    Column("status", "Status", lambda d: d.exception.get_status_display()),
    Column("exception", "Exception", lambda d: d.exception.pk),
    Column("message", "Message", lambda d: d.exception.message),
)


FIGURES = {column.key: column for column in DRIFT_COLUMNS}


def _customer_text(row: Any) -> str:
    """The drift's customer, number and name (older drifts: the exception's customer)."""
    details = row.exception.details or {}
    customer = row.exception.customer if row.exception.customer_id else None
    number = details.get("customer") or (customer.number if customer else "")
    name = details.get("customer_name") or (customer.name if customer else "")
    return " ".join(filter(None, [number, name]))


@login_required
@require_GET
def reconciliation_run(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(reconciliation_runs(), pk=pk)
    rows = reconciliation_drift_rows(run)
    if wants_csv(request):
        return csv_response(
            rows=rows, columns=DRIFT_COLUMNS, filename=f"reconciliation-{pk}.csv", user=request.user
        )
    groups: list[dict[str, Any]] = []
    can_act = request.user.has_perm(DRIFT_ACTION_PERMISSION)
    for row in rows:
        row.action = drift_action_of(row.exception) if can_act else None
        row.customer = _customer_text(row)
        key = (row.project, row.period)
        if not groups or groups[-1]["key"] != key:
            groups.append({"key": key, "project": row.project, "period": row.period, "rows": []})
        row.money_text = money(row.exception.money_at_risk, row.exception.currency)
        row.tower_text, row.erp_text = (
            FIGURES[key].shown(row, request.user, getattr(row, key)) for key in ("tower", "erp")
        )
        groups[-1]["rows"].append(row)
    reconciliation_drift_totals([run])
    return render(
        request,
        "controltower/reconciliation/run.html",
        {
            "run": run,
            "groups": groups,
            "count": len(rows),
            "amounts": _amounts_text(run),
            "run_url": transaction_url(run.pk),
        },
    )


@login_required
@require_POST
def drift_act_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Runs a drift's one-click fix; htmx swaps the button for what was queued."""
    if not request.user.has_perm(DRIFT_ACTION_PERMISSION):
        raise PermissionDenied("Acting on a reconciliation drift needs the operator role.")
    exc = get_object_or_404(
        BusinessException, pk=pk, exception_type=ExceptionType.RECONCILIATION_DRIFT
    )
    action = drift_action_of(exc)
    done, refusal = "", ""
    try:
        tx = drift_act(exception_id=exc.pk, actor=request.user)
    except ApplicationError as error:
        refusal = error.message
    else:
        done = (
            f"{action.label}: queued as transaction {tx.pk}. The next reconciliation resolves "
            "the drift once the copies agree."
        )
    if request.htmx:
        # Answered 200 either way: htmx swaps in only a successful answer, and the refusal
        # must show where the button was.
        return render(
            request,
            "controltower/reconciliation/partials/_drift_action.html",
            {"exc": exc, "action": action, "done": done, "refusal": refusal},
        )
    if refusal:
        messages.error(request, refusal)
    else:
        messages.success(request, done)
    return redirect("exceptions:detail", exc.pk)
