"""Systems and flows: each connected system's health and each flow's queues, with pause and
resume for admins (the same ``flow_pause`` / ``flow_resume`` services as the API)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from canonical.errors import ApplicationError
from controltower.operations.services import actions
from controltower.web.forms.actions import BreakerForm, FlowToggleForm
from controltower.web.pages.common import percent, require
from controltower.web.pages.lists import Column, csv_response
from integrations.choices import BreakerState, TransactionState
from integrations.models import ConnectedSystem, Flow
from integrations.selectors.health import (
    QUEUE_STATES,
    Rate,
    SystemHealth,
    flows_health,
    systems_health,
)
from integrations.selectors.routing import erp_ownership

VIEW = "integrations.view_connectedsystem"
PAUSE = "integrations.pause_flow"
BREAKER = "integrations.operate_circuitbreaker"
CHANGE_SYSTEM = "integrations.change_connectedsystem"
QUEUE_HEADINGS = {
    TransactionState.RECEIVED: "Waiting",
    TransactionState.RETRY_SCHEDULED: "Retrying",
    TransactionState.DEAD: "Dead letters",
    TransactionState.BLOCKED: "Blocked",
}
# Freshness: a system silent for longer than this is flagged (it may be down, or idle).
QUIET_AFTER_HOURS = 24


def _rate_text(rate: Rate) -> str:
    if not rate.total:
        return "no traffic"
    return f"{rate.failed} of {rate.total} ({percent(rate.share)})"


SYSTEM_COLUMNS = (
    Column("slug", "System", lambda h: h.system.slug),
    Column("name", "Name", lambda h: h.system.name),
    Column("kind", "Kind", lambda h: h.system.get_kind_display()),
    Column("enabled", "Enabled", lambda h: h.system.enabled),
    Column(
        "inbound_requests_per_minute",
        "Inbound requests per minute (0: no limit)",
        lambda h: h.system.inbound_requests_per_minute,
    ),
    Column("last_success", "Last success", lambda h: h.last_success),
    Column("errors_1h", "Failed in the last hour", lambda h: _rate_text(h.rate_1h)),
    Column("errors_24h", "Failed in the last 24 h", lambda h: _rate_text(h.rate_24h)),
    Column("retrying", "Retrying", lambda h: h.retrying),
    Column("breaker", "Breaker", lambda h: h.breaker.state if h.breaker is not None else "closed"),
    Column("waiting", "Waiting for it", lambda h: h.waiting),
)
ROUTES = "integrations.change_erproute"
FLOW_COLUMNS = (
    Column("kind", "Flow", lambda f: f.flow.kind),
    Column("name", "Name", lambda f: f.flow.name),
    Column("paused", "Paused", lambda f: f.flow.paused),
    *(
        Column(state.value, state.label, lambda f, s=state.value: f.queues[s])
        for state in QUEUE_STATES
    ),
    Column("errors_1h", "Failed attempts, last hour", lambda f: _rate_text(f.rate_1h)),
    Column("errors_24h", "Failed attempts, last 24 h", lambda f: _rate_text(f.rate_24h)),
)


def _transactions_url(item: SystemHealth) -> str:
    """The explorer filtered to what a system sent (index-backed); for a system the tower only
    writes to, the work aimed at it (re-pushes)."""
    name = "target_system" if item.outbound and not item.inbound_24h.total else "source_system"
    return f"{reverse('transactions:list')}?{urlencode({name: item.system.slug})}"


def _queue_links(flow: Flow, queues: dict[str, int]) -> list[dict[str, Any]]:
    base = reverse("transactions:list")
    return [
        {
            "state": state,
            "label": TransactionState(state).label,
            "short": QUEUE_HEADINGS[state],
            "count": queues[state],
            "url": f"{base}?{urlencode({'flow': flow.kind, 'state': state})}",
        }
        for state in QUEUE_STATES
    ]


@login_required
@require_GET
def systems_list(request: HttpRequest) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    now = timezone.now()
    systems = systems_health(now=now)
    flows = flows_health(now=now)
    export = request.GET.get("export")
    if export == "systems":
        return csv_response(rows=systems, columns=SYSTEM_COLUMNS, filename="systems.csv")
    if export == "flows":
        return csv_response(rows=flows, columns=FLOW_COLUMNS, filename="flows.csv")
    quiet_before = now - timedelta(hours=QUIET_AFTER_HOURS)
    ownership = erp_ownership(item.system for item in systems)
    rows = [
        {
            "health": item,
            "quiet": item.last_success is None or item.last_success < quiet_before,
            "rate_1h": _rate_text(item.rate_1h),
            "rate_24h": _rate_text(item.rate_24h),
            "share_1h": item.rate_1h.share,
            "transactions_url": _transactions_url(item),
            "erp_owns": ownership.get(item.system.pk, ""),
        }
        for item in systems
    ]
    flow_rows = [
        {
            "health": item,
            "queues": _queue_links(item.flow, item.queues),
            "rate_1h": _rate_text(item.rate_1h),
            "rate_24h": _rate_text(item.rate_24h),
            "share_1h": item.rate_1h.share,
        }
        for item in flows
    ]
    return render(
        request,
        "integrations/systems/list.html",
        {
            "systems": rows,
            "flows": flow_rows,
            "can_pause": request.user.has_perm(PAUSE),
            "can_operate_breaker": request.user.has_perm(BREAKER),
            "can_change_system": request.user.has_perm(CHANGE_SYSTEM),
            "can_route": request.user.has_perm(ROUTES),
            "generated_at": now,
            "quiet_hours": QUIET_AFTER_HOURS,
        },
    )


def _toggle(request: HttpRequest, kind: str, *, pause: bool) -> HttpResponse:
    require(request, PAUSE, "Only an admin may pause or resume a flow.")
    flow = get_object_or_404(Flow, kind=kind)
    form = FlowToggleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reason is too long; nothing changed.")
        return redirect("systems:list")
    service = actions.flow_pause if pause else actions.flow_resume
    try:
        flow = service(flow=flow, actor=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("systems:list")
    if pause:
        messages.success(
            request, f"Paused {flow.name}: events are stored and wait until it is resumed."
        )
    else:
        messages.success(request, f"Resumed {flow.name}: what waited is being processed.")
    return redirect(f"{reverse('systems:list')}#flow-{flow.kind}")


@login_required
@require_POST
def flow_pause(request: HttpRequest, kind: str) -> HttpResponse:
    return _toggle(request, kind, pause=True)


@login_required
@require_POST
def flow_resume(request: HttpRequest, kind: str) -> HttpResponse:
    return _toggle(request, kind, pause=False)


@login_required
@require_POST
def system_breaker(request: HttpRequest, slug: str) -> HttpResponse:
    """Opens or closes a system's circuit breaker by hand, as the API's breaker action does."""
    require(request, BREAKER, "Only an operator may open or close a system's breaker.")
    system = get_object_or_404(ConnectedSystem, slug=slug)
    form = BreakerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether to open or close it; nothing changed.")
        return redirect("systems:list")
    state = form.cleaned_data["state"]
    try:
        actions.breaker_operate(
            system_id=system.pk, state=state, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("systems:list")
    if state == BreakerState.OPEN:
        messages.success(
            request,
            f"The tower stopped calling {system.name}; work that needs it waits until you close "
            "its breaker.",
        )
    else:
        messages.success(
            request, f"The tower calls {system.name} again; the work that waited goes out first."
        )
    return redirect(f"{reverse('systems:list')}#system-{system.slug}")
