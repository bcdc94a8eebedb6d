"""Compensations: the undoing the engine proposed when a step half-failed, with the actions
on each (execute; approve by a second person where money moves; reject), a reason required."""

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
from controltower.operations.selectors.data_access import field_visible
from controltower.operations.selectors.exceptions import transaction_url
from controltower.operations.services.compensations import (
    REQUESTABLE,
    compensation_approve,
    compensation_reject,
    compensation_request,
)
from controltower.web.forms.config import NoColon
from controltower.web.pages.exceptions import money
from controltower.web.pages.lists import Column, csv_response, listing, listing_queryset, wants_csv
from integrations.choices import OPEN_COMPENSATION_STATES, CompensationState
from integrations.filtersets import CompensationFilterSet
from integrations.models import Compensation
from integrations.selectors.compensations import compensation_list

REQUEST = "integrations.request_compensation"
APPROVE = "integrations.approve_compensation"
ACTIONS = {
    "execute": compensation_request,
    "approve": compensation_approve,
    "reject": compensation_reject,
}
TABS = (
    ("proposed", "Proposed", (CompensationState.PROPOSED, CompensationState.FAILED)),
    ("awaiting", "Awaiting approval", (CompensationState.AWAITING_APPROVAL,)),
    ("executing", "Executing", (CompensationState.EXECUTING,)),
    ("done", "Done", (CompensationState.DONE,)),
    ("rejected", "Rejected", (CompensationState.REJECTED,)),
)


class ReasonForm(NoColon, forms.Form):
    reason = forms.CharField(max_length=2000, label="Reason", widget=forms.TextInput)


def _link(c: Compensation) -> Any:
    return format_html(
        '<a href="{}">#{} {}</a>', reverse("compensations:detail", args=[c.pk]), c.pk, c
    )


COLUMNS = (
    Column("id", "Compensation", lambda c: c.pk, "id", html=_link),
    Column("action", "Action", lambda c: c.get_action_display(), "action"),
    Column(
        "state",
        "State",
        lambda c: c.get_state_display(),
        "state",
        html=lambda c: format_html(
            '<span class="badge {}">{}</span>', c.badge, c.get_state_display()
        ),
    ),
    Column("system", "System", lambda c: c.system.slug),
    Column("external_id", "Record there", lambda c: f"{c.record_kind} {c.external_id}"),
    Column("business_key", "Business key", lambda c: c.business_key, "business_key"),
    Column(
        "amount",
        "Amount",
        lambda c: money(c.amount, c.currency),
        "amount",
        numeric=True,
        data_class=DataClass.PRICING,
    ),
    Column("created_at", "Proposed", lambda c: c.created_at, "created_at"),
)


@login_required
@require_GET
def compensation_index(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "proposed")
    states = next((t[2] for t in TABS if t[0] == tab), None)
    queryset = CompensationFilterSet(request.GET, queryset=compensation_list()).qs
    if states is not None:
        queryset = queryset.filter(state__in=states)
    if wants_csv(request):
        rows, _, _ = listing_queryset(
            request, queryset=queryset, columns=COLUMNS, default_sort="-id"
        )
        return csv_response(
            rows=list(rows[:5000]), columns=COLUMNS, filename="compensations.csv", user=request.user
        )
    table = listing(
        request,
        queryset=queryset,
        columns=COLUMNS,
        default_sort="-id",
        search_fields=("business_key", "external_id"),
    )
    counts = {
        key: compensation_list().filter(state__in=tab_states).count() for key, _, tab_states in TABS
    }
    return render(
        request,
        "controltower/compensations/index.html",
        {
            "table": table,
            "tab": tab,
            "tabs": [(key, label, counts[key]) for key, label, _ in TABS],
        },
    )


def _actions(user: Any, c: Compensation) -> list[tuple[str, str, ReasonForm]]:
    """The actions ``user`` may take on ``c`` now, as (name, button label, its form)."""
    actions = []
    if c.state in REQUESTABLE and user.has_perm(REQUEST):
        label = "Ask for approval" if c.moves_money else "Execute"
        actions.append(("execute", label, ReasonForm(prefix="execute")))
    if c.state == CompensationState.AWAITING_APPROVAL and user.has_perm(APPROVE):
        actions.append(("approve", "Approve and execute", ReasonForm(prefix="approve")))
    if c.state in OPEN_COMPENSATION_STATES and user.has_perm(APPROVE if c.moves_money else REQUEST):
        actions.append(("reject", "Reject", ReasonForm(prefix="reject")))
    return actions


def _detail_context(request: HttpRequest, c: Compensation, **extra: Any) -> dict[str, Any]:
    pricing = field_visible(model=Compensation, field="amount", user=request.user)
    return {
        "c": c,
        "amount": money(c.amount, c.currency) if pricing else ("hidden" if c.amount else ""),
        "details": {key: value for key, value in c.details.items() if pricing or key != "rate"},
        "actions": _actions(request.user, c),
        "source_url": transaction_url(c.source_transaction_id) if c.source_transaction_id else "",
        "execution_url": transaction_url(c.execution_id) if c.execution_id else "",
        **extra,
    }


@login_required
@require_GET
def compensation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    c = get_object_or_404(compensation_list(), pk=pk)
    return render(request, "controltower/compensations/detail.html", _detail_context(request, c))


@login_required
@require_POST
def compensation_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Executes, approves or rejects; htmx swaps the actions card for the outcome."""
    service = ACTIONS.get(action)
    if service is None:
        raise PermissionDenied(f"There is no action {action!r} on a compensation.")
    c = get_object_or_404(compensation_list(), pk=pk)
    done, refusal = "", ""
    try:
        service(
            compensation_id=c.pk,
            actor=request.user,
            reason=request.POST.get(f"{action}-reason", ""),
        )
    except ApplicationError as error:
        refusal = error.message
    else:
        c = compensation_list().get(pk=c.pk)
        done = f"{c}: {c.get_state_display().lower()}."
    context = _detail_context(request, c, done=done, refusal=refusal)
    if request.htmx:
        # 200 either way: the refusal shows where the buttons were.
        return render(request, "controltower/compensations/partials/_actions.html", context)
    if refusal:
        messages.error(request, refusal)
    else:
        messages.success(request, done)
    return redirect("compensations:detail", c.pk)
