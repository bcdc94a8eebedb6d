"""The transaction explorer: find any transaction by flow, state, system, time, business key,
correlation id, error or customer; read its payloads, attempts and lineage; act on it.

Filters are the API's own ``TransactionFilterSet``, so a page's query string works on
``/api/v1/transactions/`` too. Retry, replay and cancel call the same services as the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

from canonical.classification import DataClass
from canonical.errors import ApplicationError
from controltower.operations.choices import BulkAction, BulkStatus
from controltower.operations.models import BulkOperation
from controltower.operations.services import actions
from controltower.web.forms.actions import (
    ActionForm,
    BulkRetryForm,
    ReasonForm,
    ReplayForm,
    RequiredReasonForm,
)
from controltower.web.pages.common import badge, json_text, require, url_or_blank
from controltower.web.pages.lists import (
    Column,
    csv_response,
    listing,
    listing_queryset,
    page_filter_form,
    wants_csv,
)
from controltower.web.pages.saved_views import saved_views_context
from controltower.web.templatetags.tower import when
from integrations.choices import (
    RETRYABLE_STATES,
    ErrorClass,
    ExceptionType,
    FlowKind,
    TransactionState,
)
from integrations.filtersets import TransactionFilterSet
from integrations.models import ConnectedSystem, Transaction
from integrations.selectors.compensations import compensations_of_transaction
from integrations.selectors.records import transaction_record_link
from integrations.selectors.transactions import (
    retention_sweep_of,
    transaction_children,
    transaction_explorer_list,
    transaction_lineage,
    transaction_page_detail,
    transactions_business_fields,
)

VIEW = "integrations.view_transaction"
RETRY = "integrations.retry_transaction"
REPLAY = "integrations.replay_transaction"
CANCEL = "integrations.cancel_transaction"

LABELS = {
    "flow": "Flow",
    "state": "State",
    "source_system": "Source system",
    "target_system": "Target system",
    "received_after": "Received from",
    "received_before": "Received until",
    "business_key": "Business key",
    "correlation_id": "Correlation id",
    "customer": "Customer no.",
    "contract": "Contract no.",
    "project": "Project code",
    "error_class": "Error class",
    "error_code": "Exception type",
    "event_type": "Event type",
    "system": "Source or target system",
    "idempotency_key": "Idempotency key",
    "parent": "Replay or child of #",
    "outcome": "Outcome",
}
MAIN_FILTERS = (
    "flow",
    "source_system",
    "target_system",
    "received_after",
    "received_before",
    "business_key",
    "correlation_id",
    "customer",
    "contract",
    "project",
    "error_class",
    "error_code",
)
MORE_FILTERS = ("event_type", "system", "idempotency_key", "parent", "outcome")
CSV_CHUNK = 500


def _detail_link(tx: Transaction) -> str:
    return format_html('<a href="{}">#{}</a>', reverse("transactions:detail", args=[tx.pk]), tx.pk)


def _state_html(tx: Transaction) -> str:
    return badge(tx.get_state_display(), tx.state_badge)


def _systems_text(tx: Transaction) -> str:
    source = tx.source_system.slug if tx.source_system_id else "tower"
    return f"{source} → {tx.target_system.slug}" if tx.target_system_id else source


def _error_html(tx: Transaction) -> str:
    if not tx.last_error:
        return ""
    short = tx.last_error if len(tx.last_error) <= 140 else tx.last_error[:137] + "…"
    kind = tx.get_error_class_display() if tx.error_class else ""
    return format_html(
        '{}<span class="error-text" title="{}">{}</span>',
        format_html('<span class="muted small">{}</span> ', kind) if kind else "",
        tx.last_error,
        short,
    )


def _customer_html(tx: Transaction) -> str:
    business = tx.business
    if not business.customer:
        return ""
    return format_html(
        '{}<div class="muted small">{}</div>', business.customer, business.customer_name
    )


def _event_html(tx: Transaction) -> str:
    return format_html(
        '{}<div class="muted small">{} · {}</div>',
        tx.event_type or "(refused)",
        tx.flow.name if tx.flow_id else "no flow",
        _systems_text(tx),
    )


def _amount_class(business: Any) -> DataClass | None:
    """A transaction's amount column holds money (pricing) or hours (not sensitive)."""
    return DataClass.PRICING if business.amount is not None else None


