"""The record view: one contract, project, resource, time entry or invoice in every system.

Its id in each system, the version each holds against the canonical one, freshness
against the SLA, a field-by-field diff against each system's copy (pricing and personal
data masked for a role that may not see them), and the actions on the record itself:
re-push (``record_repush``) and, for a resource or a project, its link to a time system's
own id (``record_link``).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from canonical.classification import DataClass
from canonical.errors import ApplicationError
from canonical.formats import money_text
from canonical.selectors import contract_term, project_margin
from controltower.operations.selectors.data_access import (
    record_mask,
    value_mask,
    visible_data_classes,
)
from controltower.operations.selectors.sla import record_sla
from controltower.operations.services import actions
from controltower.operations.services.actions import record_link
from controltower.web.forms.actions import (
    ActionForm,
    RecordLinkForm,
    RecordLookupForm,
    RepushForm,
)
from controltower.web.pages.common import require, url_or_blank
from integrations.adapters import adapter_for
from integrations.models import ConnectedSystem
from integrations.selectors.notices import contract_notices
from integrations.selectors.records import (
    RECORD_KINDS,
    FieldDiff,
    RecordKind,
    field_text,
    record_find,
    record_get,
    record_push_targets,
    record_view,
)
from integrations.services.records import record_copies_read
from integrations.services.sync import LINKABLE

REPUSH = "integrations.retry_transaction"
LINK = "controltower.work_businessexception"

FRESHNESS_BADGES = {
    "current": ("Current", "success"),
    "behind": ("Behind", "warning"),
    "ahead": ("Holds a newer version", "info"),
    "unknown": ("Version unknown", "secondary"),
    "missing": ("Not there", "danger"),
}
SLA_BADGES = {
    "within": ("Within SLA", "success"),
    "at_risk": ("SLA at risk", "warning"),
    "breached": ("SLA breached", "danger"),
}


def _kind(kind: str) -> RecordKind:
    found = RECORD_KINDS.get(kind)
    if found is None:
        raise Http404(f"No record view for {kind!r}.")
    return found


def _view_perm(kind: RecordKind) -> str:
    app_label, model = kind.model_path.split(".")
    return f"{app_label}.view_{model.lower()}"


def _link_systems(kind: str) -> list[ConnectedSystem]:
    """Systems that name records of ``kind`` by their own ids (Harvest users and projects,
    Salesforce accounts): such a record is linked to them."""
    systems = []
    for system in ConnectedSystem.objects.order_by("slug"):
        try:
            adapter = adapter_for(system)
        except LookupError:
            continue
        if getattr(adapter, "ref_prefix", "") and kind in getattr(adapter, "ref_kinds", ()):
            systems.append(system)
    return systems


def _record(kind: RecordKind, pk: int) -> Any:
    record = record_get(kind=kind.slug, pk=pk)
    if record is None:
        raise Http404(f"No {kind.label.lower()} {pk}.")
    return record


def _page(
    request: HttpRequest,
    kind: RecordKind,
    record: Any,
    *,
    repush_form: ActionForm | None = None,
    link_form: ActionForm | None = None,
    error: ApplicationError | None = None,
    status: int = 200,
) -> HttpResponse:
    view = record_view(
        record=record,
        remote_copies=record_copies_read(record=record),
        sla=record_sla(kind=kind),
    )
    can_repush = request.user.has_perm(REPUSH) and bool(view.repush_systems)
    link_systems = _link_systems(kind.slug) if kind.slug in LINKABLE else []
    can_link = bool(link_systems) and request.user.has_perm(LINK)
    model = kind.model()
    copies = [
        {
            "copy": copy,
            "compared": _masked_diff(copy.compared, model=model, user=request.user),
            "badge": FRESHNESS_BADGES[copy.freshness.status],
            "sla": SLA_BADGES.get(copy.freshness.sla_state),
            "transaction_url": reverse("transactions:detail", args=[copy.state.last_transaction_id])
            if copy.state is not None and copy.state.last_transaction_id
            else "",
        }
        for copy in view.copies
    ]
    canonical = record_mask(view.canonical, model=model, user=request.user)
    correlation_id = getattr(record, "correlation_id", "") or ""
    if not correlation_id and getattr(record, "contract", None) is not None:
        correlation_id = record.contract.correlation_id
    transactions_url = reverse("transactions:list") + (
        f"?correlation_id={correlation_id}"
        if correlation_id
        else f"?business_key={getattr(record, kind.key_field)}"
    )
    return render(
        request,
        "integrations/records/detail.html",
        {
            "kind": kind,
            "record": record,
            "key": getattr(record, kind.key_field),
            "view": view,
            "name": record_mask(
                {"name": getattr(record, "name", "")}, model=model, user=request.user
            )["name"],
            "canonical_rows": [
                (label, field_text(canonical.get(name))) for name, label in kind.fields
            ],
            "copies": copies,
            "can_repush": can_repush,
            "repush_form": repush_form or RepushForm(systems=view.repush_systems),
            "can_link": can_link,
            "link_form": link_form or RecordLinkForm(systems=link_systems, kind=kind.slug),
            "error": error,
            "transactions_url": transactions_url,
            "projects": [
                (project, reverse("records:detail", args=["project", project.pk]))
                for project in view.projects
            ],
            "billing_terms": view.billing_terms,
            "bill_to_url": reverse(
                "records:detail", args=["customer", view.billing_terms.bill_to.pk]
            )
            if view.billing_terms is not None
            else "",
            "term": _contract_term(record, request.user) if kind.slug == "contract" else None,
            # Revenue, cost and margin are prices: shown to a role that may see them.
            "margin": project_margin(project=record, today=timezone.localdate())
            if kind.slug == "project" and DataClass.PRICING in visible_data_classes(request.user)
            else None,
            "contract_url": reverse("records:detail", args=["contract", record.contract_id])
            if getattr(record, "contract_id", None)
            else "",
            "admin_url": url_or_blank(
                f"admin:{kind.model_path.replace('.', '_').lower()}_change", record.pk
            )
            if request.user.is_staff
            else "",
        },
        status=status,
    )


def _contract_term(contract: Any, user: Any) -> dict[str, Any]:
    """A contract's end, cap consumed and remaining value (amounts masked as pricing), and
    its renewal notices."""
    term = contract_term(contract=contract, today=timezone.localdate())

    def shown(amount: Any) -> Any:
        text = money_text(amount, contract.currency) if amount is not None else ""
        return value_mask(text, data_class=DataClass.PRICING, user=user)

    return {
        "term": term,
        "cap": shown(term.cap),
        "billed": shown(term.billed),
        "remaining": shown(term.remaining),
        "remaining_note": value_mask(term.remaining_note, data_class=DataClass.PRICING, user=user),
        "cap_percent": value_mask(term.cap_percent, data_class=DataClass.PRICING, user=user),
        "notices": [
            (notice, reverse("exceptions:detail", args=[notice.pk]))
            for notice in contract_notices(contract=contract)[:10]
        ],
    }


def _masked_diff(diff: list[FieldDiff], *, model: Any, user: Any) -> list[dict[str, Any]]:
    """A copy's diff as the reader may see it: what their role may not see is masked on
    both sides, and whether the two differ is still said."""
    canonical = record_mask({d.name: d.canonical for d in diff}, model=model, user=user)
    theirs = record_mask({d.name: d.theirs for d in diff}, model=model, user=user)
    return [
        {"label": d.label, "canonical": canonical[d.name], "theirs": theirs[d.name], "same": d.same}
        for d in diff
    ]


@login_required
@require_GET
def record_detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record_kind = _kind(kind)
    require(request, _view_perm(record_kind), "Your role may not read these records.")
    return _page(request, record_kind, _record(record_kind, pk))


@login_required
@require_GET
def record_lookup(request: HttpRequest) -> HttpResponse:
    """Find a record by its business key, and go to its page."""
    kinds = [(k.slug, k.label) for k in RECORD_KINDS.values()]
    form = RecordLookupForm(request.GET or None, kinds=kinds)
    status = 200
    if form.is_bound and form.is_valid():
        kind = form.cleaned_data["kind"]
        require(request, _view_perm(RECORD_KINDS[kind]))
        record = record_find(kind=kind, key=form.cleaned_data["key"])
        if record is not None:
            return redirect("records:detail", kind, record.pk)
        form.add_error(
            "key",
            f"There is no {RECORD_KINDS[kind].label.lower()} "
            f"{form.cleaned_data['key']} in the tower.",
        )
        status = 404
    elif form.is_bound:
        status = 400
    return render(request, "integrations/records/lookup.html", {"form": form}, status=status)


@login_required
@require_POST
def record_repush(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record_kind = _kind(kind)
    require(request, REPUSH, "Your role may not re-push records.")
    record = _record(record_kind, pk)
    systems = record_push_targets(record_kind, record)
    form = RepushForm(request.POST, systems=systems)
    if not form.is_valid():
        return _page(request, record_kind, record, repush_form=form, status=400)
    system = next(s for s in systems if s.slug == form.cleaned_data["system"])
    try:
        tx = actions.record_repush(
            record=record, system=system, actor=request.user, reason=form.cleaned_data["reason"]
        )
    except ApplicationError as error:
        form.add_application_error(error)
        return _page(
            request, record_kind, record, repush_form=form, error=error, status=error.status_code
        )
    messages.success(
        request,
        f"Queued transaction {tx.pk} to push {tx.business_key} to {system.name} again.",
    )
    return redirect("records:detail", kind, pk)


@login_required
@require_POST
def record_link_view(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record_kind = _kind(kind)
    if kind not in LINKABLE:
        raise Http404(f"A {record_kind.label.lower()} is not linked to other systems' ids.")
    require(request, LINK, f"Your role may not link {kind}s.")
    record = _record(record_kind, pk)
    form = RecordLinkForm(request.POST, systems=_link_systems(kind), kind=kind)
    if not form.is_valid():
        return _page(request, record_kind, record, link_form=form, status=400)
    try:
        record_link(
            kind=kind,
            record_id=record.pk,
            system_slug=form.cleaned_data["system"],
            external_id=form.cleaned_data["external_id"],
            actor=request.user,
        )
    except ApplicationError as error:
        form.add_application_error(error)
        return _page(
            request, record_kind, record, link_form=form, error=error, status=error.status_code
        )
    what = LINKABLE[kind].what
    messages.success(
        request,
        f"Linked {record} to {form.cleaned_data['system']} {what} "
        f"{form.cleaned_data['external_id']}; time that waited for the link runs now.",
    )
    return redirect("records:detail", kind, pk)
