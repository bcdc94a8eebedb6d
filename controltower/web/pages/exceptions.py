"""Exception queues: my queue, my team's, all; bulk actions with progress; one exception's page.

Everyone signed in may look. Working an exception (assign, snooze, resolve, dismiss,
reopen, bulk actions) needs the operator role, approving what an exception holds the
approver role; a POST from anyone else gets 403. Every action goes through the same
service as the API, and a refusal is shown on the page with its status code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from canonical.classification import DataClass
from canonical.errors import ApplicationError
from canonical.formats import money_text
from canonical.models import Customer, LegalEntity
from controltower.operations.choices import SLA_STATE_BADGES, BulkAction, BulkStatus, SlaState
from controltower.operations.filtersets import ME, BusinessExceptionFilterSet
from controltower.operations.models import AuditEvent, BulkOperation, BusinessException, Team
from controltower.operations.selectors.approvals import amendment_conflict_view, edited_replay_view
from controltower.operations.selectors.data_access import value_mask
from controltower.operations.selectors.exceptions import (
    QUEUE_TABS,
    exception_queue,
    exception_queue_counts,
    exception_sla_states,
    fix_link_for,
    link_candidates,
    may_open,
    record_url,
    reverse_or_empty,
    transaction_url,
)
from controltower.operations.selectors.fixes import (
    FINANCE,
    FIX_BILLING_CODE,
    FIX_RATE,
    FIX_RECHECK,
    tower_fix_of,
)
from controltower.operations.selectors.reconciliation import (
    DRIFT_ACTION_PERMISSION,
    drift_action_of,
)
from controltower.operations.services.actions import exception_record_pick
from controltower.operations.services.approvals import exception_approve, exception_reject
from controltower.operations.services.bulk import MAX_ITEMS, bulk_operation_start
from controltower.operations.services.exceptions import (
    exception_assign,
    exception_comment,
    exception_dismiss,
    exception_reopen,
    exception_resolve,
    exception_snooze,
)
from controltower.operations.services.fixes import (
    exception_fix_billing_code,
    exception_fix_rate,
    exception_fix_recheck,
)
from controltower.web.forms.config import DateTimeLocalInput, NoColon
from controltower.web.pages.lists import (
    Column,
    csv_response,
    listing,
    listing_queryset,
    page_filter_form,
    wants_csv,
)
from controltower.web.pages.saved_views import saved_views_context
from controltower.web.templatetags.tower import relative
from integrations.choices import OPEN_STATUSES, SEVERITY_BADGES, ExceptionType, Severity
from integrations.exception_types import APPROVAL_TYPES
from integrations.selectors.compensations import compensation_list
from integrations.services.sync import link_pick_of

WORK = "controltower.work_businessexception"
COMMENT = "controltower.add_exceptioncomment"
BULK = "controltower.add_bulkoperation"
APPROVE = "controltower.approve_businessexception"
PAGE = "exceptions:list"
HELD_ROWS = 50
HISTORY_ROWS = 20
CHOICE_LIMIT = 300

LABELS = {
    "status": "Status",
    "exception_type": "Type",
    "severity": "Severity",
    "flow": "Flow",
    "team": "Team",
    "assignee": "Assignee (username, or me)",
    "unassigned": "Nobody holds it",
    "no_team": "No team owns it",
    "snoozed": "Snoozed",
    "customer": "Customer number",
    "contract": "Contract number",
    "project": "Project code",
    "legal_entity": "Legal entity code",
    "money_min": "Money at risk at least",
    "sla_due_before": "SLA due before",
    "created_after": "Raised at or after",
    "created_before": "Raised before",
}
FILTERS = tuple(LABELS)


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        if permission in (FIX_RATE, FIX_BILLING_CODE):
            raise PermissionDenied(f"This fix needs {FINANCE}.")
        raise PermissionDenied("Your role may look at exceptions but not work them.")


def money(amount: Decimal | None, currency: str = "") -> str:
    if amount is None:
        return ""
    return money_text(amount, currency)


# The words a person reads for the keys the engine writes in an exception's details.
DETAIL_LABELS = {
    "code": "Exception code",
    "erp": "In the ERP",
    "tower": "In the tower",
    "erp_hours": "Hours in the ERP",
    "tower_hours": "Hours approved and billed in the tower",
    "erp_id": "ERP record id",
    "erp_ids": "ERP record ids",
    "customer_name": "Customer name",
    "legal_entity": "Legal entity",
    "rate_card": "Rate card",
    "missing_skills": "Skills missing",
    "total_percent": "Allocation (%)",
    "start_date": "Start date",
    "end_date": "End date",
}


def details_shown(details: dict[str, Any]) -> list[tuple[str, Any]]:
    """An exception's details as labelled rows: known keys in words, others with their
    underscores turned to spaces; lists read as comma-separated text."""
    rows = []
    for key, value in details.items():
        label = DETAIL_LABELS.get(key) or key.replace("_", " ").capitalize()
        if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
            value = ", ".join(str(v) for v in value)
        rows.append((label, value))
    return sorted(rows)


def _at_risk(exc: BusinessException, none: str) -> str:
    """The exception's money at risk; ``none`` when it holds up no priced work."""
    return money(exc.money_at_risk, exc.currency) if exc.money_at_risk else none


