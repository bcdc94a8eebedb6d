"""The approvals inbox: invoice candidates, amendment conflicts and edited replays.

Four eyes, shown and enforced: the person who prepared an item sees that a second
approver must approve it and gets no approve button; the services refuse them anyway
(403 with the message) if they post. Preparing an invoice candidate is an operator's
step; approving and rejecting are an approver's.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from canonical.choices import InvoiceStatus
from canonical.classification import MASKED, DataClass
from canonical.errors import ApplicationError
from canonical.models import Invoice, InvoiceLine
from controltower.operations.models import BusinessException
from controltower.operations.selectors.approvals import (
    amendment_conflict_views,
    edited_replay_views,
    invoice_candidates,
    invoice_lines_attach,
)
from controltower.operations.selectors.data_access import (
    field_visible,
    record_mask,
    value_mask,
)
from controltower.operations.selectors.exceptions import record_url, transaction_url
from controltower.operations.services.approvals import (
    exception_approve,
    exception_reject,
    invoice_approve,
    invoice_prepare,
    invoice_reject,
    invoices_approve,
)
from controltower.web.forms.config import NoColon
from controltower.web.pages.exceptions import money
from controltower.web.pages.lists import Column, csv_response, listing, listing_queryset, wants_csv
from controltower.web.pages.saved_views import saved_views_context
from integrations.choices import OPEN_STATUSES, ExceptionType

PAGE = "approvals:list"
PREPARE = "controltower.work_businessexception"
APPROVE_INVOICE = "canonical.approve_invoice"
APPROVE_EXCEPTION = "controltower.approve_businessexception"


class NoteForm(NoColon, forms.Form):
    note = forms.CharField(required=False, max_length=500, label="Note (optional)")


class ApproveForm(NoColon, forms.Form):
    reason = forms.CharField(required=False, max_length=500, label="Note (optional)")


class RejectForm(NoColon, forms.Form):
    reason = forms.CharField(
        max_length=1000,
        label="Reason",
        help_text="Required. The preparer reads it; it is kept in the audit log.",
    )


def _period(invoice: Invoice, today: date) -> str:
    """The billing period in words, and whether time for it can still arrive."""
    start, end = invoice.period_start, invoice.period_end
    if start.day == 1 and start.month == end.month and start.year == end.year:
        text = f"{start:%B %Y}"
    else:
        text = f"{start:%d %b %Y} to {end:%d %b %Y}"
    if end >= today:
        text += f", still running until {end:%d %b}: more time may come"
    return text


INVOICE_COLUMNS = (
    Column("number", "Invoice", lambda i: i.number, "number"),
    Column("customer", "Customer", lambda i: i.customer.number, "customer__number"),
    Column("customer_name", "Customer name", lambda i: i.customer.name, table=False),
    Column("project", "Project", lambda i: i.project.code, "project__code"),
    Column("period", "Period", lambda i: i.period_start, "period_start"),
    Column("period_end", "Period end", lambda i: i.period_end, table=False),
    Column(
        "amount",
        "Total",
        lambda i: i.amount,
        "amount",
        numeric=True,
        data_class=DataClass.PRICING,
    ),
    Column("currency", "Currency", lambda i: i.currency, table=False),
    Column("status", "Status", lambda i: i.get_status_display(), "status"),
    Column(
        "prepared_by",
        "Prepared by",
        lambda i: i.prepared_by.get_username() if i.prepared_by else "",
        "prepared_by__username",
    ),
)


EXCEPTION_COLUMNS = (
    Column("business_key", "Business key", lambda e: e.business_key, "business_key"),
    Column("message", "What it holds", lambda e: e.message),
    Column("money", "Money at stake", lambda e: e.money_at_risk, "money_at_risk", numeric=True),
    Column("currency", "Currency", lambda e: e.currency, table=False),
    Column("created_at", "Raised", lambda e: e.created_at, "created_at"),
    Column(
        "prepared_by",
        "Prepared by",
        lambda e: e.prepared_by.get_username() if e.prepared_by else "",
        "prepared_by__username",
    ),
    Column("team", "Team", lambda e: e.team.name if e.team else "", "team__name"),
)

KINDS = {
    "invoices": "Invoice candidates",
    "amendments": "Amendment conflicts",
    "replays": "Edited replays",
}


def _kind(request: HttpRequest) -> str:
    kind = request.GET.get("kind", "invoices")
    return kind if kind in KINDS else "invoices"


def _held(exception_type: str) -> QuerySet[BusinessException]:
    return BusinessException.objects.filter(
        exception_type=exception_type, status__in=OPEN_STATUSES
    ).select_related("team", "prepared_by", "customer")


def _month_asked(request: HttpRequest) -> date | None:
    """The billing month the invoice inbox is narrowed to (``?period=2026-11``), if any."""
    if _kind(request) != "invoices":
        return None
    try:
        year, month = (int(part) for part in request.GET.get("period", "").split("-"))
        return date(year, month, 1)
    except ValueError:
        return None


def _source(
    kind: str, period: date | None = None
) -> tuple[QuerySet, tuple[Column, ...], str, tuple[str, ...]]:
    if kind == "invoices":
        candidates = invoice_candidates()
        if period is not None:
            candidates = candidates.filter(
                period_start__year=period.year, period_start__month=period.month
            )
        return (
            candidates,
            INVOICE_COLUMNS,
            "-amount",
            ("number", "customer__number", "customer__name", "project__code", "project__name"),
        )
    exception_type = (
        ExceptionType.AMENDMENT_CONFLICT if kind == "amendments" else ExceptionType.EDITED_REPLAY
    )
    return _held(exception_type), EXCEPTION_COLUMNS, "-money", ("business_key", "message")


def _prepare_rows(kind: str, user: Any, problem: ApplicationError | None = None, target: str = ""):
    def attach(objects: list[Any]) -> None:
        prefix = "invoice" if kind == "invoices" else "exception"
        for item in objects:
            item.problem = problem if target == f"{prefix}-{item.pk}" else None
        if kind == "invoices":
            invoice_lines_attach(objects)
            today = timezone.localdate()
            for invoice in objects:
                invoice.total_text = value_mask(
                    money(invoice.amount, invoice.currency), data_class=DataClass.PRICING, user=user
                )
                for line in invoice.shown_lines:
                    line.shown = record_mask(
                        {
                            "description": line.description,
                            "rate": floatformat(line.rate, "2g"),
                            "amount": floatformat(line.amount, "2g"),
                        },
                        model=InvoiceLine,
                        user=user,
                    )
                invoice.period_text = _period(invoice, today)
                invoice.prepared_by_me = invoice.prepared_by_id == user.pk
                invoice.awaiting = invoice.status == InvoiceStatus.AWAITING_APPROVAL
                invoice.record_url = record_url(invoice)
                invoice.project_url = record_url(invoice.project)
            return
        views = (
            amendment_conflict_views(objects, user=user)
            if kind == "amendments"
            else edited_replay_views(objects)
        )
        for exc in objects:
            exc.view = views[exc.pk]
            exc.money_text = money(exc.money_at_risk, exc.currency)
            exc.prepared_by_me = exc.prepared_by_id is not None and exc.prepared_by_id == user.pk
            for key in ("original", "replay"):
                tx = exc.view.get(key)
                if tx is not None:
                    tx.url = transaction_url(tx.pk)

    return attach


def _counts() -> dict[str, int]:
    return {
        "invoices": invoice_candidates().count(),
        "amendments": _held(ExceptionType.AMENDMENT_CONFLICT).count(),
        "replays": _held(ExceptionType.EDITED_REPLAY).count(),
    }


def _context(
    request: HttpRequest, *, problem: ApplicationError | None = None, target: str = ""
) -> dict[str, Any]:
    kind = _kind(request)
    month = _month_asked(request)
    queryset, columns, default_sort, search = _source(kind, month)
    table = listing(
        request,
        queryset=queryset,
        columns=columns,
        default_sort=default_sort,
        search_fields=search,
        filtered=month is not None,
        prepare=_prepare_rows(kind, request.user, problem, target),
    )
    shown = any(getattr(row.obj, "problem", None) for row in table.rows)
    counts = _counts()
    user = request.user
    months, amounts = [], []
    amounts_masked = not field_visible(model=Invoice, field="amount", user=user)
    if kind == "invoices":
        # What a close looks at: the months that have candidates, and what the list adds up to.
        months = [
            (f"{day:%Y-%m}", f"{day:%B %Y}")
            for day in invoice_candidates().dates("period_start", "month", order="DESC")
        ]
        matching = table.page.paginator.object_list  # the list as searched, every page
        if not amounts_masked:
            amounts = list(
                matching.order_by("currency").values("currency").annotate(amount=Sum("amount"))
            )
    return {
        "kind": kind,
        "month": f"{month:%Y-%m}" if month else "",
        "month_label": f"{month:%B %Y}" if month else "",
        "months": months,
        "amounts": amounts,
        "amounts_masked": amounts_masked,
        "masked": MASKED,
        "kind_label": KINDS[kind],
        "tabs": [
            {"key": key, "label": label, "count": counts[key], "url": f"?kind={key}"}
            for key, label in KINDS.items()
        ],
        "table": table,
        "sort_headers": [h for h in table.headers if h.sortable],
        "can_prepare": user.has_perm(PREPARE),
        "can_approve_invoice": user.has_perm(APPROVE_INVOICE),
        "can_approve_exception": user.has_perm(APPROVE_EXCEPTION),
        "problem": problem if not shown else None,
        "note_form": NoteForm(prefix="prepare"),
        "approve_form": ApproveForm(prefix="approve"),
        "reject_form": RejectForm(prefix="reject"),
        **saved_views_context(request, page=PAGE),
    }


@login_required
@require_GET
def approval_list(request: HttpRequest) -> HttpResponse:
    if wants_csv(request):
        kind = _kind(request)
        queryset, columns, default_sort, search = _source(kind, _month_asked(request))
        queryset, _, _ = listing_queryset(
            request,
            queryset=queryset,
            columns=columns,
            default_sort=default_sort,
            search_fields=search,
        )
        return csv_response(
            user=request.user,
            rows=queryset.iterator(chunk_size=500),
            columns=columns,
            filename=f"approvals-{kind}.csv",
        )
    return render(request, "controltower/approvals/list.html", _context(request))


def _back(request: HttpRequest) -> HttpResponse:
    query = request.GET.urlencode()
    return redirect(f"{reverse(PAGE)}?{query}" if query else reverse(PAGE))


def _refused(request: HttpRequest, error: ApplicationError, target: str) -> HttpResponse:
    """The inbox again, with the service's refusal beside the item, under its status code."""
    return render(
        request,
        "controltower/approvals/list.html",
        _context(request, problem=error, target=target),
        status=error.status_code,
    )