COLUMNS = (
    Column("id", "#", lambda t: t.pk, "id", html=_detail_link, numeric=True),
    Column("state", "State", lambda t: t.get_state_display(), html=_state_html),
    Column(
        "received",
        "Received",
        lambda t: t.received_at,
        "received_at",
        html=lambda t: when(t.received_at, short=True),
    ),
    Column("event", "Event", lambda t: t.event_type, html=_event_html),
    Column("flow", "Flow", lambda t: t.flow.name if t.flow_id else "", table=False),
    Column("business_key", "Business key", lambda t: t.business_key, "business_key"),
    Column("customer", "Customer", lambda t: t.business.customer_text, html=_customer_html),
    Column("contract", "Contract", lambda t: t.business.contract),
    Column(
        "tx_amount",
        "Amount",
        lambda t: t.business.amount_text,
        numeric=True,
        data_class=lambda t: _amount_class(t.business),
    ),
    Column("systems", "From → to", _systems_text, table=False),
    Column("attempts", "Attempts", lambda t: t.attempts_count, numeric=True),
    Column("last_error", "Last error", lambda t: t.last_error, html=_error_html),
    Column("error_class", "Error class", lambda t: t.error_class, table=False),
    Column("error_code", "Exception type", lambda t: t.error_code, table=False),
    Column("correlation_id", "Correlation id", lambda t: t.correlation_id, table=False),
    Column("project", "Project", lambda t: t.business.project, table=False),
    Column("finished", "Finished", lambda t: t.finished_at, table=False),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}


def _prepare(rows: list[Transaction]) -> None:
    transactions_business_fields(transactions=rows)


def _filtered(request: HttpRequest) -> tuple[TransactionFilterSet, Any, bool, bool]:
    filterset = TransactionFilterSet(
        request.GET, queryset=transaction_explorer_list(), request=request
    )
    # ``parent`` takes a transaction id: typed, not picked from a list of transactions.
    form = page_filter_form(filterset, labels=LABELS, exclude=("parent",))
    form.fields["parent"] = filterset.filters["parent"].field
    form.fields["parent"].label = LABELS["parent"]
    form.fields["parent"].required = False
    systems = [("", "Any")] + [
        (slug, slug)
        for slug in ConnectedSystem.objects.order_by("slug").values_list("slug", flat=True)
    ]
    for name in ("source_system", "target_system", "system"):
        form.fields[name].widget = django_forms.Select(choices=systems)
    form.fields["state"].widget = django_forms.CheckboxSelectMultiple(
        choices=TransactionState.choices
    )
    form.fields["flow"].choices = [("", "Any"), *FlowKind.choices]
    form.fields["error_class"].choices = [("", "Any"), *ErrorClass.choices]
    form.fields["customer"].help_text = ""
    form.fields["contract"].help_text = ""
    form.fields["project"].help_text = ""
    form.fields["contract"].widget.attrs["placeholder"] = "K-5001"
    form.fields["project"].widget.attrs["placeholder"] = "P-1042"
    form.fields["system"].help_text = ""
    form.fields["error_code"].widget.attrs["list"] = "exception-types"
    form.fields["business_key"].widget.attrs["placeholder"] = "Part of a key: k-50, P-1042…"
    form.fields["customer"].widget.attrs["placeholder"] = "C-1001"
    valid = filterset.is_valid()
    filtered = any(request.GET.get(name) not in (None, "", "unknown") for name in filterset.filters)
    return filterset, form, valid, filtered


def _csv_rows(queryset: QuerySet[Transaction]) -> Iterator[Transaction]:
    """Every row of the filter, with its business columns filled a chunk at a time."""
    chunk: list[Transaction] = []
    for tx in queryset.iterator(chunk_size=CSV_CHUNK):
        chunk.append(tx)
        if len(chunk) == CSV_CHUNK:
            _prepare(chunk)
            yield from chunk
            chunk = []
    if chunk:
        _prepare(chunk)
        yield from chunk


@login_required
@require_GET
def transaction_list(request: HttpRequest) -> HttpResponse:
    require(request, VIEW, "Your role may not read transactions.")
    filterset, form, valid, filtered = _filtered(request)
    queryset = filterset.qs if valid else Transaction.objects.none()
    if wants_csv(request):
        ordered, _, _ = listing_queryset(
            request, queryset=queryset, columns=COLUMNS, default_sort="-received"
        )
        return csv_response(
            user=request.user, rows=_csv_rows(ordered), columns=COLUMNS, filename="transactions.csv"
        )
    table = listing(
        request,
        queryset=queryset,
        columns=COLUMNS,
        default_sort="-received",
        filtered=filtered,
        prepare=_prepare,
    )
    can_retry = request.user.has_perm(RETRY)
    params = request.GET.copy()
    for name in ("page", "per", "export", "sort"):
        params.pop(name, None)
    return render(
        request,
        "integrations/transactions/list.html",
        {
            "table": table,
            "form": form,
            "valid": valid,
            "main_filters": [form[name] for name in MAIN_FILTERS],
            "more_filters": [form[name] for name in MORE_FILTERS],
            "more_open": any(request.GET.get(name) for name in MORE_FILTERS),
            "can_retry": can_retry,
            "bulk_retry_url": f"{reverse('transactions:bulk-retry')}?{params.urlencode()}",
            "failed_url": f"{reverse('transactions:list')}?state=dead&state=retry_scheduled&state=blocked",
            "exception_types": ExceptionType.choices,
            **saved_views_context(request, page="transactions:list"),
        },
        status=200 if valid else 400,
    )