# --- the queue ------------------------------------------------------------------------------


def _sla_html(exc: BusinessException) -> Any:
    state = getattr(exc, "sla_state", "")
    if exc.sla_due_at is None:
        return format_html('<span class="muted">{}</span>', "none")
    due = format_html(
        '<time datetime="{}" data-relative="{}" title="{}">{}</time>',
        exc.sla_due_at.isoformat(),
        exc.sla_due_at.isoformat(),
        timezone.localtime(exc.sla_due_at).strftime("%d %b %Y %H:%M %Z"),
        relative(exc.sla_due_at),
    )
    if not state:
        return due
    return format_html(
        '{} <span class="badge {}">{}</span>',
        due,
        SLA_STATE_BADGES[SlaState(state)],
        SlaState(state).label,
    )


def _age_html(exc: BusinessException) -> Any:
    return format_html(
        '<time datetime="{}" data-relative="{}" title="Raised {}">{}</time>',
        exc.created_at.isoformat(),
        exc.created_at.isoformat(),
        timezone.localtime(exc.created_at).strftime("%d %b %Y %H:%M %Z"),
        relative(exc.created_at),
    )


def _type_html(exc: BusinessException) -> Any:
    return format_html(
        '{}<div><span class="badge {}">{}</span></div>',
        exc.get_exception_type_display(),
        SEVERITY_BADGES[Severity(exc.severity)],
        exc.get_severity_display(),
    )


def _key_html(exc: BusinessException) -> Any:
    return format_html(
        '<a href="{}">{}</a><div class="muted small clip" title="{}">{}</div>',
        reverse("exceptions:detail", args=[exc.pk]),
        exc.business_key or f"#{exc.pk}",
        exc.message,
        exc.message[:90] + ("…" if len(exc.message) > 90 else ""),
    )


def _status_html(exc: BusinessException) -> Any:
    snoozed = ""
    if exc.is_snoozed:
        snoozed = format_html(
            '<div class="muted small">snoozed until {}</div>',
            timezone.localtime(exc.snoozed_until).strftime("%d %b %H:%M"),
        )
    return format_html(
        '<span class="badge {}">{}</span>{}', exc.status_badge, exc.get_status_display(), snoozed
    )


def _checkbox_html(exc: BusinessException) -> Any:
    return format_html(
        '<input type="checkbox" name="ids" value="{}" form="bulk-form" aria-label="Select {}">',
        exc.pk,
        exc.business_key or f"exception {exc.pk}",
    )


SELECT_ALL = mark_safe(
    '<input type="checkbox" data-select-all="ids" aria-label="Select every row on this page">'
)