INVOICE_ACTIONS = {
    "prepare": (PREPARE, NoteForm),
    "approve": (APPROVE_INVOICE, ApproveForm),
    "reject": (APPROVE_INVOICE, RejectForm),
}


@login_required
@require_POST
def invoice_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Prepare, approve or reject an invoice candidate; the inbox's query string is kept."""
    if action not in INVOICE_ACTIONS:
        raise Http404(f"No action {action!r}.")
    permission, form_class = INVOICE_ACTIONS[action]
    if not request.user.has_perm(permission):
        raise PermissionDenied(
            "Preparing needs the operator role."
            if action == "prepare"
            else "Approving and rejecting invoices needs the approver role."
        )
    invoice = get_object_or_404(Invoice, pk=pk)
    form = form_class(request.POST, prefix=action)
    target = f"invoice-{invoice.pk}"
    if not form.is_valid():
        error = ApplicationError(
            "A reason is required to reject.", errors={"reason": ["Required."]}
        )
        return _refused(request, error, target)
    data = form.cleaned_data
    try:
        if action == "prepare":
            invoice_prepare(invoice_id=invoice.pk, actor=request.user, note=data["note"])
            messages.success(
                request,
                f"Invoice {invoice.number} is ready for approval; a second approver must approve it.",
            )
        elif action == "approve":
            invoice_approve(invoice_id=invoice.pk, actor=request.user, reason=data["reason"])
            messages.success(request, f"Approved invoice {invoice.number}; it is being posted.")
        else:
            invoice_reject(invoice_id=invoice.pk, actor=request.user, reason=data["reason"])
            messages.success(
                request,
                f"Rejected invoice {invoice.number}; its time is released for rework.",
            )
    except ApplicationError as error:
        return _refused(request, error, target)
    return _back(request)