@login_required
def transactions_bulk_retry(request: HttpRequest) -> HttpResponse:
    """Confirms, then retries every failed, dead or blocked transaction the filter selects."""
    require(request, RETRY, "Your role may not retry transactions.")
    filterset, form, valid, filtered = _filtered(request)
    if not valid:
        messages.error(request, "A filter could not be read; fix it before retrying.")
        return redirect(f"{reverse('transactions:list')}?{request.GET.urlencode()}")
    retryable = filterset.qs.filter(state__in=RETRYABLE_STATES)
    count = retryable.count()
    confirm = BulkRetryForm(request.POST or None)
    list_url = f"{reverse('transactions:list')}?{request.GET.urlencode()}"
    status = 200
    if request.method == "POST" and confirm.is_valid():
        try:
            operation = actions.transactions_bulk_retry(
                queryset=filterset.qs,
                actor=request.user,
                reason=confirm.cleaned_data["reason"],
                description=request.GET.urlencode(),
            )
        except ApplicationError as error:
            confirm.add_application_error(error)
            status = error.status_code
        else:
            retried = operation.total
            noun = "transaction" if retried == 1 else "transactions"
            messages.success(request, f"Queued {retried} {noun} to run again.")
            return redirect("transactions:bulk-retry-progress", operation.pk)
    elif request.method == "POST":
        status = 400
    return render(
        request,
        "integrations/transactions/bulk_retry.html",
        {
            "count": count,
            "form": confirm,
            "filters": _filter_summary(form),
            "filtered": filtered,
            "list_url": list_url,
        },
        status=status,
    )


@login_required
@require_GET
def transactions_bulk_retry_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """A bulk retry's progress as the workers run its transactions; htmx polls the partial."""
    operation = get_object_or_404(
        BulkOperation.objects.select_related("requested_by").defer("transaction_ids"),
        pk=pk,
        action=BulkAction.RETRY_TRANSACTIONS,
    )
    filters = (operation.selection or {}).get("filter") or ""
    context = {
        "operation": operation,
        "finished": operation.status in (BulkStatus.DONE, BulkStatus.FAILED),
        "list_url": f"{reverse('transactions:list')}?{filters}",
    }
    template = (
        "integrations/transactions/_bulk_retry_progress.html"
        if request.htmx
        else "integrations/transactions/bulk_retry_progress.html"
    )
    return render(request, template, context)


def _filter_summary(form: Any) -> list[tuple[str, str]]:
    """The filter in words: (label, value) for every field that has a value."""
    out = []
    for bound in form:
        value = bound.value()
        if value in (None, "", [], "unknown"):
            continue
        if isinstance(value, list):
            choices = dict(bound.field.choices) if hasattr(bound.field, "choices") else {}
            value = ", ".join(str(choices.get(v, v)) for v in value)
        out.append((str(bound.label), str(value)))
    return out


# The detail page and its actions


def _transaction(pk: int) -> Transaction:
    tx = transaction_page_detail(pk=pk)
    if tx is None:
        raise Http404(f"No transaction {pk}.")
    return tx


def _initial_payload(tx: Transaction) -> str:
    return json_text(tx.normalized) if tx.normalized is not None else ""


def _detail(
    request: HttpRequest,
    tx: Transaction,
    *,
    failed: str = "",
    form: ActionForm | None = None,
    error: ApplicationError | None = None,
    status: int = 200,
) -> HttpResponse:
    transactions_business_fields(transactions=[tx])
    user = request.user
    amount_text = COLUMNS_BY_KEY["tx_amount"].shown(tx, user, tx.business.amount_text)
    can = {
        "retry": user.has_perm(RETRY) and tx.can_retry,
        "replay": user.has_perm(REPLAY)
        and tx.source_system_id is not None
        and tx.flow_id is not None
        and tx.normalized is not None,
        "cancel": user.has_perm(CANCEL) and tx.can_cancel,
    }
    forms_by_action: dict[str, ActionForm] = {
        "retry": ReasonForm(prefix="retry"),
        "replay": ReplayForm(prefix="replay", initial={"payload": _initial_payload(tx)}),
        "cancel": RequiredReasonForm(prefix="cancel"),
    }
    if failed and form is not None:
        forms_by_action[failed] = form
    record = transaction_record_link(tx=tx)
    lineage = transaction_lineage(tx=tx)
    exception_url = url_or_blank("exceptions:detail", tx.exception_id) if tx.exception_id else ""
    return render(
        request,
        "integrations/transactions/detail.html",
        {
            "tx": tx,
            "amount_text": amount_text,
            "attempts": list(tx.attempts.all()),
            "children": transaction_children(tx=tx),
            "lineage": lineage,
            "compensations": list(compensations_of_transaction(tx)),
            "lineage_records": _lineage_records(lineage["records"]),
            "payload_text": json_text(tx.payload),
            "normalized_text": json_text(tx.normalized),
            "errors_text": json_text(tx.errors) if tx.errors else "",
            "can": can,
            "any_action": any(can.values()),
            "forms": forms_by_action,
            "failed": failed,
            "error": error,
            "exception_url": exception_url,
            "record_url": reverse("records:detail", args=record) if record else "",
            "financial": tx.flow_id is not None and tx.flow.kind in actions.FINANCIAL_FLOWS,
            "correlation_url": f"{reverse('transactions:list')}?correlation_id={tx.correlation_id}"
            if tx.correlation_id
            else "",
        },
        status=status,
    )