COLUMNS = (
    Column(
        "type", "Type", lambda e: e.get_exception_type_display(), "exception_type", html=_type_html
    ),
    Column("severity", "Severity", lambda e: e.get_severity_display(), table=False),
    Column("business_key", "Business key", lambda e: e.business_key, "business_key", _key_html),
    Column("message", "Message", lambda e: e.message, table=False),
    Column(
        "customer",
        "Customer",
        lambda e: e.customer.number if e.customer else "",
        "customer__number",
        html=lambda e: format_html(
            '{}<div class="muted small">{}</div>', e.customer.number, e.customer.name
        )
        if e.customer
        else "",
    ),
    Column("team", "Team", lambda e: e.team.name if e.team else "", "team__name"),
    Column(
        "assignee",
        "Assignee",
        lambda e: e.assignee.get_username() if e.assignee else "",
        "assignee__username",
        html=lambda e: e.assignee.get_username()
        if e.assignee
        else format_html('<span class="muted">{}</span>', "nobody"),
    ),
    Column(
        "money",
        "Money at risk",
        lambda e: e.money_at_risk,
        "money_at_risk",
        html=lambda e: _at_risk(e, "—"),
        numeric=True,
    ),
    Column("currency", "Currency", lambda e: e.currency, table=False),
    Column("sla_due", "SLA due", lambda e: e.sla_due_at, "sla_due_at", html=_sla_html),
    Column("age", "Raised", lambda e: e.created_at, "created_at", html=_age_html),
    Column("occurrences", "Occurrences", lambda e: e.occurrences, table=False),
    # "Seen" in the table: how many times the cause stopped work (the CSV says Occurrences).
    Column("seen", "Seen", lambda e: e.occurrences, "occurrences", numeric=True, csv=False),
    Column("status", "Status", lambda e: e.get_status_display(), "status", html=_status_html),
    Column("waiting_on", "Waiting on", lambda e: e.waiting_on, table=False),
)
SELECT_COLUMN = Column("select", SELECT_ALL, lambda e: "", html=_checkbox_html, csv=False)


def _tab(request: HttpRequest) -> str:
    tab = request.GET.get("tab", "all")
    return tab if tab in QUEUE_TABS else "all"


def queue_data(params: QueryDict) -> QueryDict:
    """The filter values a queue applies: open and awake items unless the query says otherwise."""
    data = params.copy()
    if "status" not in data:
        data.setlist("status", [str(s) for s in OPEN_STATUSES])
    if "snoozed" not in data:
        data["snoozed"] = "false"
    return data


def _filter_form(filterset: BusinessExceptionFilterSet) -> forms.Form:
    form = page_filter_form(
        filterset,
        labels=LABELS,
        exclude=[n for n in filterset.form.fields if n not in FILTERS],
    )
    for name in ("status", "severity", "exception_type"):
        form.fields[name].widget = forms.CheckboxSelectMultiple(choices=form.fields[name].choices)
    flow = form.fields["flow"]
    flow.choices = [("", "Any"), *[(k, v) for k, v in flow.choices if k != ""]]
    form.fields["team"].help_text = ""
    form.fields["assignee"].widget.attrs["list"] = "queue-assignees"
    form.fields["customer"].widget.attrs["list"] = "queue-customers"
    form.fields["legal_entity"].widget.attrs["list"] = "queue-entities"
    form.fields["money_min"].widget.attrs.update(min="0", step="any")
    return form


def _queue(request: HttpRequest) -> tuple[QuerySet, forms.Form, bool, str]:
    tab = _tab(request)
    base = exception_queue(user=request.user, tab=tab)
    filterset = BusinessExceptionFilterSet(queue_data(request.GET), queryset=base, request=request)
    form = _filter_form(filterset)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    filtered = any(name in request.GET for name in FILTERS)
    return queryset, form, filtered, tab


def _attach_sla(objects: list[BusinessException]) -> None:
    states = exception_sla_states(objects)
    for exc in objects:
        exc.sla_state = states.get(exc.pk, "")


def _can_bulk(request: HttpRequest) -> bool:
    return request.user.has_perm(BULK) and request.user.has_perm(WORK)