@login_required
@require_POST
def invoices_approve_view(request: HttpRequest) -> HttpResponse:
    """Approves the ticked candidates together; each refusal is named and the rest go on."""
    if not request.user.has_perm(APPROVE_INVOICE):
        raise PermissionDenied("Approving invoices needs the approver role.")
    form = ApproveForm(request.POST, prefix="bulk")
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    ids = [int(value) for value in request.POST.getlist("invoice") if value.isdigit()]
    try:
        result = invoices_approve(invoice_ids=ids, actor=request.user, reason=reason)
    except ApplicationError as error:
        return _refused(request, error, "bulk-approve")
    if result["approved"]:
        count = len(result["approved"])
        numbers = ", ".join(item["number"] for item in result["approved"])
        messages.success(
            request,
            f"Approved {count} invoice{'s' if count != 1 else ''}; "
            f"{'they are' if count != 1 else 'it is'} being posted: {numbers}.",
        )
    for item in result["refused"]:
        name = item["number"] or f"Invoice {item['id']}"
        messages.error(request, f"{name} was not approved: {item['reason']}")
    return _back(request)


@login_required
@require_POST
def exception_approval(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve or reject what an amendment conflict or an edited replay holds."""
    if action not in ("approve", "reject"):
        raise Http404(f"No action {action!r}.")
    if not request.user.has_perm(APPROVE_EXCEPTION):
        raise PermissionDenied("Approving and rejecting needs the approver role.")
    exc = get_object_or_404(BusinessException, pk=pk)
    form = (ApproveForm if action == "approve" else RejectForm)(request.POST, prefix=action)
    target = f"exception-{exc.pk}"
    if not form.is_valid():
        error = ApplicationError(
            "A reason is required to reject.", errors={"reason": ["Required."]}
        )
        return _refused(request, error, target)
    try:
        if action == "approve":
            exception_approve(
                exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"Approved {exc.business_key}; what it held runs now.")
        else:
            exception_reject(
                exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(request, f"Rejected {exc.business_key}; what it held was cancelled.")
    except ApplicationError as error:
        return _refused(request, error, target)
    return _back(request)
