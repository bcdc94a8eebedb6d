"""A system's pollers: each with its last run, lag, errors and count; an admin changes how
one runs, an operator runs one now. The same ``poller_change`` / ``poller_run_now``
services as the API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from canonical.errors import ApplicationError
from controltower.operations.services.pollers import poller_change, poller_run_now
from controltower.web.forms.actions import PollerForm, ReasonForm
from controltower.web.pages.common import require
from controltower.web.pages.systems import VIEW
from integrations.choices import POLLER_RUN_OUTCOME_BADGES, PollerRecordType
from integrations.models import ConnectedSystem, Poller
from integrations.pollers import source_kinds

CHANGE = "integrations.change_poller"
RUN = "integrations.run_poller"
FIELDS = ("enabled", "interval_seconds", "overlap_seconds", "page_size")


def _rows(system: ConnectedSystem, invalid: dict[int, PollerForm]) -> list[dict]:
    now = timezone.now()
    return [
        {
            "poller": poller,
            "lag": poller.lag(now),
            "badge": POLLER_RUN_OUTCOME_BADGES[poller.last_outcome],
            "form": invalid.get(poller.pk)
            or PollerForm(
                initial={name: getattr(poller, name) for name in FIELDS},
                prefix=f"p{poller.pk}",
            ),
        }
        for poller in Poller.objects.filter(system=system)
    ]


def _page(
    request: HttpRequest, system: ConnectedSystem, invalid: dict | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "integrations/systems/pollers.html",
        {
            "system": system,
            "rows": _rows(system, invalid or {}),
            "offered": [
                PollerRecordType(record_type).label
                for kind, adapter, record_type in source_kinds()
                if (kind, adapter) == (system.kind, system.adapter)
            ],
            "can_change": request.user.has_perm(CHANGE),
            "can_run": request.user.has_perm(RUN),
        },
        status=status,
    )


@login_required
@require_GET
def system_pollers(request: HttpRequest, slug: str) -> HttpResponse:
    require(request, VIEW, "Your role may not read the systems.")
    return _page(request, get_object_or_404(ConnectedSystem, slug=slug))


@login_required
@require_POST
def system_poller_change(request: HttpRequest, slug: str, poller_id: int) -> HttpResponse:
    require(request, CHANGE, "Only an admin may change a poller.")
    poller = get_object_or_404(
        Poller.objects.select_related("system"), pk=poller_id, system__slug=slug
    )
    form = PollerForm(request.POST, prefix=f"p{poller.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            poller_change(
                poller_id=poller.pk,
                actor=request.user,
                changes={name: data[name] for name in FIELDS},
                reason=data["reason"],
            )
        except ApplicationError as error:
            form.add_application_error(error)
        else:
            messages.success(request, f"Saved the {poller}.")
            return redirect("systems:pollers", slug=slug)
    return _page(request, poller.system, invalid={poller.pk: form}, status=400)


@login_required
@require_POST
def system_poller_run(request: HttpRequest, slug: str, poller_id: int) -> HttpResponse:
    require(request, RUN, "Only an operator or an admin may run a poller.")
    poller = get_object_or_404(Poller, pk=poller_id, system__slug=slug)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        run = poller_run_now(poller_id=poller.pk, actor=request.user, reason=reason)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if run.ok:
            messages.success(
                request,
                f"The {poller} read {run.received} records: {run.stored} new, "
                f"{run.received - run.stored - run.refused} already stored, {run.refused} refused.",
            )
        else:
            messages.error(request, f"The {poller} failed: {run.error}")
    return redirect("systems:pollers", slug=slug)