def _workers() -> QuerySet:
    """People who may be given exceptions: those whose role works them."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(groups__permissions__codename="work_businessexception")
            | Q(user_permissions__codename="work_businessexception")
        )
        .distinct()
        .order_by("username")
    )


BULK_ACTIONS = [
    ("assign_me", "Assign to me"),
    ("assign_person", "Assign to a person"),
    ("assign_team", "Move to a team's queue"),
    ("resolve", "Resolve (re-runs their transactions)"),
    ("dismiss", "Dismiss (cancels their transactions)"),
    ("retry", "Retry their blocked transactions"),
]


class BulkForm(NoColon, forms.Form):
    """One action on the ticked rows, or on everything the queue's filter matches."""

    action = forms.ChoiceField(choices=[("", "Choose an action"), *BULK_ACTIONS], label="Action")
    scope = forms.ChoiceField(
        choices=[
            ("selected", "The rows ticked below"),
            ("filter", "Everything this filter matches"),
        ],
        initial="selected",
        widget=forms.RadioSelect,
        label="Apply to",
    )
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Person",
        empty_label="Choose a person",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, label="Team", empty_label="Choose a team"
    )
    text = forms.CharField(
        required=False,
        max_length=2000,
        label="Resolution or reason",
        help_text="Required to resolve or dismiss; kept in the audit log.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _workers()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        needs = {
            "assign_person": ("assignee", "Choose the person to assign to."),
            "assign_team": ("team", "Choose the team whose queue takes them."),
            "resolve": ("text", "Say how they were resolved."),
            "dismiss": ("text", "Say why they are dismissed."),
        }
        if action in needs:
            field, message = needs[action]
            if not data.get(field):
                self.add_error(field, message)
        if data.get("scope") == "selected" and not self.selected_ids():
            self.add_error(
                "scope", "Tick at least one row, or choose everything this filter matches."
            )
        return data

    def selected_ids(self) -> list[int]:
        ids = []
        for value in self.data.getlist("ids") if hasattr(self.data, "getlist") else []:
            try:
                ids.append(int(value))
            except (TypeError, ValueError):
                continue
        return ids

    def service_arguments(self, user: Any) -> dict[str, Any]:
        """The bulk service's action and params for the chosen action."""
        data = self.cleaned_data
        action, text = data["action"], data.get("text", "").strip()
        if action == "assign_me":
            return {"action": BulkAction.ASSIGN, "params": {"assignee_id": user.pk}}
        if action == "assign_person":
            return {"action": BulkAction.ASSIGN, "params": {"assignee_id": data["assignee"].pk}}
        if action == "assign_team":
            return {"action": BulkAction.ASSIGN, "params": {"team_id": data["team"].pk}}
        if action == "resolve":
            return {"action": BulkAction.RESOLVE, "params": {"resolution": text}}
        if action == "dismiss":
            return {"action": BulkAction.DISMISS, "params": {"reason": text}}
        return {"action": BulkAction.RETRY, "params": {"reason": text or "Bulk retry"}}


def _bulk_selection(request: HttpRequest, form: BulkForm) -> dict[str, Any]:
    """``ids`` of the ticked rows, or, for everything the queue matches, its filter.

    The form posts with the queue's own query string, so "this filter" is exactly what
    the person was looking at. A queue the service's filter can say (a tab of mine or
    all, or one team) goes as a filter, which the operation keeps as its selection; a
    free-text search or several teams go as the ids they match.
    """
    if form.cleaned_data["scope"] == "selected":
        return {"ids": form.selected_ids()}
    params = request.GET
    tab = _tab(request)
    teams = list(request.user.teams.values_list("pk", flat=True)) if tab == "team" else []
    if params.get("q", "").strip() or (tab == "team" and len(teams) != 1):
        queryset, _, _, _ = _queue(request)
        queryset, _, _ = listing_queryset(
            request,
            queryset=queryset,
            columns=COLUMNS,
            default_sort="-money",
            search_fields=SEARCH_FIELDS,
        )
        ids = queryset.filter(status__in=OPEN_STATUSES).values_list("pk", flat=True)
        return {"ids": sorted(ids[: bulk_limit() + 1])}
    data = queue_data(params)
    filters: dict[str, Any] = {}
    for name in FILTERS:
        values = [v for v in data.getlist(name) if v not in ("", "unknown")]
        if values:
            filters[name] = values if name in MULTIPLE else values[0]
    if tab == "mine" or filters.get("assignee") == ME:
        filters["assignee"] = request.user.get_username()
    if tab == "team":
        filters["team"] = teams[0]
    return {"filters": filters}


def bulk_limit() -> int:
    return MAX_ITEMS


MULTIPLE = ("status", "exception_type", "severity")
SEARCH_FIELDS = ("business_key", "message", "waiting_on", "customer__name", "customer__number")


