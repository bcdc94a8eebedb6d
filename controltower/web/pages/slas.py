"""The SLA page: policies, what is at risk or breached now, the breach history and notifications.

Read-only for every role: breaches are written by the SLA sweep and notifications by
their delivery; policies are changed on the configuration pages.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET

from controltower.operations.choices import SLA_STATE_BADGES, NotificationStatus, SlaState
from controltower.operations.filtersets import NotificationFilterSet, SlaBreachFilterSet
from controltower.operations.models import Notification, SlaBreach, SlaPolicy
from controltower.operations.selectors.exceptions import reverse_or_empty, transaction_url
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

NOTIFICATION_BADGES = {
    NotificationStatus.PENDING: "info",
    NotificationStatus.HELD: "secondary",
    NotificationStatus.SENT: "success",
    NotificationStatus.FAILED: "danger",
}
SECTIONS = {
    "slas:index": "At risk and breached now",
    "slas:history": "Breach history",
    "slas:notifications": "Notifications",
}


def _minutes(value: int) -> str:
    hours, minutes = divmod(value, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" if not minutes else f"{hours} h {minutes} min"


def _policy_link(policy: SlaPolicy) -> Any:
    url = reverse_or_empty("config:edit", "sla-policies", policy.pk)
    return format_html('<a href="{}">{}</a>', url, policy.name) if url else policy.name


def _item_text(breach: SlaBreach) -> str:
    if breach.exception_id:
        exc = breach.exception
        return f"Exception {exc.pk}: {exc.get_exception_type_display()} {exc.business_key}"
    tx = breach.transaction
    return f"Transaction {tx.pk}: {tx.event_type} {tx.business_key}"


def _item_html(breach: SlaBreach) -> Any:
    if breach.exception_id:
        exc = breach.exception
        return format_html(
            '<a href="{}">{}</a><div class="muted small">{}</div>',
            reverse("exceptions:detail", args=[exc.pk]),
            exc.business_key or f"Exception {exc.pk}",
            exc.get_exception_type_display(),
        )
    tx = breach.transaction
    url = transaction_url(tx.pk)
    label = tx.business_key or f"Transaction {tx.pk}"
    return format_html(
        '{}<div class="muted small">{} · {}</div>',
        format_html('<a href="{}">{}</a>', url, label) if url else label,
        tx.event_type,
        tx.flow.name if tx.flow_id else "",
    )


def _state_html(breach: SlaBreach) -> Any:
    state = SlaState(breach.state)
    return format_html('<span class="badge {}">{}</span>', SLA_STATE_BADGES[state], state.label)


def _optional_time(value: Any) -> Any:
    return when(value) if value else format_html('<span class="muted">{}</span>', "—")


BREACH_COLUMNS = (
    Column("state", "State", lambda b: b.get_state_display(), "state", html=_state_html),
    Column("item", "Item", _item_text, html=_item_html),
    Column(
        "policy",
        "Policy",
        lambda b: b.policy.name,
        "policy__name",
        html=lambda b: _policy_link(b.policy),
    ),
    Column("team", "Team", lambda b: b.team.name if b.team else "", "team__name"),
    Column("due_at", "Due", lambda b: b.due_at, "due_at"),
    Column(
        "breached_at",
        "Breached",
        lambda b: b.breached_at,
        "breached_at",
        html=lambda b: _optional_time(b.breached_at),
    ),
    Column(
        "escalated_at",
        "Escalated",
        lambda b: b.escalated_at,
        "escalated_at",
        html=lambda b: _optional_time(b.escalated_at),
    ),
    Column("met_at", "Met", lambda b: b.met_at, "met_at", html=lambda b: _optional_time(b.met_at)),
    Column("started_at", "Clock started", lambda b: b.started_at, table=False),
    Column("at_risk_at", "At risk since", lambda b: b.at_risk_at, table=False),
)
OPEN_COLUMNS = tuple(c for c in BREACH_COLUMNS if c.key != "met_at")


def _breaches() -> QuerySet[SlaBreach]:
    return SlaBreach.objects.select_related(
        "policy", "team", "exception", "transaction", "transaction__flow"
    )


def _attempts_html(notification: Notification) -> Any:
    attempts = list(notification.attempts.all())
    if not attempts:
        if notification.attempts_count:
            return str(notification.attempts_count)
        return format_html('<span class="muted">{}</span>', "none yet")
    rows = format_html_join(
        "",
        "<li>#{} {} · {}{}</li>",
        (
            (
                a.number,
                when(a.at, short=True),
                "delivered" if a.ok else "failed",
                f" ({a.status_code})"
                if a.status_code
                else (f": {a.error[:80]}" if a.error else ""),
            )
            for a in attempts
        ),
    )
    return format_html(
        '<details><summary>{} attempt{}</summary><ul class="attempts">{}</ul></details>',
        len(attempts),
        "" if len(attempts) == 1 else "s",
        rows,
    )


def _notification_status(n: Notification) -> Any:
    status = NotificationStatus(n.status)
    return format_html(
        '<span class="badge {}">{}</span>{}',
        NOTIFICATION_BADGES[status],
        status.label,
        format_html('<div class="muted small">{}</div>', n.last_error[:120])
        if n.last_error
        else "",
    )


NOTIFICATION_COLUMNS = (
    Column("created_at", "Created", lambda n: n.created_at, "created_at"),
    Column("kind", "Kind", lambda n: n.get_kind_display(), "kind"),
    Column("team", "Team", lambda n: n.team.name if n.team else "", "team__name"),
    Column(
        "recipient",
        "To",
        lambda n: n.recipient,
        "recipient",
        html=lambda n: format_html(
            '{}<div class="muted small clip">{}</div>', n.get_channel_display(), n.recipient
        ),
    ),
    Column("channel", "Channel", lambda n: n.get_channel_display(), table=False),
    Column("subject", "Subject", lambda n: n.subject),
    Column(
        "status", "Delivery", lambda n: n.get_status_display(), "status", html=_notification_status
    ),
    Column(
        "attempts",
        "Attempts",
        lambda n: n.attempts_count,
        "attempts_count",
        numeric=True,
        csv=True,
        html=_attempts_html,
    ),
    Column(
        "sent_at", "Sent", lambda n: n.sent_at, "sent_at", html=lambda n: _optional_time(n.sent_at)
    ),
    Column("next_attempt_at", "Next try", lambda n: n.next_attempt_at, table=False),
    Column("last_error", "Last error", lambda n: n.last_error, table=False),
)


def _subnav(current: str) -> list[dict[str, Any]]:
    return [
        {"label": label, "url": reverse(name), "current": name == current}
        for name, label in SECTIONS.items()
    ]


def _filtered(
    request: HttpRequest,
    filterset_class: type,
    queryset: QuerySet,
    labels: dict[str, str],
    exclude: tuple[str, ...] = (),
) -> tuple[QuerySet, forms.Form, bool]:
    filterset = filterset_class(request.GET, queryset=queryset, request=request)
    form = page_filter_form(filterset, labels=labels, exclude=exclude)
    for field in form.fields.values():
        field.help_text = ""  # the API's wording (``true: ...``) says nothing to a reader here
        if isinstance(field.widget, forms.SelectMultiple):
            field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
        elif isinstance(field, forms.ChoiceField) and not isinstance(field, forms.NullBooleanField):
            # "Any" for no choice, as on the other filters, not Django's dashes.
            field.choices = [("", "Any"), *[(k, v) for k, v in field.choices if k != ""]]
    valid = filterset.is_valid()
    filtered = any(request.GET.get(name) not in (None, "", "unknown") for name in form.fields)
    return (filterset.qs if valid else queryset.none()), form, filtered


def _csv_or_page(
    request: HttpRequest,
    *,
    queryset: QuerySet,
    columns: tuple[Column, ...],
    default_sort: str,
    filename: str,
    template: str,
    context: dict[str, Any],
    page: str,
    filtered: bool = False,
    search_fields: tuple[str, ...] = (),
) -> HttpResponse:
    if wants_csv(request):
        rows, _, _ = listing_queryset(
            request,
            queryset=queryset,
            columns=columns,
            default_sort=default_sort,
            search_fields=search_fields,
        )
        return csv_response(rows=rows.iterator(chunk_size=500), columns=columns, filename=filename)
    table = listing(
        request,
        queryset=queryset,
        columns=columns,
        default_sort=default_sort,
        filtered=filtered,
        search_fields=search_fields,
    )
    return render(
        request,
        template,
        {
            **context,
            "table": table,
            "subnav": _subnav(page),
            "section_label": SECTIONS[page],
            **saved_views_context(request, page=page),
        },
    )


@login_required
@require_GET
def sla_index(request: HttpRequest) -> HttpResponse:
    """Policies, and every item at risk or breached now, most overdue first."""
    open_now = _breaches().filter(
        met_at__isnull=True, state__in=(SlaState.AT_RISK, SlaState.BREACHED)
    )
    policies = list(
        SlaPolicy.objects.select_related("team").annotate(
            open_breaches=Count(
                "breaches",
                filter=Q(breaches__met_at__isnull=True, breaches__state=SlaState.BREACHED),
            ),
            at_risk=Count(
                "breaches",
                filter=Q(breaches__met_at__isnull=True, breaches__state=SlaState.AT_RISK),
            ),
        )
    )
    for policy in policies:
        policy.url = reverse_or_empty("config:edit", "sla-policies", policy.pk)
        policy.target_text = _minutes(policy.target_minutes)
        policy.escalate_text = _minutes(policy.escalate_after_minutes)
        policy.at_risk_percent = round(policy.at_risk_share * 100)
    counts = {
        row["state"]: row["n"]
        for row in open_now.order_by().values("state").annotate(n=Count("id"))
    }
    return _csv_or_page(
        request,
        queryset=open_now,
        columns=OPEN_COLUMNS,
        default_sort="due_at",
        filename="sla-open.csv",
        template="controltower/slas/index.html",
        page="slas:index",
        context={
            "policies": policies,
            "breached_now": counts.get(SlaState.BREACHED, 0),
            "at_risk_now": counts.get(SlaState.AT_RISK, 0),
            "policies_url": reverse_or_empty("config:list", "sla-policies"),
            "can_configure": request.user.has_perm("controltower.change_slapolicy"),
        },
    )


BREACH_LABELS = {
    "state": "State",
    "policy": "Policy",
    "team": "Team",
    "kind": "Kind",
    "breached_after": "Breached from",
    "breached_before": "Breached until",
    "open": "Still open",
}


@login_required
@require_GET
def sla_history(request: HttpRequest) -> HttpResponse:
    """Every breach the sweep recorded, filtered by state, policy, team and time."""
    queryset, form, filtered = _filtered(
        request,
        SlaBreachFilterSet,
        _breaches(),
        BREACH_LABELS,
        exclude=("exception", "transaction"),
    )
    return _csv_or_page(
        request,
        queryset=queryset,
        columns=BREACH_COLUMNS,
        default_sort="-breached_at",
        filename="sla-breaches.csv",
        template="controltower/slas/history.html",
        page="slas:history",
        filtered=filtered,
        context={"filter_form": form, "filters_active": filtered},
    )


NOTIFICATION_LABELS = {
    "status": "Delivery",
    "channel": "Channel",
    "kind": "Kind",
    "team": "Team",
    "created_after": "Created from",
    "created_before": "Created until",
}


@login_required
@require_GET
def sla_notifications(request: HttpRequest) -> HttpResponse:
    """Messages sent to teams about breaches, with each delivery attempt."""
    queryset, form, filtered = _filtered(
        request,
        NotificationFilterSet,
        Notification.objects.select_related("team").prefetch_related("attempts"),
        NOTIFICATION_LABELS,
        exclude=("breach",),
    )
    return _csv_or_page(
        request,
        queryset=queryset,
        columns=NOTIFICATION_COLUMNS,
        default_sort="-created_at",
        filename="sla-notifications.csv",
        template="controltower/slas/notifications.html",
        page="slas:notifications",
        filtered=filtered,
        search_fields=("recipient", "subject"),
        context={"filter_form": form, "filters_active": filtered},
    )