LINEAGE_SHOWN = 12  # records per group in the side panel
# The lineage's record groups, with a link to the record view where there is one.
LINEAGE_GROUPS = (
    ("projects", "Projects", "project"),
    ("milestones", "Billing milestones", ""),
    ("assignments", "Assignments", ""),
    ("time_entries", "Time entries", "time-entry"),
    ("invoices", "Invoices", "invoice"),
)


def _lineage_records(
    records: dict[str, list[dict]] | None,
) -> list[tuple[str, list[dict], int]]:
    if not records:
        return []
    groups = []
    for name, label, kind in LINEAGE_GROUPS:
        found = records.get(name, [])
        items = [
            {**item, "url": reverse("records:detail", args=[kind, item["id"]]) if kind else ""}
            for item in found[:LINEAGE_SHOWN]
        ]
        groups.append((label, items, len(found) - len(items)))
    return groups


@login_required
@require_GET
def transaction_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, VIEW, "Your role may not read transactions.")
    tx = transaction_page_detail(pk=pk)
    if tx is None:
        sweep = retention_sweep_of(transaction_id=pk)
        if sweep is None:
            raise Http404(f"No transaction {pk}.")
        # Gone, not lost: the page says when and where to, with 410 rather than 404.
        return render(
            request,
            "integrations/transactions/removed.html",
            {"pk": pk, "sweep": sweep, "list_url": reverse("transactions:list")},
            status=410,
        )
    return _detail(request, tx)


def _refused(
    request: HttpRequest, pk: int, action: str, form: ActionForm, error: ApplicationError | None
) -> HttpResponse:
    if error is not None:
        form.add_application_error(error)
    return _detail(
        request,
        _transaction(pk),
        failed=action,
        form=form,
        error=error,
        status=error.status_code if error is not None else 400,
    )


@login_required
@require_POST
def transaction_retry(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, RETRY, "Your role may not retry transactions.")
    form = ReasonForm(request.POST, prefix="retry")
    if not form.is_valid():
        return _refused(request, pk, "retry", form, None)
    try:
        actions.transaction_retry(
            transaction_id=pk, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        return _refused(request, pk, "retry", form, error)
    messages.success(request, f"Transaction {pk} is queued to run again.")
    return redirect("transactions:detail", pk)


@login_required
@require_POST
def transaction_replay(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, REPLAY, "Your role may not replay transactions.")
    form = ReplayForm(request.POST, prefix="replay")
    if not form.is_valid():
        return _refused(request, pk, "replay", form, None)
    edited = form.cleaned_data.get("edit")
    try:
        replay = actions.transaction_replay(
            transaction_id=pk,
            actor=request.user,
            payload=form.cleaned_data["payload_value"] if edited else None,
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as error:
        return _refused(request, pk, "replay", form, error)
    if replay.state == TransactionState.AWAITING_APPROVAL:
        messages.warning(
            request,
            f"Replay {replay.pk} waits for a second approver: an edited time-to-billing event "
            "posts billing data.",
        )
    else:
        what = "with the edited event" if edited else "as received"
        messages.success(request, f"Replayed transaction {pk} {what} as transaction {replay.pk}.")
    return redirect("transactions:detail", replay.pk)


@login_required
@require_POST
def transaction_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    require(request, CANCEL, "Your role may not cancel transactions.")
    form = RequiredReasonForm(request.POST, prefix="cancel")
    if not form.is_valid():
        return _refused(request, pk, "cancel", form, None)
    try:
        actions.transaction_cancel(
            transaction_id=pk, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        return _refused(request, pk, "cancel", form, error)
    messages.success(request, f"Transaction {pk} is cancelled.")
    return redirect("transactions:detail", pk)