def _list_context(request: HttpRequest, bulk_form: BulkForm | None = None) -> dict[str, Any]:
    queryset, form, filtered, tab = _queue(request)
    can_bulk = _can_bulk(request)
    columns = (SELECT_COLUMN, *COLUMNS) if can_bulk else COLUMNS
    table = listing(
        request,
        queryset=queryset,
        columns=columns,
        default_sort="-money",
        search_fields=SEARCH_FIELDS,
        filtered=filtered,
        prepare=_attach_sla,
    )
    counts = exception_queue_counts(user=request.user)
    keep = request.GET.copy()
    for name in ("tab", "page"):
        keep.pop(name, None)
    tabs = []
    for key, label in QUEUE_TABS.items():
        query = keep.copy()
        query["tab"] = key
        tabs.append(
            {"key": key, "label": label, "count": counts[key], "url": f"?{query.urlencode()}"}
        )
    return {
        "table": table,
        "filter_form": form,
        "filters_active": filtered,
        "tab": tab,
        "tab_label": QUEUE_TABS[tab],
        "tabs": tabs,
        "in_a_team": request.user.teams.exists() if tab == "team" else True,
        "can_bulk": can_bulk,
        "bulk_form": bulk_form or (BulkForm() if can_bulk else None),
        "assignee_names": [ME, *_workers().values_list("username", flat=True)[:CHOICE_LIMIT]],
        "customers": Customer.objects.order_by("number").values_list("number", "name")[
            :CHOICE_LIMIT
        ],
        "entities": LegalEntity.objects.order_by("code").values_list("code", "name")[:CHOICE_LIMIT],
        **saved_views_context(request, page=PAGE),
    }


@login_required
@require_GET
def exception_list(request: HttpRequest) -> HttpResponse:
    if wants_csv(request):
        queryset, _, _, tab = _queue(request)
        queryset, _, _ = listing_queryset(
            request,
            queryset=queryset,
            columns=COLUMNS,
            default_sort="-money",
            search_fields=SEARCH_FIELDS,
        )
        return csv_response(
            rows=queryset.iterator(chunk_size=500),
            columns=COLUMNS,
            filename=f"exceptions-{tab}.csv",
        )
    return render(request, "controltower/exceptions/list.html", _list_context(request))


@login_required
@require_POST
def exception_bulk_start(request: HttpRequest) -> HttpResponse:
    if not _can_bulk(request):
        raise PermissionDenied("Bulk actions need the operator role.")
    form = BulkForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            operation = bulk_operation_start(
                actor=request.user,
                **_bulk_selection(request, form),
                **form.service_arguments(request.user),
            )
        except ApplicationError as error:
            form.add_error(None, error.message)
            status = error.status_code
        else:
            return redirect("exceptions:bulk", operation.pk)
    # The form posts with the queue's query string: show that queue, the problem on top.
    context = _list_context(request, bulk_form=form)
    return render(request, "controltower/exceptions/list.html", context, status=status)


@login_required
@require_GET
def exception_bulk_progress(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_object_or_404(BulkOperation.objects.select_related("requested_by"), pk=pk)
    context = {
        "operation": operation,
        "finished": operation.status in (BulkStatus.DONE, BulkStatus.FAILED),
        "refused": operation.errors[:200],
        "action_label": _bulk_label(operation),
        "queue_url": _queue_url(operation),
    }
    template = (
        "controltower/exceptions/_bulk_progress.html"
        if request.htmx
        else "controltower/exceptions/bulk.html"
    )
    return render(request, template, context)


def _bulk_label(operation: BulkOperation) -> str:
    if operation.action == BulkAction.ASSIGN:
        params = operation.params
        if params.get("assignee_id"):
            user = get_user_model().objects.filter(pk=params["assignee_id"]).first()
            return f"Assign to {user.get_username()}" if user else "Assign"
        team = Team.objects.filter(pk=params.get("team_id")).first()
        return f"Move to {team.name}" if team else "Move to a team"
    return operation.get_action_display()


def _queue_url(operation: BulkOperation) -> str:
    base = reverse(PAGE)
    selection = operation.selection or {}
    if selection.get("filter"):
        query = QueryDict(mutable=True)
        for name, value in selection["filter"].items():
            if isinstance(value, list):
                query.setlist(name, [str(v) for v in value])
            else:
                query[name] = str(value)
        return f"{base}?{query.urlencode()}"
    return base


# --- one exception --------------------------------------------------------------------------


class AssignForm(NoColon, forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="Person",
        empty_label="Nobody (the team's queue)",
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.all(), required=False, label="Team", empty_label="Keep the team"
    )
    reason = forms.CharField(required=False, max_length=500, label="Why (optional)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _workers()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("assignee") and not data.get("team"):
            raise forms.ValidationError("Choose a person, a team or both.")
        return data


class CommentForm(NoColon, forms.Form):
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class SnoozeForm(NoColon, forms.Form):
    until = forms.DateTimeField(
        label="Snooze until",
        widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        help_text="In your time zone. It comes back to the queue then.",
    )
    reason = forms.CharField(required=False, max_length=500, label="Why (optional)")


class ResolveForm(NoColon, forms.Form):
    resolution = forms.CharField(
        label="Resolution",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text="What was fixed. Its transactions run again.",
    )


class LinkPickForm(NoColon, forms.Form):
    key = forms.CharField(
        label="The record it is",
        max_length=100,
        help_text="Its business key; the link is remembered.",
        widget=forms.TextInput(attrs={"list": "link-candidates", "autocomplete": "off"}),
    )


class RateForm(NoColon, forms.Form):
    rate = forms.DecimalField(
        label="Hourly rate",
        min_value=0,
        max_digits=12,
        decimal_places=2,
        help_text="In the rate card's currency. The work that waits for it runs again.",
    )


TARGETS = {"customer": "The bill-to customer", "contract": "The contract"}


class BillingCodeForm(NoColon, forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=40,
        widget=forms.TextInput(attrs={"list": "accepted-codes", "autocomplete": "off"}),
        help_text="One the legal entity's ERP accepts (the list below).",
    )
    target = forms.ChoiceField(
        label="Set it on",
        choices=list(TARGETS.items()),
        widget=forms.RadioSelect,
        help_text="A contract's code goes before its customer's.",
    )


class ReasonForm(NoColon, forms.Form):
    reason = forms.CharField(
        label="Reason", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class OptionalReasonForm(NoColon, forms.Form):
    reason = forms.CharField(
        required=False,
        label="Note (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


def _assign(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    data = form.cleaned_data
    exception_assign(
        exception_id=exc.pk,
        actor=request.user,
        assignee_id=data["assignee"].pk if data.get("assignee") else None,
        team_id=data["team"].pk if data.get("team") else None,
        reason=data.get("reason", ""),
    )
    who = data["assignee"].get_username() if data.get("assignee") else data["team"].name
    return f"Assigned to {who}."


def _take(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_assign(exception_id=exc.pk, actor=request.user, assignee_id=request.user.pk)
    return "Assigned to you."


def _comment(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_comment(exception_id=exc.pk, actor=request.user, body=form.cleaned_data["body"])
    return "Comment added."


def _snooze(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    until = form.cleaned_data["until"]
    exception_snooze(
        exception_id=exc.pk, actor=request.user, until=until, reason=form.cleaned_data["reason"]
    )
    return f"Snoozed until {timezone.localtime(until):%d %b %Y %H:%M}."


def _wake(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_snooze(exception_id=exc.pk, actor=request.user, until=None)
    return "Back in the queue now."


def _resolve(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_resolve(
        exception_id=exc.pk, actor=request.user, resolution=form.cleaned_data["resolution"]
    )
    held = exc.transactions.count()
    return f"Resolved. {held} held transaction(s) sent to run again." if held else "Resolved."


def _link(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    state = exception_record_pick(
        exception_id=exc.pk, actor=request.user, key=form.cleaned_data["key"]
    )
    return (
        f"Linked {state.system.name} id {state.external_id}; the work that waited for it runs "
        "again, and later work with the id runs at once."
    )


def _fix_rate(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    held = exc.transactions.count()
    exception_fix_rate(exception_id=exc.pk, actor=request.user, rate=form.cleaned_data["rate"])
    return f"Rate added. {held} held transaction(s) sent to run again."


def _fix_code(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    held = exc.transactions.count()
    data = form.cleaned_data
    exception_fix_billing_code(
        exception_id=exc.pk, actor=request.user, code=data["code"], target=data["target"]
    )
    return f"Code set. {held} held transaction(s) sent to run again."


def _recheck(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    held = exc.transactions.count()
    if exception_fix_recheck(exception_id=exc.pk, actor=request.user):
        return f"It is there now. {held} held transaction(s) sent to run again."
    return f"Still missing: {exc.waiting_on}. Nothing ran; fix it where it lives first."


def _dismiss(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_dismiss(exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"])
    return "Dismissed; its held transactions were cancelled."


def _reopen(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_reopen(exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"])
    return "Reopened."


def _approve(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_approve(exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"])
    return "Approved; what it held runs now."


def _reject(request: HttpRequest, exc: BusinessException, form: forms.Form) -> str:
    exception_reject(exception_id=exc.pk, actor=request.user, reason=form.cleaned_data["reason"])
    return "Rejected; what it held was cancelled."


class _NoFields(forms.Form):
    pass


# action → (form, permission, service call)
ACTIONS: dict[str, tuple[type[forms.Form], str, Any]] = {
    "take": (_NoFields, WORK, _take),
    "assign": (AssignForm, WORK, _assign),
    "comment": (CommentForm, COMMENT, _comment),
    "snooze": (SnoozeForm, WORK, _snooze),
    "wake": (_NoFields, WORK, _wake),
    "resolve": (ResolveForm, WORK, _resolve),
    "link": (LinkPickForm, WORK, _link),
    "fix_rate": (RateForm, FIX_RATE, _fix_rate),
    "fix_code": (BillingCodeForm, FIX_BILLING_CODE, _fix_code),
    "recheck": (_NoFields, FIX_RECHECK, _recheck),
    "dismiss": (ReasonForm, WORK, _dismiss),
    "reopen": (ReasonForm, WORK, _reopen),
    "approve": (OptionalReasonForm, APPROVE, _approve),
    "reject": (ReasonForm, APPROVE, _reject),
}


def _detail_context(
    request: HttpRequest,
    exc: BusinessException,
    *,
    bound: tuple[str, forms.Form] | None = None,
    refusal: ApplicationError | None = None,
) -> dict[str, Any]:
    user = request.user
    forms_by_action: dict[str, forms.Form] = {
        "assign": AssignForm(
            initial={"assignee": exc.assignee_id, "team": exc.team_id}, prefix="assign"
        ),
        "comment": CommentForm(prefix="comment"),
        "snooze": SnoozeForm(prefix="snooze"),
        "resolve": ResolveForm(prefix="resolve"),
        "link": LinkPickForm(prefix="link"),
        "dismiss": ReasonForm(prefix="dismiss"),
        "reopen": ReasonForm(prefix="reopen"),
        "approve": OptionalReasonForm(prefix="approve"),
        "reject": ReasonForm(prefix="reject"),
        "fix_rate": RateForm(prefix="fix_rate"),
        "fix_code": BillingCodeForm(prefix="fix_code"),
    }
    tower_fix = tower_fix_of(exc)
    if tower_fix is not None and tower_fix.action == "billing_code":
        forms_by_action["fix_code"].initial = {"target": tower_fix.facts["target"]}
        if tower_fix.facts["contract"] is None:
            forms_by_action["fix_code"].fields["target"].choices = [
                ("customer", TARGETS["customer"])
            ]
    if bound is not None and bound[0] in forms_by_action:
        forms_by_action[bound[0]] = bound[1]
    if pick := link_pick_of(exc) if exc.is_open else None:
        forms_by_action["link"].fields[
            "key"
        ].help_text = f"Its {pick.key_label}; the link is remembered."
    held = list(exc.transactions.select_related("flow").order_by("-pk")[:HELD_ROWS])
    for tx in held:
        tx.url = transaction_url(tx.pk)
    is_approval = exc.exception_type in APPROVAL_TYPES
    can_work = user.has_perm(WORK)
    can_approve = user.has_perm(APPROVE)
    record = exc.record if exc.record_id else None
    details = dict(exc.details or {})
    # A drift lists the reconciliation runs that found it: shown as links, not raw ids.
    seen_by = details.pop("seen_by", [])
    context: dict[str, Any] = {
        "exc": exc,
        # What the engine proposed to undo after the step these transactions ran half-failed.
        "compensations": list(
            compensation_list().filter(source_transaction__exception_id=exc.pk)[:HELD_ROWS]
        ),
        "forms": forms_by_action,
        "open_action": bound[0] if bound else "",
        "refusal": refusal,
        "money_at_risk": _at_risk(exc, "None: it holds up no priced work"),
        # How it was counted names rates: pricing, as the rates themselves.
        "money_note": value_mask(exc.money_note, data_class=DataClass.PRICING, user=user),
        "details": details_shown(details),
        "found_by": [(pk, reverse_or_empty("reconciliation:run", pk)) for pk in seen_by[-10:]],
        "found_by_count": len(seen_by),
        "fix": fix_link_for(exc, user),
        "tower_fix": tower_fix,
        "can_fix": tower_fix is not None and user.has_perm(tower_fix.permission),
        "link_pick": pick,
        "link_candidates": link_candidates(exc) if exc.is_open and can_work else [],
        "record": record,
        "record_url": _openable(record_url(record), user),
        "drift_action": drift_action_of(exc),
        "can_act_on_drift": user.has_perm(DRIFT_ACTION_PERMISSION),
        "customer_url": _openable(record_url(exc.customer), user),
        "legal_entity_url": _openable(record_url(exc.legal_entity), user),
        "held": held,
        "held_count": exc.transactions.count(),
        "held_more": max(0, exc.transactions.count() - len(held)),
        "comments": list(exc.comments.select_related("author")),
        "breaches": _breaches(exc),
        "sla_state": exception_sla_states([exc]).get(exc.pk, ""),
        "history": AuditEvent.objects.filter(
            object_type=exc._meta.label_lower, object_id=str(exc.pk)
        ).order_by("-at", "-id")[:HISTORY_ROWS],
        "history_query": f"object_type={exc._meta.label_lower}&object_id={exc.pk}",
        "is_approval": is_approval,
        "can_work": can_work and exc.is_open,
        "can_reopen": can_work and not exc.is_open,
        "can_resolve": can_work and exc.is_open and not is_approval,
        "can_comment": user.has_perm(COMMENT),
        "can_approve": can_approve and exc.is_open and is_approval,
        "prepared_by_me": exc.prepared_by_id is not None and exc.prepared_by_id == user.pk,
        "assigned_to_me": exc.assignee_id == user.pk,
    }
    if exc.exception_type == ExceptionType.AMENDMENT_CONFLICT:
        context["amendment"] = amendment_conflict_view(exc, user=request.user)
    elif exc.exception_type == ExceptionType.EDITED_REPLAY:
        context["replay"] = edited_replay_view(exc)
        for key in ("original", "replay"):
            tx = context["replay"][key]
            if tx is not None:
                tx.url = transaction_url(tx.pk)
    return context


def _openable(url: str, user: Any) -> str:
    """``url``, or "" when it is an admin page ``user`` may not open (shown as plain text)."""
    return url if may_open(url, user) else ""


def _breaches(exc: BusinessException) -> list[Any]:
    breaches = list(exc.sla_breaches.select_related("policy").order_by("-due_at"))
    for breach in breaches:
        breach.badge = SLA_STATE_BADGES[SlaState(breach.state)]
        # A breach under a policy that no longer times it (an admin re-judged) is history.
        breach.superseded = bool(exc.sla_policy_id) and breach.policy_id != exc.sla_policy_id
    return breaches


def _exception(pk: int) -> BusinessException:
    return get_object_or_404(
        BusinessException.objects.select_related(
            "team",
            "assignee",
            "customer",
            "legal_entity",
            "prepared_by",
            "resolved_by",
            "record_type",
            "sla_policy",
        ),
        pk=pk,
    )


@login_required
@require_GET
def exception_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exc = _exception(pk)
    return render(request, "controltower/exceptions/detail.html", _detail_context(request, exc))


@login_required
@require_POST
def exception_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404(f"No action {action!r}.")
    form_class, permission, call = ACTIONS[action]
    _require(request, permission)
    exc = _exception(pk)
    form = form_class(request.POST, prefix=action if form_class is not _NoFields else None)
    if form.is_valid():
        try:
            done = call(request, exc, form)
        except ApplicationError as error:
            for name, problems in error.errors.items():
                if name in form.fields:
                    for problem in problems:
                        form.add_error(name, problem)
            context = _detail_context(request, _exception(pk), bound=(action, form), refusal=error)
            return render(
                request, "controltower/exceptions/detail.html", context, status=error.status_code
            )
        messages.success(request, done)
        return redirect("exceptions:detail", pk)
    context = _detail_context(request, exc, bound=(action, form))
    return render(request, "controltower/exceptions/detail.html", context, status=400)
